"""ESP-IDF's own `idf.py flash` (needs an ESP-IDF environment: source export.sh)."""

from __future__ import annotations

from edgekit.runners.core import FlashImage, FlashRunner


class IdfPyRunner(FlashRunner):
    """Flashes ESP32 boards with ESP-IDF's idf.py (the board file's args name the action)."""

    name = "idf.py"
    capabilities = frozenset({"flash", "reset"})
    tools = ("idf.py",)

    def flash(self, image: FlashImage) -> None:
        """`idf.py -C PROJECT_DIR -B BUILD_DIR [-p PORT] ARGS` (ARGS from the board file, e.g. `flash`)."""
        project = image.build_dir.parent
        port = ["-p", self.port] if self.port else []
        self.executor.run([self.require("idf.py"), "-C", str(project), "-B", str(image.build_dir), *port, *self.args],
                          what="idf.py flash")
