"""A strategy's whole state split per endpoint and put back together.

`ehist` and `auto` keep no native rows: SQLite and Redis hold, per endpoint, the strategy's
own state restricted to that endpoint (`restrict`), and a load puts the parts back together
(`combine`). Plain JSON values only, so either store reads this without the other's code.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def restrict(state: Any, endpoint: str, names: set[str]) -> Any:
    """`state` keeping only `endpoint`: maps keyed by endpoint names, and lists of names."""
    if isinstance(state, dict):
        if state and all(key in names for key in state):
            return {endpoint: state[endpoint]} if endpoint in state else {}
        return {key: restrict(value, endpoint, names) for key, value in state.items()}
    if isinstance(state, list) and state and all(isinstance(item, str) for item in state):
        return [endpoint] if endpoint in state else []
    return state


def combine(states: Sequence[Any]) -> Any:
    """Restricted states of different endpoints put back together (the later time wins)."""
    if not states:
        return {}
    first = states[0]
    if isinstance(first, dict):  # one pass: each part holds its own endpoint's keys
        grouped: dict[Any, list[Any]] = {}
        for state in states:
            for key, value in state.items():
                grouped.setdefault(key, []).append(value)
        return {key: combine(values) for key, values in grouped.items()}
    if isinstance(first, list) and all(isinstance(s, list) for s in states):
        if any(item for s in states for item in s if not isinstance(item, str)):
            return first  # one endpoint's own list (e.g. its buckets): never shared
        return sorted({item for s in states for item in s})
    numbers = [s for s in states if isinstance(s, (int, float)) and not isinstance(s, bool)]
    return max(numbers) if numbers and len(numbers) == len(states) else first
