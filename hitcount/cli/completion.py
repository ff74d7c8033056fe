"""Shell completion of option values: strategies, formats, stores, events, scenarios.

Each function is a Typer `autocompletion` callback: it gets what the user has typed so far
and returns the values that can follow, with a short description where one helps (zsh and
fish show it). Typer keeps those that start with what was typed; an empty answer lets the
shell complete file names instead.

Typer reads these functions' annotations at each start, so they are not strings (no
`from __future__ import annotations`: each string costs a compile).
"""

from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from hitcount.strategies import Strategy

Choices = list[tuple[str, str] | str]

_FORMAT_HELP = {
    "ndjson": "one JSON object per line: endpoint, ts, user",
    "csv": "endpoint,ts[,user], with or without a header",
    "combined": "Apache/nginx combined access log",
    "common": "Apache/nginx common access log",
}


def _strategies() -> "dict[str, type[Strategy]]":
    """Every strategy by name (imported here, not at start-up)."""
    from hitcount.strategies import available_strategies, get_strategy

    return {name: get_strategy(name) for name in available_strategies()}


def strategies(incomplete: str) -> Choices:
    """Every strategy, with its summary."""
    return [(name, strategy.summary) for name, strategy in _strategies().items()]


def strategy_lists(incomplete: str) -> Choices:
    """`--strategies a,b,...`: the strategies not yet in the list, after what is typed."""
    typed, _, _ = incomplete.rpartition(",")
    chosen = typed.split(",") if typed else []
    prefix = typed + "," if typed else ""
    return [
        (prefix + name, strategy.summary)
        for name, strategy in _strategies().items()
        if name not in chosen
    ]


def formats(incomplete: str) -> Choices:
    """Every input format."""
    from hitcount.ingest.formats import available_formats  # here: start-up time

    return [(name, _FORMAT_HELP.get(name, "")) for name in available_formats()]


def stores(incomplete: str) -> Choices:
    """Store URL schemes, once the typed text could start one (else: file names)."""
    if not incomplete or "/" in incomplete.partition("://")[0]:
        return []
    from hitcount.persist.stores import available_schemes  # here: start-up time

    return [f"{scheme}://" for scheme in available_schemes()]


def strategy_params(ctx: typer.Context, incomplete: str) -> Choices:
    """`--param NAME=`: the parameters of the chosen strategy (of every one, if none is)."""
    every = _strategies()
    chosen = ctx.params.get("strategy")
    picked = [every[chosen]] if chosen in every else list(every.values())
    seen: dict[str, str] = {}
    for strategy in picked:
        for param in strategy.params_spec:
            seen.setdefault(f"{param.name}=", param.help)
    return list(seen.items())


def event_names(incomplete: str) -> Choices:
    """The events the state remembers."""
    from hitcount.model.events import REMEMBERED

    return list(REMEMBERED)


def scenarios(incomplete: str) -> Choices:
    """The demo's scenarios by number, each with its name."""
    from hitcount.ops.demo import SCENARIOS  # here: start-up time

    return [(str(number), make.__name__.replace("_", " ")) for number, make in SCENARIOS.items()]
