from __future__ import annotations

from dataclasses import dataclass

from ._object import FieldReader, QuandexObject

__all__ = ["MetalStats"]


@dataclass(frozen=True)
class MetalStats(QuandexObject):
    """How one generation ran. The name is historical: ``backend`` says what really ran it."""

    backend: str | None
    """``metal``, ``cuda``, ``vulkan`` or ``cpu``; ``None`` for a model an upstream pool serves."""
    mps_allocated: str | None
    """Accelerator memory allocated for the model, human readable; ``"0B"`` on CPU; ``None`` upstream."""
    mps_allocated_bytes: int | None
    batch_size: int
    """Largest number of sequences decoded together while this request ran."""
    processing_time: str
    """Wall time, human readable, e.g. ``"120ms"``."""
    processing_time_ms: float
    queue_time_ms: float
    """Time spent waiting for a free sequence."""
    tokens_per_second: float
    gpu_layers: int | None
    """``None`` for a model an upstream pool serves."""

    @classmethod
    def from_reader(cls, r: FieldReader) -> MetalStats:
        stats = cls(
            backend=r.opt_string("backend"),
            mps_allocated=r.opt_string("mps_allocated"),
            mps_allocated_bytes=r.opt_integer("mps_allocated_bytes"),
            batch_size=r.integer("batch_size"),
            processing_time=r.string("processing_time"),
            processing_time_ms=r.number("processing_time_ms"),
            queue_time_ms=r.number("queue_time_ms"),
            tokens_per_second=r.number("tokens_per_second"),
            gpu_layers=r.opt_integer("gpu_layers"),
        )
        stats._attach_raw(r.raw)
        return stats
