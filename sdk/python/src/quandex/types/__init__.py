"""Typed results. Each also answers dict-style access to the raw JSON (``result["key"]``)."""

from .generate_chunk import ChunkChoice, GenerateChunk
from .generate_response import Choice, GenerateResponse
from .metal_stats import MetalStats
from .model_entry import ModelEntry
from .model_list import ModelList, OpenAIModel
from .model_stats_dict import ModelStatsDict
from .stats_response import EngineInfo, MetalDevice, ModelStats, ServerInfo, StatsResponse
from .usage import Usage

__all__ = [
    "Choice",
    "ChunkChoice",
    "EngineInfo",
    "GenerateChunk",
    "GenerateResponse",
    "MetalDevice",
    "MetalStats",
    "ModelEntry",
    "ModelList",
    "ModelStats",
    "ModelStatsDict",
    "OpenAIModel",
    "ServerInfo",
    "StatsResponse",
    "Usage",
]
