from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ._object import FieldReader, QuandexObject

__all__ = ["EngineInfo", "MetalDevice", "ModelStats", "ServerInfo", "StatsResponse"]


@dataclass(frozen=True)
class MetalDevice(QuandexObject):
    """The accelerator (or the CPU, without one). The name is historical, as in ``metal_stats``."""

    name: str
    backend: str
    memory_allocated: str
    memory_allocated_bytes: int
    memory_available: str
    memory_available_bytes: int
    temperature: str | None
    """E.g. ``"45C"``; None when the sensors are unreadable."""
    temperature_celsius: float | None

    @classmethod
    def from_reader(cls, r: FieldReader) -> MetalDevice:
        device = cls(
            name=r.string("name"),
            backend=r.string("backend"),
            memory_allocated=r.string("memory_allocated"),
            memory_allocated_bytes=r.integer("memory_allocated_bytes"),
            memory_available=r.string("memory_available"),
            memory_available_bytes=r.integer("memory_available_bytes"),
            temperature=r.opt_string("temperature"),
            temperature_celsius=r.opt_number("temperature_celsius"),
        )
        device._attach_raw(r.raw)
        return device


@dataclass(frozen=True)
class EngineInfo(QuandexObject):
    name: str
    version: str
    build: str
    """``prebuilt`` or ``local``."""
    llama_cpp_release: str | None
    threads: int

    @classmethod
    def from_reader(cls, r: FieldReader) -> EngineInfo:
        engine = cls(
            name=r.string("name"),
            version=r.string("version"),
            build=r.string("build"),
            llama_cpp_release=r.opt_string("llama_cpp_release"),
            threads=r.integer("threads"),
        )
        engine._attach_raw(r.raw)
        return engine


@dataclass(frozen=True)
class ServerInfo(QuandexObject):
    uptime_seconds: float
    queue_depth: int
    max_queue: int
    active_sequences: int
    rss_bytes: int

    @classmethod
    def from_reader(cls, r: FieldReader) -> ServerInfo:
        server = cls(
            uptime_seconds=r.number("uptime_seconds"),
            queue_depth=r.integer("queue_depth"),
            max_queue=r.integer("max_queue"),
            active_sequences=r.integer("active_sequences"),
            rss_bytes=r.integer("rss_bytes"),
        )
        server._attach_raw(r.raw)
        return server


@dataclass(frozen=True)
class ModelStats(QuandexObject):
    """Traffic of one model; rates and averages cover the last 60 s."""

    requests_per_second: float
    average_latency: str
    """Human readable, e.g. ``"100ms"``."""
    average_latency_ms: float | None
    error_rate: str
    """E.g. ``"0.01%"``."""
    error_rate_ratio: float
    p50_latency_ms: float | None
    p95_latency_ms: float | None
    output_tokens_per_second: float
    active_sequences: int
    queue_depth: int
    requests_total: int
    errors_total: int
    completion_tokens_total: int

    @classmethod
    def from_reader(cls, r: FieldReader) -> ModelStats:
        stats = cls(
            requests_per_second=r.number("requests_per_second"),
            average_latency=r.string("average_latency"),
            average_latency_ms=r.opt_number("average_latency_ms"),
            error_rate=r.string("error_rate"),
            error_rate_ratio=r.number("error_rate_ratio"),
            p50_latency_ms=r.opt_number("p50_latency_ms"),
            p95_latency_ms=r.opt_number("p95_latency_ms"),
            output_tokens_per_second=r.number("output_tokens_per_second"),
            active_sequences=r.integer("active_sequences"),
            queue_depth=r.integer("queue_depth"),
            requests_total=r.integer("requests_total"),
            errors_total=r.integer("errors_total"),
            completion_tokens_total=r.integer("completion_tokens_total"),
        )
        stats._attach_raw(r.raw)
        return stats


@dataclass(frozen=True)
class StatsResponse(QuandexObject):
    """The answer of ``GET /v1/stats``. ``models`` is keyed by canonical model id."""

    metal_device: MetalDevice
    engine: EngineInfo
    server: ServerInfo
    models: dict[str, ModelStats]

    @classmethod
    def from_json(cls, data: Any) -> StatsResponse:
        r = FieldReader(data, "StatsResponse")
        models = r.obj("models")
        stats = cls(
            metal_device=MetalDevice.from_reader(r.obj("metal_device")),
            engine=EngineInfo.from_reader(r.obj("engine")),
            server=ServerInfo.from_reader(r.obj("server")),
            models={name: ModelStats.from_reader(models.item(m, name)) for name, m in models.raw.items()},
        )
        stats._attach_raw(r.raw)
        return stats
