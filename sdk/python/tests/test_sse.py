"""The SSE decoder must give the same events however the bytes are split."""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from quandex._sse import ServerSentEvent, SSEDecoder


def decode(parts: Iterable[bytes]) -> list[ServerSentEvent]:
    decoder = SSEDecoder()
    events: list[ServerSentEvent] = []
    for part in parts:
        events.extend(decoder.feed(part))
    return events


def every_split(data: bytes) -> Iterable[list[bytes]]:
    """The whole input, then every way of cutting it in two, then one byte at a time."""
    yield [data]
    for i in range(1, len(data)):
        yield [data[:i], data[i:]]
    yield [data[i : i + 1] for i in range(len(data))]


STREAM = (
    ": ping\n\n"
    'data: {"text": "héllo 🌍"}\n\n'
    "event: error\n"
    'data: {"error": {"code": "internal_error"}}\n\n'
    "data: line one\n"
    "data: line two\n\n"
    "data: [DONE]\n\n"
).encode()

EXPECTED = [
    ServerSentEvent(event="message", data='{"text": "héllo 🌍"}'),
    ServerSentEvent(event="error", data='{"error": {"code": "internal_error"}}'),
    ServerSentEvent(event="message", data="line one\nline two"),
    ServerSentEvent(event="message", data="[DONE]"),
]


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"], ids=["LF", "CRLF", "CR"])
def test_same_events_for_every_split_and_line_ending(newline: str) -> None:
    data = STREAM.decode().replace("\n", newline).encode()
    for parts in every_split(data):
        assert decode(parts) == EXPECTED, f"split {[len(p) for p in parts]}"


def test_multibyte_character_split_between_chunks() -> None:
    emoji = "🌍".encode()
    assert len(emoji) == 4
    for cut in range(1, 4):
        parts = [b"data: " + emoji[:cut], emoji[cut:] + b"\n\n"]
        assert decode(parts) == [ServerSentEvent(event="message", data="🌍")]


def test_crlf_split_between_chunks_is_one_line_end() -> None:
    # A CR that ends one chunk and the LF that starts the next are one line ending, not two: two
    # would make an empty line and dispatch the event early, splitting "a" and "b".
    assert decode([b"data: a\r", b"\ndata: b\r\n\r\n"]) == [ServerSentEvent(event="message", data="a\nb")]


def test_comments_and_unknown_fields_are_ignored() -> None:
    parts = [b": ping\n\n", b":\n", b"retry: 1000\nfoo: bar\ndata: x\n\n"]
    assert decode(parts) == [ServerSentEvent(event="message", data="x")]


def test_field_value_keeps_all_but_one_leading_space() -> None:
    assert decode([b"data:no-space\n\n", b"data:  two\n\n", b"data\n\n"]) == [
        ServerSentEvent(event="message", data="no-space"),
        ServerSentEvent(event="message", data=" two"),
        ServerSentEvent(event="message", data=""),
    ]


def test_event_name_resets_after_each_event() -> None:
    events = decode([b"event: error\ndata: 1\n\ndata: 2\n\n"])
    assert [e.event for e in events] == ["error", "message"]


def test_event_without_data_is_not_dispatched() -> None:
    assert decode([b"event: error\n\n", b"id: 7\n\n"]) == []


def test_id_is_remembered_for_later_events() -> None:
    assert decode([b"id: 7\ndata: a\n\ndata: b\n\n"]) == [
        ServerSentEvent(event="message", data="a", id="7"),
        ServerSentEvent(event="message", data="b", id="7"),
    ]


def test_incomplete_event_waits_for_its_blank_line() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: partial\n") == []
    assert decoder.feed(b"\n") == [ServerSentEvent(event="message", data="partial")]


def test_several_events_in_one_chunk() -> None:
    assert len(decode([b"data: 1\n\ndata: 2\n\ndata: 3\n\n"])) == 3
