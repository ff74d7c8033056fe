"""hitcount: count hits per endpoint over time windows, with swappable strategies.

Example:
    >>> from hitcount import HitCounter
    >>> counter = HitCounter("sliding", max_window_s=3600)
    >>> counter.record("/api/login", 1700000000.0)
    True
    >>> counter.query("/api/*", last_s=60).answer.count
    1
"""

from __future__ import annotations

from hitcount.alerts import AlertRule, Alerts
from hitcount.engine import HitCounter, QueryResult, default_counter
from hitcount.errors import (
    AlertStopError,
    ConfigurationError,
    ExitCode,
    HitcountError,
    InputError,
    OutputError,
    StateError,
    StoreUnavailableError,
    SwapRefusedError,
    UnknownStrategyError,
)
from hitcount.events import Event, EventBus
from hitcount.formats.base import Hit
from hitcount.replay import ReplayReport, replay
from hitcount.snapshot import from_bytes, from_document
from hitcount.state import load_counter, save_counter, updating
from hitcount.stores import FileStore, MemoryStore, Store, store_from_url
from hitcount.strategies import (
    FixedWindow,
    MorrisCounter,
    SlidingWindow,
    Strategy,
    WindowAnswer,
    available_strategies,
    create_strategy,
    get_strategy,
)

__version__ = "0.1.0"

__all__ = [
    "AlertRule",
    "AlertStopError",
    "Alerts",
    "ConfigurationError",
    "Event",
    "EventBus",
    "ExitCode",
    "FileStore",
    "FixedWindow",
    "Hit",
    "HitCounter",
    "HitcountError",
    "InputError",
    "MemoryStore",
    "MorrisCounter",
    "OutputError",
    "QueryResult",
    "ReplayReport",
    "SlidingWindow",
    "StateError",
    "Store",
    "StoreUnavailableError",
    "Strategy",
    "SwapRefusedError",
    "UnknownStrategyError",
    "WindowAnswer",
    "__version__",
    "available_strategies",
    "create_strategy",
    "default_counter",
    "from_bytes",
    "from_document",
    "get_strategy",
    "load_counter",
    "replay",
    "save_counter",
    "store_from_url",
    "updating",
]
