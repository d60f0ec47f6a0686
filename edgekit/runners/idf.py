"""ESP-IDF's own `idf.py flash` (needs an ESP-IDF environment: source export.sh)."""

from __future__ import annotations

from edgekit.runners.core import FlashImage, FlashRunner


class IdfPyRunner(FlashRunner):
    name = "idf.py"
    capabilities = frozenset({"flash", "reset"})
    install_hint = "install ESP-IDF >= 5.1 and `source $IDF_PATH/export.sh`"

    def check_tools(self) -> None:
        self.require("idf.py")

    def flash(self, image: FlashImage) -> None:
        project = image.build_dir.parent
        port = ["-p", self.port] if self.port else []
        self.executor.run([self.require("idf.py"), "-C", str(project), "-B", str(image.build_dir), *port, *self.args],
                          what="idf.py flash")
