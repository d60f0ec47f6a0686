"""Models: training, quantization, evaluation and reading .tflite files."""
