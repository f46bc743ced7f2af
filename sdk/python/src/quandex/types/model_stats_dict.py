from __future__ import annotations

from typing import TypedDict

__all__ = ["ModelStatsDict"]


class ModelStatsDict(TypedDict, total=False):
    """What ``get_model_stats()`` returns: a model's ``/v1/models`` entry joined with its
    ``/v1/stats`` entry. The stats keys are absent while the server has no stats for the model.
    Other keys the server sends are kept, so treat this as a plain dict."""

    # From /v1/models
    id: str
    status: str
    metal_optimized: bool
    memory_usage: str
    memory_bytes: int
    aliases: list[str]
    context_size: int
    parallel: int
    backend: str | None
    gpu_layers: int
    size_bytes: int
    error: str | None
    # From /v1/stats models[id]
    requests_per_second: float
    average_latency: str
    average_latency_ms: float | None
    error_rate: str
    error_rate_ratio: float
    p50_latency_ms: float | None
    p95_latency_ms: float | None
    output_tokens_per_second: float
    active_sequences: int
    queue_depth: int
    requests_total: int
    errors_total: int
    completion_tokens_total: int
