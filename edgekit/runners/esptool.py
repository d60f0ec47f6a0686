"""esptool, called in-process through its Python entry point, with ESP-IDF's flasher_args.json."""

from __future__ import annotations

import json
from typing import Any

from edgekit.errors import InputFileError, MissingToolError, UsageError
from edgekit.runners.core import FlashImage, FlashRunner
from edgekit.tools import tool


def _esptool_main() -> Any:
    try:
        import esptool
    except ImportError:
        raise MissingToolError("runner 'esptool' needs the esptool Python package",
                               hint=tool("esptool").install) from None
    return esptool.main


class EspToolRunner(FlashRunner):
    """Flashes ESP32 boards over the serial port with the esptool package, in process."""

    name = "esptool"
    capabilities = frozenset({"flash", "reset"})
    tools = ("esptool",)

    def check_tools(self) -> None:
        """Raise MissingToolError when the esptool package cannot be imported."""
        _esptool_main()

    def argv(self, image: FlashImage) -> list[str]:
        """esptool arguments from the board's args and the build's flasher_args.json."""
        if not self.port:
            raise UsageError("flashing an ESP32 needs the serial port", hint="pass --port /dev/ttyUSB0")
        args_file = image.require_file(image.build_dir / "flasher_args.json")
        try:
            spec = json.loads(args_file.read_text())
            files = spec["flash_files"]
            write_args = spec.get("write_flash_args", [])
            extra = spec.get("extra_esptool_args", {})
        except (ValueError, KeyError) as exc:
            raise InputFileError(f"{args_file} is not an ESP-IDF flasher_args.json ({exc})") from None
        argv = [*self.args, "--port", self.port,
                "--before", extra.get("before", "default_reset"), "--after", extra.get("after", "hard_reset"),
                "write_flash", *write_args]
        for offset, rel in sorted(files.items(), key=lambda kv: int(kv[0], 16)):
            argv += [offset, str(image.require_file(image.build_dir / rel))]
        return argv

    def flash(self, image: FlashImage) -> None:
        """In process: `esptool ARGS --port PORT --before B --after A write_flash [WRITE_ARGS] OFFSET FILE...`."""
        argv = self.argv(image)
        main = (lambda a: None) if self.executor.dry_run else _esptool_main()
        self.executor.call("esptool", argv, main, what="esptool write_flash")
