from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ._object import FieldReader, QuandexObject
from .metal_stats import MetalStats
from .usage import Usage

__all__ = ["Choice", "GenerateResponse"]


@dataclass(frozen=True)
class Choice(QuandexObject):
    text: str
    finish_reason: str
    """``"stop"`` (end of sequence or a stop string) or ``"length"`` (``max_tokens`` reached)."""

    @classmethod
    def from_reader(cls, r: FieldReader) -> Choice:
        choice = cls(text=r.string("text"), finish_reason=r.string("finish_reason"))
        choice._attach_raw(r.raw)
        return choice


@dataclass(frozen=True)
class GenerateResponse(QuandexObject):
    """The answer of ``POST /v1/generate``."""

    id: str
    model: str
    """The model name as requested (id or alias)."""
    choices: list[Choice]
    usage: Usage
    metal_stats: MetalStats

    @property
    def text(self) -> str:
        """The generated text of the first choice."""
        return self.choices[0].text if self.choices else ""

    @classmethod
    def from_json(cls, data: Any) -> GenerateResponse:
        r = FieldReader(data, "GenerateResponse")
        response = cls(
            id=r.string("id"),
            model=r.string("model"),
            choices=[Choice.from_reader(r.item(c, f"choices[{i}]")) for i, c in enumerate(r.array("choices"))],
            usage=Usage.from_reader(r.obj("usage")),
            metal_stats=MetalStats.from_reader(r.obj("metal_stats")),
        )
        response._attach_raw(r.raw)
        return response
