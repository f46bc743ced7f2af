from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ._object import FieldReader, QuandexObject
from .model_entry import ModelEntry

__all__ = ["ModelList", "OpenAIModel"]


@dataclass(frozen=True)
class OpenAIModel(QuandexObject):
    """A model in OpenAI's ``/v1/models`` shape; aliases get entries of their own."""

    id: str
    object: str
    created: int
    """Model file mtime, Unix seconds."""
    owned_by: str

    @classmethod
    def from_reader(cls, r: FieldReader) -> OpenAIModel:
        model = cls(id=r.string("id"), object=r.string("object"), created=r.integer("created"), owned_by=r.string("owned_by"))
        model._attach_raw(r.raw)
        return model


@dataclass(frozen=True)
class ModelList(QuandexObject):
    """The answer of ``GET /v1/models``."""

    models: list[ModelEntry]
    data: list[OpenAIModel]
    object: str = "list"

    def find(self, name: str) -> ModelEntry | None:
        """The model whose id or alias is ``name``, or None."""
        return next((m for m in self.models if m.answers_to(name)), None)

    @classmethod
    def from_json(cls, data: Any) -> ModelList:
        r = FieldReader(data, "ModelList")
        model_list = cls(
            models=[ModelEntry.from_reader(r.item(m, f"models[{i}]")) for i, m in enumerate(r.array("models"))],
            data=[OpenAIModel.from_reader(r.item(m, f"data[{i}]")) for i, m in enumerate(r.array("data"))],
            object=r.string("object"),
        )
        model_list._attach_raw(r.raw)
        return model_list
