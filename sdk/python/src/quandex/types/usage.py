from __future__ import annotations

from dataclasses import dataclass

from ._object import FieldReader, QuandexObject

__all__ = ["Usage"]


@dataclass(frozen=True)
class Usage(QuandexObject):
    prompt_tokens: int
    """Tokens evaluated for the prompt, BOS included."""
    completion_tokens: int
    """Tokens sampled, the end-of-generation token excluded."""
    total_tokens: int

    @classmethod
    def from_reader(cls, r: FieldReader) -> Usage:
        usage = cls(
            prompt_tokens=r.integer("prompt_tokens"),
            completion_tokens=r.integer("completion_tokens"),
            total_tokens=r.integer("total_tokens"),
        )
        usage._attach_raw(r.raw)
        return usage
