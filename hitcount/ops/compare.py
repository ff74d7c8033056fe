"""One input through every strategy: answers, error against the exact count, memory, speed."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from hitcount.engine import HitCounter
from hitcount.errors import ConfigurationError, InputError
from hitcount.ingest.progress import ProgressHandler, ReplayProgress
from hitcount.ingest.replay import replay
from hitcount.model.answers import WindowAnswer
from hitcount.model.hits import MAX_TS
from hitcount.model.positions import display_name, is_stream
from hitcount.model.windows import WindowSpec
from hitcount.strategies import available_strategies, create_strategy, get_strategy

#: Lateness allowance of the exact reference: large enough that it never prunes or drops.
_REFERENCE_LATENESS_S = MAX_TS


@dataclass(frozen=True, slots=True)
class StrategyRun:
    """One strategy's replay of the input and its answers."""

    strategy: str
    answers: dict[str, WindowAnswer]
    memory_entries: int
    state_bytes: int
    replay_s: float
    #: Hits the strategy refused as too late (the exact counts took them): in no answer's
    #: count, in the upper bound of each whose window may hold them.
    late_hits: int = 0

    def error(self, endpoint: str, exact: int) -> float:
        """Relative error of the estimate for `endpoint` (0 when both are 0)."""
        answer = self.answers[endpoint]
        return abs(answer.count - exact) / exact if exact else float(answer.count != 0)

    def bounds_hold(self, endpoint: str, exact: int) -> bool:
        """Whether `low <= exact <= high` for `endpoint`."""
        answer = self.answers[endpoint]
        return answer.low - 1e-9 <= exact <= answer.high + 1e-9

    @property
    def all_time(self) -> bool:
        """Whether this strategy answers over all time (then it is judged against totals)."""
        return any(answer.all_time for answer in self.answers.values())


@dataclass
class Comparison:
    """The exact counts of the busiest endpoints and every strategy's run."""

    last_s: float
    now: float | None
    exact: dict[str, int] = field(default_factory=dict)
    totals: dict[str, int] = field(default_factory=dict)
    runs: list[StrategyRun] = field(default_factory=list)

    def truth(self, run: StrategyRun) -> dict[str, int]:
        """What `run` is judged against: window counts, or all-time totals."""
        return self.totals if run.all_time else self.exact


def compare(
    sources: Sequence[str],
    last_s: float,
    *,
    strategies: Sequence[str] | None = None,
    params: Mapping[str, object] | None = None,
    limit: int = 5,
    fmt: str | None = None,
    on_progress: ProgressHandler | None = None,
    window: WindowSpec | None = None,
) -> Comparison:
    """Replay `sources` through each strategy and answer `--last last_s` for the top endpoints.

    Args:
        sources: input files (not stdin or a pipe: each strategy reads them again).
        last_s: window length; windows are `now - N < ts <= now`, now = the latest hit.
        strategies: names to compare (default: every registered strategy).
        params: strategy parameters, each applied to the strategies that take it; a
            strategy with a `max_window_s` gets at least `last_s` unless given one.
        limit: how many of the busiest endpoints (by exact count) to compare.
        fmt: input format (default: from the name, else sniffed).
        on_progress: told how far the whole comparison has got: one replay of the input
            for the exact counts and one per strategy, each a share of the total bytes.
        window: `--since`/`--until`/`--now` (and `--last`), placed on the latest hit; a
            window ending before it makes `max_window_s` reach back to the window's start.

    Raises:
        ConfigurationError: stdin or a pipe among `sources`, a parameter no compared
            strategy takes.
        UnknownStrategyError, ConfigurationError, InputError: as `replay` and the registry.
    """
    if streams := [source for source in sources if is_stream(source)]:
        raise ConfigurationError(
            f"compare reads its input once per strategy; {display_name(streams[0])} can be read"
            " only once (stdin or a pipe)",
            hint="save it to a file first, then compare the file",
        )
    names = list(strategies or available_strategies())
    _refuse_unknown_params(names, params or {})
    window = window or WindowSpec(last_s=last_s)
    keep = last_s if window == WindowSpec(last_s=last_s) else MAX_TS  # a range: keep all
    reference = HitCounter(
        "sliding", max_window_s=keep, max_lateness_s=_REFERENCE_LATENESS_S, distinct=False
    )
    stages = _Stages(on_progress, 1 + len(names))
    stages.replay(reference, sources, fmt, "exact counts")
    placed = window.resolve(reference.clock)
    last_s, end = placed.last_s, placed.end if placed.end is not None else reference.clock
    back = last_s if end is None or reference.clock is None else reference.clock - end + last_s
    chosen = {name: _params_for(name, params or {}, back) for name in names}
    top = reference.top(last_s, end, limit=limit)
    comparison = Comparison(last_s, end)
    comparison.exact = {result.endpoint: int(result.answer.count) for result in top}
    every_total = reference.strategy.totals()  # what was replayed, whatever the window
    comparison.totals = {endpoint: every_total[endpoint] for endpoint in comparison.exact}
    for name in names:
        counter = HitCounter(create_strategy(name, **chosen[name]), distinct=False)
        started = time.perf_counter()
        stages.replay(counter, sources, fmt, name)
        elapsed = time.perf_counter() - started
        answers = {ep: counter.query(ep, last_s, end).answer for ep in comparison.exact}
        metrics = counter.metrics_dict()
        comparison.runs.append(
            StrategyRun(
                counter.strategy.describe(),
                answers,
                metrics["memory_entries"],
                metrics["state_bytes"],
                elapsed,
                counter.metrics.late_hits,
            )
        )
    return comparison


class _Stages:
    """The replays of one comparison, reported to `on_progress` as one run."""

    def __init__(self, on_progress: ProgressHandler | None, count: int) -> None:
        self.on_progress, self.count = on_progress, count
        self.done, self.lines = 0, 0

    def replay(
        self, counter: HitCounter, sources: Sequence[str], fmt: str | None, stage: str
    ) -> None:
        """Replay `sources` into `counter` as the next stage."""
        label = f"{stage}, {self.done + 1} of {self.count}"
        try:
            report = replay(counter, sources, fmt=fmt, on_progress=lambda p: self._tell(p, label))
        except InputError as err:  # compare saves nothing: the hint is the rest of replay's
            hint = (err.hint or "").removeprefix("nothing was saved; ") or None
            raise InputError(err.source, err.reason, line=err.line, hint=hint) from err
        self.done += 1
        self.lines += report.lines_read

    def _tell(self, progress: ReplayProgress, stage: str) -> None:
        if self.on_progress is None:
            return
        size = progress.total_bytes
        total = None if size is None else size * self.count
        done = (size or 0) * self.done + progress.done_bytes
        self.on_progress(ReplayProgress(self.lines + progress.lines, done, total, stage))


def _refuse_unknown_params(names: Sequence[str], given: Mapping[str, object]) -> None:
    """A parameter none of the compared strategies takes is a typo or a mix-up, as in replay.

    Raises:
        ConfigurationError: naming it and the parameters they do take.
    """
    taken = {param.name for name in names for param in get_strategy(name).params_spec}
    if unknown := sorted(set(given) - taken):
        raise ConfigurationError(
            f"no compared strategy ({', '.join(names)}) has a parameter {unknown[0]!r}",
            hint=f"their parameters: {', '.join(sorted(taken)) or 'none'}",
            param=unknown[0],
        )


def _params_for(name: str, given: Mapping[str, object], last_s: float) -> dict[str, object]:
    spec = {param.name: param for param in get_strategy(name).params_spec}
    chosen = {key: value for key, value in given.items() if key in spec}
    if "max_window_s" in spec and "max_window_s" not in chosen:
        chosen["max_window_s"] = max(float(spec["max_window_s"].default), last_s)
    return chosen


def worst_error(run: StrategyRun, truth: Mapping[str, int]) -> float | None:
    """The largest relative error over the compared endpoints whose answers are complete
    (0 for none compared; None: every answer reaches before the data the strategy keeps,
    a lower bound, not an estimate)."""  # noqa: D205, D209
    complete = [(ep, n) for ep, n in truth.items() if run.answers[ep].complete]
    if truth and not complete:
        return None
    return max((run.error(ep, n) for ep, n in complete), default=0.0)


def incomplete(run: StrategyRun, truth: Mapping[str, int]) -> int:
    """How many of the compared answers reach before the data the strategy keeps."""
    return sum(not run.answers[ep].complete for ep in truth)
