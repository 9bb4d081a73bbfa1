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


class MarkerFilter:
    """Strips the first line of stderr (``RFXPID:<pid>``) and remembers the pid in it."""

    PREFIX = b"RFXPID:"

    def __init__(self, sink: CappedBuffer) -> None:
        self._sink = sink
        self._head = bytearray()
        self.pid: int | None = None
        self._done = False
        self.cap = sink.cap

    @property
    def truncated(self) -> bool:
        return self._sink.truncated

    def write(self, data: bytes) -> None:
        if self._done:
            self._sink.write(data)
            return
        self._head += data
        line, newline, rest = bytes(self._head).partition(b"\n")
        if not newline:
            return
        self._done = True
        if line.startswith(self.PREFIX) and line[len(self.PREFIX) :].isdigit():
            self.pid = int(line[len(self.PREFIX) :])
        else:
            rest = bytes(self._head)
        if rest:
            self._sink.write(rest)

    def getvalue(self) -> bytes:
        return self._sink.getvalue()
