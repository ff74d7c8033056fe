"""Shell completion of option values: strategies, formats, stores, events, scenarios.

Each function is a Typer `autocompletion` callback: it gets what the user has typed so far
and returns the values that can follow, with a short description where one helps (zsh and
fish show it). Typer keeps those that start with what was typed; an empty answer lets the
shell complete file names instead.
"""

from __future__ import annotations

import typer

from hitcount.ingest.formats import available_formats
from hitcount.model.events import REMEMBERED
from hitcount.ops.demo import SCENARIOS
from hitcount.persist.stores import available_schemes
from hitcount.strategies import available_strategies, get_strategy

Choices = list[tuple[str, str] | str]

_FORMAT_HELP = {
    "ndjson": "one JSON object per line: endpoint, ts, user",
    "csv": "endpoint,ts[,user], with or without a header",
    "combined": "Apache/nginx combined access log",
    "common": "Apache/nginx common access log",
}


def strategies(incomplete: str) -> Choices:
    """Every strategy, with its summary."""
    return [(name, get_strategy(name).summary) for name in available_strategies()]


def strategy_lists(incomplete: str) -> Choices:
    """`--strategies a,b,...`: the strategies not yet in the list, after what is typed."""
    typed, _, _ = incomplete.rpartition(",")
    chosen = typed.split(",") if typed else []
    prefix = typed + "," if typed else ""
    return [
        (prefix + name, get_strategy(name).summary)
        for name in available_strategies()
        if name not in chosen
    ]


def formats(incomplete: str) -> Choices:
    """Every input format."""
    return [(name, _FORMAT_HELP.get(name, "")) for name in available_formats()]


def stores(incomplete: str) -> Choices:
    """Store URL schemes, once the typed text could start one (else: file names)."""
    if not incomplete or "/" in incomplete.partition("://")[0]:
        return []
    return [f"{scheme}://" for scheme in available_schemes()]


def strategy_params(ctx: typer.Context, incomplete: str) -> Choices:
    """`--param NAME=`: the parameters of the chosen strategy (of every one, if none is)."""
    chosen = ctx.params.get("strategy")
    names = [chosen] if chosen in available_strategies() else available_strategies()
    seen: dict[str, str] = {}
    for name in names:
        for param in get_strategy(name).params_spec:
            seen.setdefault(f"{param.name}=", param.help)
    return list(seen.items())


def event_names(incomplete: str) -> Choices:
    """The events the state remembers."""
    return list(REMEMBERED)


def scenarios(incomplete: str) -> Choices:
    """The demo's scenarios by number, each with its name."""
    return [(str(number), make.__name__.replace("_", " ")) for number, make in SCENARIOS.items()]
