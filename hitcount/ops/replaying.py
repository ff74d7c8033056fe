"""The replay service: traffic files into a saved state, as `hitcount replay` does it.

`replay_into_store` owns the decisions the command line used to make: whether the settings
can apply to the saved state (same strategy, same distinct-users setting under `append`),
which path the hits take (the whole state rewritten under its lock, batches appended to a
store many writers share, or a followed input committed as it grows), and the note about an
install without the C scanner. What to show is the caller's: notes, bad lines, progress and
the live view arrive through `ReplayHooks`; nothing here prints.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

import msgspec

from hitcount.engine import HitCounter
from hitcount.engine.capping import checked_cap
from hitcount.errors import ConfigurationError, InputError, StateError
from hitcount.ingest.ordering import in_time_order
from hitcount.ingest.replay import FIRST_BAD_LINES, BadLineInfo, ReplayReport
from hitcount.ingest.replay import replay as replay_sources
from hitcount.ingest.resuming import plan_starts, refuse_repeats
from hitcount.ingest.sniffing import is_ndjson as is_ndjson
from hitcount.ingest.sniffing import needs_slow_scanner_note
from hitcount.model.positions import InputPosition, display_name, is_stream
from hitcount.ops.append_checks import (
    agreed_keying,
    check_lateness_kept,
    check_same_cap,
    check_same_distinct,
    check_same_lateness,
    check_same_strategy,
)
from hitcount.ops.following import (
    follow_into,
    follow_replacing_shared,
    follows_shared,
    shared_outcome,
)
from hitcount.ops.replay_types import ReplayHooks, ReplayOutcome, ReplaySettings
from hitcount.persist.state import load_counter, updating
from hitcount.persist.stores import HEADER_ONLY, SIZES_ONLY, Store
from hitcount.persist.stores.sqlite import SqliteStore
from hitcount.persist.stores.sqlite_append import appending as appending_rows
from hitcount.persist.stores.sqlite_append import appends_rows

# Start-up: an append onto a file or SQLite state loads neither the Redis store (nor,
# through it, every strategy) nor the follow loop; they load where they are used.
if TYPE_CHECKING:
    from hitcount.persist.stores.redis import RedisStore

__all__ = [
    "SLOW_SCANNER_NOTE",
    "ReplayHooks",
    "ReplayOutcome",
    "ReplaySettings",
    "is_ndjson",
    "replay_into_store",
]

#: Said once per replay when a big NDJSON file meets an install without the C scanner.
SLOW_SCANNER_NOTE = (
    "note: hitcount was installed without its C scanner (no C compiler then); big"
    " NDJSON files replay several times slower: install gcc and reinstall hitcount"
)


def replay_into_store(
    store: Store, sources: Sequence[str], settings: ReplaySettings, hooks: ReplayHooks
) -> ReplayOutcome:
    """Replay `sources` into the state in `store` (replacing it unless `settings.append`).

    Raises:
        ConfigurationError: bad settings, or settings the saved state cannot take.
        KeyboardInterrupt: a followed replay was interrupted (after its last commit).
        InputError, StateError, StoreUnavailableError: from reading, loading or saving.
    """
    _check_settings(settings, sources)
    if settings.max_endpoints is not None and store.appends_concurrently:
        raise ConfigurationError(
            "--max-endpoints does not work with a Redis store yet",
            hint="replay into a state file, or without --max-endpoints",
        )
    hooks = _first_bad_lines_only(hooks)
    if settings.commit_every_s is None:  # followed inputs are read side by side
        sources = _in_time_order(sources, settings.fmt, hooks)
    if settings.append and store.appends_concurrently:
        if not _folds_saved(store, settings):
            return _append_shared(cast("RedisStore", store), sources, settings, hooks)
        if settings.commit_every_s is not None:  # a fold rewrites the whole shared state
            raise ConfigurationError(
                "--follow --append cannot lower --distinct-precision on Redis: the fold"
                " rewrites the whole state, which a follower would then hold for as long"
                " as it runs",
                hint="fold once first (replay --append --distinct-precision N FILE), then"
                " follow without --distinct-precision",
            )
    if follows_shared(store, settings):
        return follow_replacing_shared(cast("RedisStore", store), sources, settings, hooks)
    if settings.append and _adds_rows(store, settings):
        return _append_rows(cast(SqliteStore, store), sources, settings, hooks)
    return _replay_whole(store, sources, settings, hooks)


def _in_time_order(sources: Sequence[str], fmt: str | None, hooks: ReplayHooks) -> list[str]:
    """The inputs sorted by their first hit (rotated logs come newest first), said if moved."""
    ordered = in_time_order(sources, fmt)
    if len(sources) > 1 and (streams := [s for s in sources if is_stream(s)]):
        hooks.on_note(
            f"note: {display_name(streams[0])} is read once, as a stream, and cannot be put in"
            " time order: the inputs are replayed as given"
        )
    elif ordered != list(sources):
        names = ", ".join(display_name(source) for source in ordered)
        hooks.on_note(f"note: replaying the inputs in time order (by their first hit): {names}")
    return ordered


def _check_settings(settings: ReplaySettings, sources: Sequence[str]) -> None:
    """Bad strategy options are usage errors, whatever the saved state."""
    explicit = settings.strategy is not None or settings.distinct_precision is not None
    if explicit or not settings.append:
        settings.create()
    checked_cap(settings.max_endpoints)
    refuse_repeats(sources, settings.again)
    if settings.resume and not settings.append:
        raise ConfigurationError("--resume goes with --append", hint="add --append")


def _replay_whole(
    store: Store, sources: Sequence[str], settings: ReplaySettings, hooks: ReplayHooks
) -> ReplayOutcome:
    """The whole state under the store's lock: loaded (or new), replayed into, saved once."""

    def create() -> HitCounter:  # a typo in a cron job's --state would go unnoticed
        if settings.append:
            hooks.on_note(f"no state at {store.describe()} yet: --append starts a new one")
        return settings.create()

    with updating(store, create, replace=not settings.append, on_saved=hooks.on_saved) as counter:
        if settings.append:
            _keep_saved_settings(counter, settings, hooks)
        hooks.on_counter(counter)
        if counter.lateness_note:
            hooks.on_note(counter.lateness_note)
        starts = {}
        if settings.append and settings.commit_every_s is None:
            starts = _starts(counter.inputs, sources, settings, hooks)
        if settings.commit_every_s is not None:
            followed = follow_into(counter, store, sources, settings, hooks)
            if followed.interrupted:  # Ctrl-C or SIGTERM, after the last commit
                raise KeyboardInterrupt
            metrics = counter.metrics_dict()
            return ReplayOutcome(followed.report, metrics, store.describe(), followed)
        report = _replay(counter, sources, settings, hooks, starts=starts)
    return ReplayOutcome(report, counter.metrics_dict(), store.describe())


def _first_bad_lines_only(hooks: ReplayHooks) -> ReplayHooks:
    """`hooks` whose `on_bad_line` hears of the first `FIRST_BAD_LINES` bad lines only."""
    shown = [0]
    show = hooks.on_bad_line

    def first(info: BadLineInfo) -> None:
        if shown[0] < FIRST_BAD_LINES:
            shown[0] += 1
            show(info)

    return msgspec.structs.replace(hooks, on_bad_line=first)


def _keep_saved_settings(counter: HitCounter, settings: ReplaySettings, hooks: ReplayHooks) -> None:
    """Under `append`: the saved strategy and distinct users stay; the lateness may change."""
    check_same_strategy(counter.strategy, settings.strategy, settings.params)
    check_lateness_kept(counter, settings.max_lateness_s)
    if settings.max_lateness_s is not None:
        counter.set_max_lateness(settings.max_lateness_s)
    precision = settings.distinct_precision
    check_same_distinct(counter, not settings.distinct, precision, hooks.on_note)
    counter.keying = agreed_keying(counter, settings.keying, settings.fmt)
    check_same_cap(counter, settings.max_endpoints)


def _append_shared(
    store: RedisStore, sources: Sequence[str], settings: ReplaySettings, hooks: ReplayHooks
) -> ReplayOutcome:
    """`append` onto a store many writers share: batches go in as they are read."""
    if settings.traced:
        raise ConfigurationError(
            "--trace and --trace-json do not work with --append on Redis yet",
            hint="replay without them, or into a state file",
        )
    from hitcount.persist.stores.redis_append import appending

    with appending(store, settings.create) as session:
        counter = session.counter
        check_same_strategy(session.layout.empty(), settings.strategy, settings.params)
        precision = settings.distinct_precision
        check_same_distinct(
            counter, not settings.distinct, precision, hooks.on_note, can_fold=False
        )
        agreed_keying(counter, settings.keying, settings.fmt)
        check_same_lateness(counter, settings.max_lateness_s)
        hooks.on_counter(counter)
        if counter.lateness_note:
            hooks.on_note(counter.lateness_note)
        session.on_flush = hooks.on_saved
        if settings.commit_every_s is not None:  # each commit sends the delta
            counter.inputs.update(session.saved_positions())
            followed = follow_into(
                counter, store, sources, settings, hooks, session.commit_followed,
                lambda: session.refused_hits,
            )  # fmt: skip
            return shared_outcome(store, followed)
        saved = session.saved_positions()
        counter.inputs.update(saved)  # a rotated file's position moves to its new name
        starts = _starts(saved, sources, settings, hooks)
        try:
            report = _replay(
                counter, sources, settings, hooks, on_checkpoint=session.checkpoint, starts=starts
            )
        except InputError as err:  # some batches may be in: "nothing was saved" is not so
            raise session.partly_written(err) from err
    report.hits_kept -= session.refused_hits  # late for the stored state, as the metrics say
    metrics = load_counter(store, scope=SIZES_ONLY).metrics_dict()
    return ReplayOutcome(report, metrics, store.describe())


def _folds_saved(store: Store, settings: ReplaySettings) -> bool:
    """Whether an append asks for a lower precision than the saved sketches' (then the whole
    state is loaded, folded down and saved, instead of appended to in place)."""  # noqa: D205, D209
    if settings.distinct_precision is None:
        return False
    try:
        saved = load_counter(store, scope=HEADER_ONLY).distinct
    except StateError:  # nothing saved yet, or damaged: the append says so itself
        return False
    return saved is not None and saved.precision > settings.distinct_precision


def _adds_rows(store: Store, settings: ReplaySettings) -> bool:
    """Whether an append adds rows to a SQLite state instead of rewriting it whole."""
    plain_replay = settings.commit_every_s is None and not settings.traced
    return (
        plain_replay
        and settings.max_endpoints is None
        and isinstance(store, SqliteStore)
        and appends_rows(store)
        and not _folds_saved(store, settings)  # a fold rewrites every sketch row
    )


def _append_rows(
    store: SqliteStore, sources: Sequence[str], settings: ReplaySettings, hooks: ReplayHooks
) -> ReplayOutcome:
    """`append` onto a SQLite state: the new hits' rows added in one transaction."""
    with appending_rows(store, on_saved=hooks.on_saved) as counter:
        _keep_saved_settings(counter, settings, hooks)
        hooks.on_counter(counter)
        starts = _starts(counter.inputs, sources, settings, hooks)
        report = _replay(counter, sources, settings, hooks, starts=starts)
    counter.stored_sizes = store.sizes()
    return ReplayOutcome(report, counter.metrics_dict(), store.describe())


def _starts(
    saved: Mapping[str, InputPosition],
    sources: Sequence[str],
    settings: ReplaySettings,
    hooks: ReplayHooks,
) -> dict[str, InputPosition]:
    """Where each input starts under `append` (see `plan_starts`)."""
    resume, again = settings.resume, settings.again
    return plan_starts(saved, sources, resume=resume, again=again, note=hooks.on_note)


def _replay(
    counter: HitCounter,
    sources: Sequence[str],
    settings: ReplaySettings,
    hooks: ReplayHooks,
    **extra: Any,
) -> ReplayReport:
    """Replay `sources` into `counter` with progress and bad-line hooks."""
    if needs_slow_scanner_note(sources, settings.fmt):
        hooks.on_note(SLOW_SCANNER_NOTE)
    with hooks.progress() as on_progress:
        report = replay_sources(
            counter, sources, fmt=settings.fmt, strict=settings.strict,
            on_bad_line=hooks.on_bad_line, on_progress=on_progress, stop=hooks.should_stop,
            resume=settings.resume, **extra,
        )  # fmt: skip
    for name, number in report.held:
        hooks.on_note(
            f"{name}:{number}: the last line has no newline yet (its writer may be in the"
            " middle of it): left for the next --resume"
        )
    return report
