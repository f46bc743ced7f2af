"""An incremental server-sent events decoder (the WHATWG event-stream format).

Feed it bytes exactly as they come off the socket: chunk boundaries may fall anywhere, inside a
line, between the CR and LF of a CRLF, or inside a multi-byte UTF-8 character.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

__all__ = ["SSEDecoder", "ServerSentEvent"]

_LINE_END = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True)
class ServerSentEvent:
    event: str
    """The ``event:`` name; ``"message"`` when the frame had none."""
    data: str
    """All ``data:`` lines of the frame joined with newlines."""
    id: str | None = None


class SSEDecoder:
    """Turns byte chunks into events. Comments (``: ping``) and ``retry:`` are dropped.

    At the end of input nothing is flushed: the spec discards an event that lacks its closing
    blank line, and the stream reader reports such a truncated stream itself.
    """

    def __init__(self) -> None:
        # An incremental decoder keeps the first bytes of a split character until the rest come.
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._partial_line = ""
        # A chunk ending in CR may be half of a CRLF; the LF that starts the next one is not a line.
        self._skip_leading_lf = False
        self._event = ""
        self._data: list[str] = []
        self._last_id: str | None = None

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        """Decodes one chunk and returns the events it completed (often none, sometimes several)."""
        return self._feed_text(self._utf8.decode(chunk))

    def _feed_text(self, text: str) -> list[ServerSentEvent]:
        if not text:
            return []
        if self._skip_leading_lf and text.startswith("\n"):
            text = text[1:]
        self._skip_leading_lf = False
        buffer = self._partial_line + text
        events: list[ServerSentEvent] = []
        start = 0
        for match in _LINE_END.finditer(buffer):
            event = self._line(buffer[start : match.start()])
            if event is not None:
                events.append(event)
            start = match.end()
        self._partial_line = buffer[start:]
        if start == len(buffer) and buffer.endswith("\r"):
            self._skip_leading_lf = True
        return events

    def _line(self, line: str) -> ServerSentEvent | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id" and "\0" not in value:
            self._last_id = value
        # "retry" and unknown fields are ignored, as the spec says.
        return None

    def _dispatch(self) -> ServerSentEvent | None:
        event, data = self._event, self._data
        self._event, self._data = "", []
        if not data:
            return None
        return ServerSentEvent(event=event or "message", data="\n".join(data), id=self._last_id)
