"""Docker's multiplexed exec stream: 8-byte frame headers (stream id, size) before each chunk."""

from __future__ import annotations

import struct

from remotefix.transports.base import CappedBuffer

_HEADER = struct.Struct(">BxxxL")
STDOUT, STDERR = 1, 2


class FrameDemuxer:
    """Feed raw bytes in any chunking; complete frames go to the stdout / stderr sinks."""

    def __init__(self, stdout: CappedBuffer, stderr: CappedBuffer) -> None:
        self._sinks = {STDOUT: stdout, STDERR: stderr}
        self._pending = bytearray()

    def feed(self, data: bytes) -> None:
        self._pending += data
        while len(self._pending) >= _HEADER.size:
            stream, size = _HEADER.unpack_from(self._pending)
            end = _HEADER.size + size
            if len(self._pending) < end:
                return
            sink = self._sinks.get(stream)
            if sink is not None:
                sink.write(bytes(self._pending[_HEADER.size : end]))
            del self._pending[:end]
