from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ._object import FieldReader, QuandexObject
from .metal_stats import MetalStats
from .usage import Usage

__all__ = ["ChunkChoice", "GenerateChunk"]


@dataclass(frozen=True)
class ChunkChoice(QuandexObject):
    text: str
    finish_reason: str | None
    """None until the last chunk, then ``"stop"`` or ``"length"``."""

    @classmethod
    def from_reader(cls, r: FieldReader) -> ChunkChoice:
        choice = cls(text=r.string("text"), finish_reason=r.opt_string("finish_reason"))
        choice._attach_raw(r.raw)
        return choice


@dataclass(frozen=True)
class GenerateChunk(QuandexObject):
    """One event of a streamed generation. Only the last one carries usage and metal_stats."""

    id: str
    model: str
    choices: list[ChunkChoice]
    usage: Usage | None = None
    metal_stats: MetalStats | None = None

    @property
    def text(self) -> str:
        """The text this chunk adds (may be empty, typically on the last chunk)."""
        return self.choices[0].text if self.choices else ""

    @property
    def finish_reason(self) -> str | None:
        return self.choices[0].finish_reason if self.choices else None

    @classmethod
    def from_json(cls, data: Any) -> GenerateChunk:
        r = FieldReader(data, "GenerateChunk")
        usage = r.opt_obj("usage")
        metal_stats = r.opt_obj("metal_stats")
        chunk = cls(
            id=r.string("id"),
            model=r.string("model"),
            choices=[ChunkChoice.from_reader(r.item(c, f"choices[{i}]")) for i, c in enumerate(r.array("choices"))],
            usage=None if usage is None else Usage.from_reader(usage),
            metal_stats=None if metal_stats is None else MetalStats.from_reader(metal_stats),
        )
        chunk._attach_raw(r.raw)
        return chunk
