"""Flows: client logic written once, without I/O, and the two loops that run it.

A flow is a generator that yields the I/O it needs (``Send`` a request, ``ReadBody`` of an error
answer, ``Sleep``) and receives each result back from its ``yield``: the response for ``Send``,
nothing for the others. When a step fails in transport, the ``httpx.TransportError`` is raised at
that ``yield`` (``generator.throw``), so the flow handles it with a plain ``try``. ``run_flow``
performs the steps with an ``httpx.Client`` and a blocking sleep, ``arun_flow`` with an
``httpx.AsyncClient`` and an awaitable sleep, and that is all the sync and async clients do
differently. httpx runs its ``Auth.auth_flow`` generators from both of its clients the same way.

To use flows safely:

- A flow does I/O only by yielding steps. A blocking call of its own would stall the async
  client's event loop, and a coroutine it made would never be awaited by the sync client.
- Compose flows with ``yield from``. A flow runs once and, like any generator, in one thread.
- The loops close the flow however they end (a result, an error, a cancelled task), so its
  ``finally`` blocks run at that moment rather than at garbage collection; they must not yield.
"""

from __future__ import annotations

from collections.abc import Awaitable, Generator
from contextlib import closing
from dataclasses import dataclass
from typing import Any, Callable, TypeVar, Union

import httpx

__all__ = ["Flow", "ReadBody", "Send", "Sleep", "Step", "arun_flow", "run_flow"]

T = TypeVar("T")


@dataclass(frozen=True)
class Send:
    """Sends ``request``. The reply is its ``httpx.Response``; with ``stream`` the body is not read yet."""

    request: httpx.Request
    stream: bool = False


@dataclass(frozen=True)
class ReadBody:
    """Reads the body of ``response`` (an error answer, kept for its message), then closes it."""

    response: httpx.Response


@dataclass(frozen=True)
class Sleep:
    """Waits before the next step, e.g. between two attempts."""

    seconds: float


Step = Union[Send, ReadBody, Sleep]
Flow = Generator[Step, Any, T]
"""Yields steps, receives their results, returns a ``T``."""


def run_flow(flow: Flow[T], http: httpx.Client, sleep: Callable[[float], object]) -> T:
    """Runs ``flow`` to its result with blocking I/O."""
    with closing(flow):
        reply: Any = None
        failure: httpx.TransportError | None = None
        while True:
            try:
                step = flow.send(reply) if failure is None else flow.throw(failure)
            except StopIteration as finished:
                result: T = finished.value
                return result
            reply, failure = None, None
            try:
                if isinstance(step, Send):
                    reply = http.send(step.request, stream=step.stream)
                elif isinstance(step, ReadBody):
                    try:
                        step.response.read()
                    finally:
                        step.response.close()
                else:
                    sleep(step.seconds)
            except httpx.TransportError as exc:
                failure = exc


async def arun_flow(flow: Flow[T], http: httpx.AsyncClient, sleep: Callable[[float], Awaitable[object]]) -> T:
    """Runs ``flow`` to its result on the event loop; the twin of ``run_flow``."""
    with closing(flow):
        reply: Any = None
        failure: httpx.TransportError | None = None
        while True:
            try:
                step = flow.send(reply) if failure is None else flow.throw(failure)
            except StopIteration as finished:
                result: T = finished.value
                return result
            reply, failure = None, None
            try:
                if isinstance(step, Send):
                    reply = await http.send(step.request, stream=step.stream)
                elif isinstance(step, ReadBody):
                    try:
                        await step.response.aread()
                    finally:
                        await step.response.aclose()
                else:
                    await sleep(step.seconds)
            except httpx.TransportError as exc:
                failure = exc
