"""edgekit: from a Keras model to a validated STM32 or ESP32 board."""

__version__ = "0.1.0"
