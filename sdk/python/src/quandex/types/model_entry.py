from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ._object import FieldReader, QuandexObject

__all__ = ["ModelEntry"]


@dataclass(frozen=True)
class ModelEntry(QuandexObject):
    """One model known to the server (``GET /v1/models/{id}``, and each item of ``list_models()``)."""

    id: str
    """The canonical id; ``aliases`` are other names for the same model."""
    status: str
    """``ready``, ``loading``, ``unloaded`` or ``error``."""
    metal_optimized: bool
    """True only when layers are really offloaded to a GPU."""
    memory_usage: str
    """Memory held by the loaded model and its context, human readable; ``"0B"`` when not loaded."""
    memory_bytes: int
    aliases: list[str]
    context_size: int
    """Tokens per sequence: prompt plus max_tokens must fit."""
    parallel: int
    """Sequences decoded together."""
    backend: str | None
    """``metal``, ``cuda``, ``vulkan``, ``cpu``; None when not loaded."""
    gpu_layers: int
    size_bytes: int
    error: str | None
    """Why the model is in the ``error`` state."""

    @classmethod
    def from_json(cls, data: Any, where: str = "ModelEntry") -> ModelEntry:
        return cls.from_reader(FieldReader(data, where))

    @classmethod
    def from_reader(cls, r: FieldReader) -> ModelEntry:
        entry = cls(
            id=r.string("id"),
            status=r.string("status"),
            metal_optimized=r.boolean("metal_optimized"),
            memory_usage=r.string("memory_usage"),
            memory_bytes=r.integer("memory_bytes"),
            aliases=[str(a) for a in r.array("aliases")],
            context_size=r.integer("context_size"),
            parallel=r.integer("parallel"),
            backend=r.opt_string("backend"),
            gpu_layers=r.integer("gpu_layers"),
            size_bytes=r.integer("size_bytes"),
            error=r.opt_string("error"),
        )
        entry._attach_raw(r.raw)
        return entry

    def answers_to(self, name: str) -> bool:
        """Whether ``name`` is this model's id or one of its aliases."""
        return name == self.id or name in self.aliases
