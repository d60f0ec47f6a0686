"""Hardware-in-the-loop harness: the serial protocol (docs/protocol.md), the link and
the session that drive a board (or the virtual board) from the host."""

from edgekit.hil.link import Link, open_link
from edgekit.hil.protocol import DeviceInfo, Hello, Sample
from edgekit.hil.session import Session
from edgekit.hil.streaming import Stream, StreamStats

__all__ = ["DeviceInfo", "Hello", "Link", "Sample", "Session", "Stream", "StreamStats", "open_link"]
