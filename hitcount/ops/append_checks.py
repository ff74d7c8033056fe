"""What an `--append` keeps of the saved state: its strategy, keys, cap and distinct users.

Each check raises `ConfigurationError` (with a hint) for a setting the append cannot change;
the distinct users' precision is the exception: two precisions fold to the lower.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import msgspec

from hitcount.engine import HitCounter
from hitcount.errors import ConfigurationError
from hitcount.ingest.formats import LOG_FORMAT_PREFIX
from hitcount.model.keys import Keying
from hitcount.model.metrics import plain
from hitcount.strategies import get_strategy
from hitcount.strategies.base import Strategy


def check_same_strategy(current: Strategy, name: str | None, params: Mapping[str, object]) -> None:
    """Under `append`: the strategy asked for (if any) must be the saved one (`current`),
    same parameters.

    Raises:
        ConfigurationError: a different strategy or different parameters.
    """  # noqa: D205
    wanted = get_strategy(name or current.name)
    resolved = wanted.resolve_params(
        {**current.params, **params} if wanted.name == current.name else params
    )
    if wanted.name != current.name or resolved != current.params:
        raise ConfigurationError(
            f"the saved state uses {current.describe()}; --append cannot change the strategy",
            hint="use `hitcount swap` to change it, or replay without --append to start over",
        )


def check_same_lateness(counter: HitCounter, max_lateness_s: float | None) -> None:
    """Under `append` onto a shared store (Redis): the lateness allowance asked for (if any)
    must be the saved one; writers at once cannot each change it.

    Raises:
        ConfigurationError: a different one.
    """  # noqa: D205
    if max_lateness_s is None or max_lateness_s == counter.max_lateness_s:
        return
    raise ConfigurationError(
        f"the saved state allows lines {plain(counter.max_lateness_s)} s late; an --append to"
        f" Redis cannot change --max-lateness (asked {plain(max_lateness_s)} s)",
        hint="give the saved allowance or none; a replay without --append sets a new one",
    )


def agreed_keying(counter: HitCounter, keying: Keying | None, fmt: str | None) -> Keying:
    """Under `append`: the keys and filters to count with, which must be the saved ones (if
    any are asked), read with the saved `--log-format` layout (`fmt`; None: the saved one).
    Keys saved with no layout (by the built-in parsers, or before layouts were kept) take
    the one given, which the state then keeps.

    Raises:
        ConfigurationError: other keys or filters, or another way of reading their fields:
            the state would mix two kinds of endpoint.
    """  # noqa: D205
    saved = counter.keying
    kept = normal_layout(saved.layout)
    custom = fmt is not None and fmt.startswith(LOG_FORMAT_PREFIX)
    given = normal_layout(fmt.removeprefix(LOG_FORMAT_PREFIX)) if fmt and custom else None
    layout = kept if fmt is None else given
    if keying is not None and not keying.counts_like(saved):
        raise ConfigurationError(
            f"the saved state counts {saved.describe()}; --append cannot change it to"
            f" {msgspec.structs.replace(keying, layout=layout).describe()} (the endpoints"
            " would mix)",
            hint="append without --key/--where/--field/--decode-paths (the saved ones apply), or"
            " replay without --append",
        )
    if saved.default or kept is None:
        return saved if saved.default else msgspec.structs.replace(saved, layout=layout)
    if layout != kept:
        read = f"--log-format {given!r}" if given is not None else f"--format {fmt}"
        raise ConfigurationError(
            f"the saved state counts {saved.describe()}; --append cannot read its lines with"
            f" {read} (a field such as host would mean another thing)",
            hint="append without --format/--log-format (the saved way of reading applies), or"
            " replay without --append",
        )
    return saved


def normal_layout(layout: str | None) -> str | None:
    """A `--log-format` layout in the one form it is kept and compared in (nginx's)."""
    if layout is None:
        return None
    from hitcount.ingest.formats.log_format import canonical_layout  # layouts only: start-up

    return canonical_layout(layout)


def check_same_cap(counter: HitCounter, cap: int | None) -> None:
    """Under `append`: `--max-endpoints`, if given, must be the saved state's cap.

    Raises:
        ConfigurationError: another cap, or a cap for a state saved without one.
    """
    if cap is None or cap == counter.max_endpoints:
        return
    saved = (
        "no cap" if counter.max_endpoints is None else f"--max-endpoints {counter.max_endpoints}"
    )
    raise ConfigurationError(
        f"the saved state was made with {saved}; --append cannot change it to {cap}",
        hint="append without --max-endpoints (the saved cap applies), or replay without"
        " --append to start over",
    )


def check_lateness_kept(counter: HitCounter, max_lateness_s: float | None) -> None:
    """Under `append`: a state whose strategy refused hits as too late inside its retention
    (`ehist`, `auto`) keeps its allowance from growing: each refused hit lies before the
    clock less the allowance of then, and an answer whose window starts after that (less
    the new allowance) would be called exact though it may hold one.

    Raises:
        ConfigurationError: a longer `--max-lateness` for such a state.
    """  # noqa: D205
    late, allowed = counter.metrics.late_hits, counter.max_lateness_s
    if max_lateness_s is None or max_lateness_s <= allowed or not late:
        return
    if not counter.strategy.refuses_inside_retention:
        return
    raise ConfigurationError(
        f"the saved {counter.strategy.name} state refused {late:,} hit{'s' if late != 1 else ''}"
        f" as more than {plain(allowed)} s late; --append cannot raise --max-lateness to"
        f" {plain(max_lateness_s)} s (answers would call windows exact that may hold them)",
        hint=f"append with --max-lateness {plain(allowed)} or less, or replay without --append"
        " to start with the longer allowance",
    )


def check_same_distinct(
    counter: HitCounter,
    off: bool,
    precision: int | None,
    note: Callable[[str], None],
    *,
    can_fold: bool = True,
) -> None:
    """Under `append`: the saved sketches stay; another precision means the lower of the
    two (the saved sketches folded down to it, exactly, when it is the one asked for).

    Raises:
        ConfigurationError: turning the sketches off, or a lower precision where the saved
            sketches cannot be folded (`can_fold` False: a store many writers share).
    """  # noqa: D205
    tracker = counter.distinct
    if off and tracker is not None:
        raise ConfigurationError(
            "the saved state keeps distinct-user sketches; --append --no-distinct would drop them",
            hint="append without --no-distinct, or replay without --append to start over",
        )
    if tracker is None or precision is None or precision == tracker.precision:
        return
    saved = tracker.precision
    if precision > saved:
        note(
            f"note: the saved state keeps distinct users at precision {saved}; the new users"
            f" are counted at {saved} too (sketches of two precisions fold to the lower)"
        )
        return
    if not can_fold:
        raise ConfigurationError(
            f"the saved state keeps distinct users at precision {saved}; an --append to a"
            f" shared store cannot fold its sketches down to {precision}",
            hint="append without --distinct-precision, or replay without --append to start"
            " over at the new precision",
        )
    tracker.fold_to(precision)
    note(
        f"note: the saved distinct users at precision {saved} were folded down to"
        f" {precision} (exactly the registers of counting them at {precision})"
    )
