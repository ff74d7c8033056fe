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

from typing import TYPE_CHECKING

from hitcount._version import __version__
from hitcount.model.lazy import lazy_names

if TYPE_CHECKING:
    from hitcount.engine import (
        HitCounter,
        QueryResult,
        default_counter,
    )
    from hitcount.engine.alerts import (
        AlertRule,
        Alerts,
    )
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
    from hitcount.ingest.replay import (
        ReplayReport,
        replay,
    )
    from hitcount.model.events import (
        Event,
        EventBus,
    )
    from hitcount.model.hits import (
        Hit,
    )
    from hitcount.persist.document import (
        from_bytes,
        from_document,
        restore_snapshot,
        take_snapshot,
    )
    from hitcount.persist.state import (
        load_counter,
        save_counter,
        updating,
    )
    from hitcount.persist.stores import (
        FileStore,
        MemoryStore,
        Store,
        store_from_url,
    )
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

#: Where each public name lives; a module is imported on first use, so the command line
#: starts without loading the whole library.
_HOMES: dict[str, str] = {
    "HitCounter": "hitcount.engine",
    "QueryResult": "hitcount.engine",
    "default_counter": "hitcount.engine",
    "AlertRule": "hitcount.engine.alerts",
    "Alerts": "hitcount.engine.alerts",
    "AlertStopError": "hitcount.errors",
    "ConfigurationError": "hitcount.errors",
    "ExitCode": "hitcount.errors",
    "HitcountError": "hitcount.errors",
    "InputError": "hitcount.errors",
    "OutputError": "hitcount.errors",
    "StateError": "hitcount.errors",
    "StoreUnavailableError": "hitcount.errors",
    "SwapRefusedError": "hitcount.errors",
    "UnknownStrategyError": "hitcount.errors",
    "ReplayReport": "hitcount.ingest.replay",
    "replay": "hitcount.ingest.replay",
    "Event": "hitcount.model.events",
    "EventBus": "hitcount.model.events",
    "Hit": "hitcount.model.hits",
    "from_bytes": "hitcount.persist.document",
    "from_document": "hitcount.persist.document",
    "restore_snapshot": "hitcount.persist.document",
    "take_snapshot": "hitcount.persist.document",
    "load_counter": "hitcount.persist.state",
    "save_counter": "hitcount.persist.state",
    "updating": "hitcount.persist.state",
    "FileStore": "hitcount.persist.stores",
    "MemoryStore": "hitcount.persist.stores",
    "Store": "hitcount.persist.stores",
    "store_from_url": "hitcount.persist.stores",
    "FixedWindow": "hitcount.strategies",
    "MorrisCounter": "hitcount.strategies",
    "SlidingWindow": "hitcount.strategies",
    "Strategy": "hitcount.strategies",
    "WindowAnswer": "hitcount.strategies",
    "available_strategies": "hitcount.strategies",
    "create_strategy": "hitcount.strategies",
    "get_strategy": "hitcount.strategies",
}


__getattr__ = lazy_names("hitcount", _HOMES)


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
    "restore_snapshot",
    "save_counter",
    "store_from_url",
    "take_snapshot",
    "updating",
]
