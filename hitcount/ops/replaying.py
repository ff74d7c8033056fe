"""The replay service: traffic files into a saved state, as `hitcount replay` does it.

`replay_into_store` owns the decisions the command line used to make: whether the settings
can apply to the saved state (same strategy, same distinct-users setting under `append`),
which path the hits take (the whole state rewritten under its lock, batches appended to a
store many writers share, or a followed input committed as it grows), and the note about an
install without the C scanner. What to show is the caller's: notes, bad lines, progress and
the live view arrive through `ReplayHooks`; nothing here prints.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Any, cast

import msgspec

from hitcount.engine import DEFAULT_MAX_LATENESS_S, HitCounter
from hitcount.engine.capping import ENDPOINTS_WARNING, checked_cap
from hitcount.errors import ConfigurationError, InputError, StateError
from hitcount.ingest.ordering import in_time_order
from hitcount.ingest.progress import ProgressHandler
from hitcount.ingest.replay import FIRST_BAD_LINES, BadLineInfo, ReplayReport
from hitcount.ingest.replay import replay as replay_sources
from hitcount.ingest.resuming import plan_starts, refuse_repeats
from hitcount.ingest.sniffing import is_ndjson as is_ndjson
from hitcount.ingest.sniffing import needs_slow_scanner_note
from hitcount.model.keys import Keying
from hitcount.model.positions import InputPosition, display_name, is_stream
from hitcount.ops.append_checks import (
    check_same_cap,
    check_same_distinct,
    check_same_keying,
    check_same_lateness,
    check_same_strategy,
)
from hitcount.persist.state import load_counter, updating
from hitcount.persist.stores import HEADER_ONLY, SIZES_ONLY, Store
from hitcount.persist.stores.sqlite import SqliteStore
from hitcount.persist.stores.sqlite_append import appending as appending_rows
from hitcount.persist.stores.sqlite_append import appends_rows
from hitcount.sketches.hll import DEFAULT_PRECISION

# Start-up: an append onto a file or SQLite state loads neither the Redis store (nor,
# through it, every strategy) nor the follow loop; they load where they are used.
if TYPE_CHECKING:
    from hitcount.live.follow import FollowResult, FollowStatus, FollowView
    from hitcount.persist.stores.redis import RedisStore

#: Said once per replay when a big NDJSON file meets an install without the C scanner.
SLOW_SCANNER_NOTE = (
    "note: hitcount was installed without its C scanner (no C compiler then); big"
    " NDJSON files replay several times slower: install gcc and reinstall hitcount"
)


class ReplaySettings(msgspec.Struct, frozen=True):
    """What to replay and how (the options of `hitcount replay`).

    Attributes:
        strategy: the strategy's name (None: `fixed`, or the saved one under `append`).
        params: the strategy's parameters given.
        max_lateness_s: seconds a hit may arrive late and still count (None: the default,
            or the saved value under `append`).
        append: add to the saved state instead of replacing it.
        strict: stop at the first bad line and save nothing.
        distinct: keep distinct-users sketches.
        distinct_precision: their HyperLogLog precision (None: the default, or the saved one).
        resume: with `append`, skip the lines of each file already in the state.
        again: count files the state already holds (or named twice) again.
        fmt: the input format (None: from each file name, else sniffed).
        commit_every_s: follow the inputs as they grow, committing this often (None: no).
        traced: every event is observed (refused on a shared store's append).
        keying: `--key`/`--where` (None: the default, or the saved one under `append`).
        max_endpoints: at most this many endpoints by name, the rest counted under
            `(other endpoints)` (None: no cap, or the saved one under `append`).
    """

    strategy: str | None = None
    params: Mapping[str, object] = msgspec.field(default_factory=dict)
    max_lateness_s: float | None = None
    append: bool = False
    strict: bool = False
    distinct: bool = True
    distinct_precision: int | None = None
    resume: bool = False
    again: bool = False
    fmt: str | None = None
    commit_every_s: float | None = None
    traced: bool = False
    keying: Keying | None = None
    max_endpoints: int | None = None

    def create(self) -> HitCounter:
        """A new, empty counter with these settings.

        Raises:
            ConfigurationError: a bad strategy, parameter, lateness or precision.
        """
        lateness = DEFAULT_MAX_LATENESS_S if self.max_lateness_s is None else self.max_lateness_s
        precision = (
            DEFAULT_PRECISION if self.distinct_precision is None else self.distinct_precision
        )
        counter = HitCounter(
            self.strategy or "fixed",
            max_lateness_s=lateness,
            distinct=self.distinct,
            distinct_precision=precision,
            **self.params,
        )
        counter.keying = self.keying or Keying()
        counter.max_endpoints = checked_cap(self.max_endpoints)
        return counter


def _ignore(_: object) -> None:
    """A hook that does nothing."""


@contextmanager
def _no_progress() -> Iterator[ProgressHandler]:
    yield _ignore


class ReplayHooks(msgspec.Struct):
    """How the caller observes a replay; each hook is optional.

    Attributes:
        on_note: an informational line (the slow-scanner note, resume offsets, follow notes).
        on_bad_line: each of the first `FIRST_BAD_LINES` bad lines, as it is met.
        on_saved: the state has been saved (from then on, an interrupt leaves it saved).
        on_counter: the counter, before its first hit: subscribe observers (traces, alerts).
        should_stop: polled between batches; True ends the replay early (the state is saved).
        progress: a context giving a callback for how far the replay has got.
        follow_view: a context giving the live view, for `ReplaySettings.commit_every_s`.
    """

    on_note: Callable[[str], None] = _ignore
    on_bad_line: Callable[[BadLineInfo], None] = _ignore
    on_saved: Callable[[], None] = lambda: None
    on_counter: Callable[[HitCounter], None] = _ignore
    should_stop: Callable[[], bool] = lambda: False
    progress: Callable[[], AbstractContextManager[ProgressHandler]] = _no_progress
    follow_view: Callable[[], AbstractContextManager[FollowView]] | None = None


class ReplayOutcome(msgspec.Struct, frozen=True):
    """What a replay did: its report, the state's metrics after it, where it was saved."""

    report: ReplayReport
    metrics: dict[str, Any]
    saved_to: str
    followed: FollowResult | None = None

    def warnings(self) -> list[str]:
        """What the caller should warn about: a state grown past `ENDPOINTS_WARNING` endpoints
        with no cap (memory and the time of every `*` query grow with them)."""  # noqa: D205, D209
        count = self.metrics.get("endpoints_count") or 0
        if count <= ENDPOINTS_WARNING or self.metrics.get("max_endpoints") is not None:
            return []
        return [
            f"the state holds {count:,} endpoints (more than {ENDPOINTS_WARNING:,}): it takes"
            " memory and slows every query of many endpoints; cap it with --max-endpoints N"
            " (the rest counted under (other endpoints))"
        ]


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
    if _follows_shared(store, settings):
        return _follow_replacing_shared(cast("RedisStore", store), sources, settings, hooks)
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
    with updating(
        store, settings.create, replace=not settings.append, on_saved=hooks.on_saved
    ) as counter:
        if settings.append:
            _keep_saved_settings(counter, settings, hooks)
        hooks.on_counter(counter)
        if counter.lateness_note:
            hooks.on_note(counter.lateness_note)
        starts = {}
        if settings.append and settings.commit_every_s is None:
            starts = _starts(counter.inputs, sources, settings, hooks)
        if settings.commit_every_s is not None:
            followed = _follow(counter, store, sources, settings, hooks)
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
    if settings.max_lateness_s is not None:
        counter.set_max_lateness(settings.max_lateness_s)
    precision = settings.distinct_precision
    check_same_distinct(counter, not settings.distinct, precision, hooks.on_note)
    check_same_keying(counter, settings.keying)
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
        check_same_keying(counter, settings.keying)
        check_same_lateness(counter, settings.max_lateness_s)
        hooks.on_counter(counter)
        if counter.lateness_note:
            hooks.on_note(counter.lateness_note)
        session.on_flush = hooks.on_saved
        if settings.commit_every_s is not None:  # each commit sends the delta
            counter.inputs.update(session.saved_positions())
            commit_to = session.commit_followed
            followed = _follow(counter, store, sources, settings, hooks, commit_to=commit_to)
            return _shared_outcome(store, followed, session.refused_hits)
        starts = _starts(session.saved_positions(), sources, settings, hooks)
        try:
            report = _replay(
                counter, sources, settings, hooks, on_checkpoint=session.checkpoint, starts=starts
            )
        except InputError as err:  # some batches may be in: "nothing was saved" is not so
            raise session.partly_written(err) from err
    report.hits_kept -= session.refused_hits  # late for the stored state, as the metrics say
    metrics = load_counter(store, scope=SIZES_ONLY).metrics_dict()
    return ReplayOutcome(report, metrics, store.describe())


def _follows_shared(store: Store, settings: ReplaySettings) -> bool:
    """Whether a `--follow` without `--append` replaces a shared store's state at its first
    commit and appends after (a traced one keeps the whole state under the lock)."""  # noqa: D205, D209
    following = settings.commit_every_s is not None and not settings.append
    return following and store.appends_concurrently and not settings.traced


def _follow_replacing_shared(
    store: RedisStore, sources: Sequence[str], settings: ReplaySettings, hooks: ReplayHooks
) -> ReplayOutcome:
    """`--follow` onto a store many writers share: its first commit replaces the state,
    the later ones go in as batches beside the other writers'."""  # noqa: D205, D209
    from hitcount.ops.shared_follow import ReplacingFollower

    follower = ReplacingFollower(store)
    counter = settings.create()
    hooks.on_counter(counter)
    if counter.lateness_note:
        hooks.on_note(counter.lateness_note)
    followed = _follow(counter, store, sources, settings, hooks, commit_to=follower.commit)
    return _shared_outcome(store, followed, follower.refused_hits)


def _shared_outcome(store: Store, followed: FollowResult, refused_hits: int) -> ReplayOutcome:
    """A follow onto a shared store ended: its report and the stored state's metrics."""
    followed.report.hits_kept -= refused_hits  # late for the stored state, as the metrics say
    if followed.interrupted:  # Ctrl-C or SIGTERM, after the last commit
        raise KeyboardInterrupt
    metrics = load_counter(store, scope=SIZES_ONLY).metrics_dict()
    return ReplayOutcome(followed.report, metrics, store.describe(), followed)


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
        return replay_sources(
            counter, sources, fmt=settings.fmt, strict=settings.strict,
            on_bad_line=hooks.on_bad_line, on_progress=on_progress, stop=hooks.should_stop,
            **extra,
        )  # fmt: skip


def _follow(
    counter: HitCounter,
    store: Store,
    sources: Sequence[str],
    settings: ReplaySettings,
    hooks: ReplayHooks,
    commit_to: Callable[[HitCounter], None] | None = None,
) -> FollowResult:
    """Follow `sources` into `counter`; every commit counts as a save."""
    from hitcount.live.follow import follow

    if hooks.follow_view is None or settings.commit_every_s is None:
        raise ValueError("following needs ReplayHooks.follow_view and commit_every_s")
    with hooks.follow_view() as view:
        show = view.on_commit

        def committed(status: FollowStatus) -> None:
            hooks.on_saved()  # from now on, an interrupt says the state was saved
            if show is not None:
                show(status)

        view.on_commit = committed
        return follow(
            counter, sources, store, fmt=settings.fmt, strict=settings.strict,
            commit_every_s=settings.commit_every_s, on_bad_line=hooks.on_bad_line, view=view,
            replacing=not settings.append, commit_to=commit_to, should_stop=hooks.should_stop,
        )  # fmt: skip
