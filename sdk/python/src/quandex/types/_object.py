"""Base of the typed results and the strict reader that builds them from JSON."""

from __future__ import annotations

import dataclasses
from collections.abc import KeysView
from typing import TYPE_CHECKING, Any, Union, cast

from .._exceptions import QuandexError

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

__all__ = ["FieldReader", "QuandexObject"]


class QuandexObject:
    """A typed view of one JSON object that still answers dict-style access to the raw JSON.

    ``response.usage.total_tokens`` and ``response["usage"]["total_tokens"]`` read the same
    value; the raw form also keeps fields this SDK version does not know about yet.
    """

    # Set by ``_attach_raw`` on objects parsed from a response; not a dataclass field, so it takes
    # no part in ``__init__``, ``repr`` or ``==``.
    _raw: dict[str, Any] | None = None

    def _attach_raw(self, raw: dict[str, Any]) -> None:
        object.__setattr__(self, "_raw", raw)  # subclasses are frozen dataclasses

    def to_dict(self) -> dict[str, Any]:
        """The JSON object as the server sent it (or the fields, for an object built by hand)."""
        if self._raw is not None:
            return self._raw
        return dataclasses.asdict(cast("DataclassInstance", self))  # every subclass is a dataclass

    def __getitem__(self, key: str) -> Any:
        return self.to_dict()[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.to_dict().get(key, default)

    def __contains__(self, key: object) -> bool:
        return key in self.to_dict()

    def keys(self) -> KeysView[str]:
        return self.to_dict().keys()


_Types = Union[type[Any], tuple[type[Any], ...]]


class FieldReader:
    """Reads fields of one JSON object, failing loudly on a missing field or a wrong type.

    A silently defaulted field would hide a server/SDK mismatch until much later; an error that
    names the field (``GenerateResponse.usage.total_tokens``) points straight at it.
    """

    def __init__(self, data: Any, where: str) -> None:
        if not isinstance(data, dict):
            raise QuandexError(f"Unexpected response from the server: {where} is not a JSON object")
        self.raw: dict[str, Any] = data
        self._where = where

    def string(self, key: str) -> str:
        value: str = self._get(key, str, "a string")
        return value

    def opt_string(self, key: str) -> str | None:
        value: str | None = self._get(key, str, "a string or null", optional=True)
        return value

    def integer(self, key: str) -> int:
        value: int = self._get(key, int, "an integer")
        return value

    def opt_integer(self, key: str) -> int | None:
        value: int | None = self._get(key, int, "an integer or null", optional=True)
        return value

    def number(self, key: str) -> float:
        return float(self._get(key, (int, float), "a number"))

    def opt_number(self, key: str) -> float | None:
        value = self._get(key, (int, float), "a number or null", optional=True)
        return None if value is None else float(value)

    def boolean(self, key: str) -> bool:
        value: bool = self._get(key, bool, "a boolean")
        return value

    def array(self, key: str) -> list[Any]:
        value: list[Any] = self._get(key, list, "a list")
        return value

    def obj(self, key: str) -> FieldReader:
        return FieldReader(self._get(key, dict, "an object"), f"{self._where}.{key}")

    def opt_obj(self, key: str) -> FieldReader | None:
        value = self._get(key, dict, "an object or null", optional=True)
        return None if value is None else FieldReader(value, f"{self._where}.{key}")

    def item(self, value: Any, label: str) -> FieldReader:
        """A reader for one element of a list or map read from this object."""
        return FieldReader(value, f"{self._where}.{label}")

    def _get(self, key: str, types: _Types, expected: str, optional: bool = False) -> Any:
        if key not in self.raw:
            if optional:
                return None
            raise QuandexError(f"Unexpected response from the server: {self._where}.{key} is missing")
        value = self.raw[key]
        if value is None and optional:
            return None
        # bool is a subclass of int in Python, but true is not a number in JSON.
        wrong_bool = isinstance(value, bool) and types is not bool
        if wrong_bool or not isinstance(value, types):
            raise QuandexError(f"Unexpected response from the server: {self._where}.{key} should be {expected}, got {type(value).__name__}")
        return value
