"""The one JSON form of each result type, shared by every `--json` output and follow's NDJSON.

Non-finite numbers become null here (an unknown upper bound is `"high": null`), so every form
is plain JSON. The forms:

- `answer_json` (a `WindowAnswer`): `count`, `low`, `high`, `exact`, `confidence`,
  `complete`, `all_time`, `since`. It is the union of the three forms that existed before:
  `query --json` had all of them, `plot --json` only `count/low/high/exact/complete`,
  follow's summaries only `count/low/high/exact`; every output now carries all eight.
- `query_json` (a `QueryResult`, one per row of `top --json` and `top --watch --json`):
  `endpoint`, `matched` (at most `MATCHED_SHOWN`), `matched_count`, `last`, `now`, `now_iso`,
  the answer's fields, `strategy`.
- `distinct_json`: the `distinct_*` fields `query --distinct --json` adds.
- `rate_json`: `rate`, `rate_low`, `rate_high` (hits per second; null when unknown), which
  `query --rate --json` and every `top --json` row add.
- `ranked_json`: one row of `top --json`: `query_json`, `rate_json` and, ranked by distinct
  users, `distinct_json`.
- `series_json` / `point_json` (`plot --json`): a point is `end` plus the answer's fields;
  each series has `peak_rate`, its busiest step in hits per second (null when none is known).
- `follow_status_json`: one NDJSON line of `replay --follow`; each `top` row is `endpoint`,
  the answer's fields and `steps` (NaN steps, before the retained data, become null).
- `replay_json`: a replay report.

`views` sits below `live` and beside `ingest`, so the follow status and the replay report
are imported for type checking only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from hitcount.model.metrics import plain
from hitcount.model.timeparse import iso

if TYPE_CHECKING:
    from hitcount.engine.queries import DistinctResult, QueryResult
    from hitcount.engine.ranking import Ranked
    from hitcount.ingest.replay import ReplayReport
    from hitcount.live.follow import FollowStatus
    from hitcount.model.answers import Rate, WindowAnswer
    from hitcount.views.series import Point, Series

#: `--json` lists at most this many endpoints a glob matched (`matched_count` has them all).
MATCHED_SHOWN = 100


def _finite(value: float) -> float | None:
    return _number(value) if math.isfinite(value) else None


def _number(value: float) -> float | int:
    """A count or a duration: whole numbers as integers, float noise rounded away.

    The same digits as every text output (`model.metrics.plain`): `87.99999999999994` is
    `88`, `300.0` is `300`.
    """
    if not math.isfinite(value):
        return value
    text = plain(value)
    return int(text) if text.lstrip("-").isdigit() else float(text)


def answer_json(answer: WindowAnswer) -> dict[str, Any]:
    """The fields of one window answer."""
    return {
        "count": _number(answer.count),
        "low": _number(answer.low),
        "high": _finite(answer.high),
        "exact": answer.exact,
        "confidence": answer.confidence,
        "complete": answer.complete,
        "all_time": answer.all_time,
        "since": answer.since,
    }


def query_json(result: QueryResult, strategy: str) -> dict[str, Any]:
    """A query result (`query --json`, each row of `top --json`)."""
    return {
        "endpoint": result.endpoint,
        "matched": list(result.matched[:MATCHED_SHOWN]),
        "matched_count": len(result.matched),
        "last": _number(result.last_s),
        "now": result.now,
        "now_iso": iso(result.now),
        **answer_json(result.answer),
        "strategy": strategy,
    }


def _number_or_none(rate: Rate | None) -> float | int | None:
    return None if rate is None else _number(rate.per_s)


def rate_json(rate: Rate | None) -> dict[str, Any]:
    """Hits per second and its bounds (all null when the answer covers all time)."""
    if rate is None:
        return {"rate": None, "rate_low": None, "rate_high": None}
    low, high = _number(rate.low), _finite(rate.high)
    return {"rate": _number(rate.per_s), "rate_low": low, "rate_high": high}


def ranked_json(row: Ranked, strategy: str) -> dict[str, Any]:
    """One row of `top --json`."""
    return {**query_json(row.result, strategy), **rate_json(row.rate), **distinct_json(row.users)}


def distinct_json(result: DistinctResult | None) -> dict[str, Any]:
    """The distinct-users fields of `query --json --distinct` (none without --distinct)."""
    if result is None:
        return {}
    a = result.answer
    return {
        "distinct": _number(a.estimate),
        "distinct_low": _number(a.low),
        "distinct_high": _finite(a.high),
        "distinct_confidence": a.confidence,
        "distinct_complete": a.complete,
        "distinct_buckets_partial": a.buckets_partial,
    }


def point_json(point: Point) -> dict[str, Any]:
    """One step of a series: its end and its answer."""
    return {"end": point.end, **answer_json(point.answer)}


def series_json(result: Series) -> dict[str, Any]:
    """A series (`plot --json`)."""
    return {
        "last": _number(result.last_s),
        "step": _number(result.step_s),
        "now": result.now,
        "now_iso": iso(result.now),
        "strategy": result.strategy,
        "times": list(result.times),
        "series": [
            {
                "endpoint": s.endpoint,
                "matched": list(s.matched[:MATCHED_SHOWN]),
                "matched_count": len(s.matched),
                "total": answer_json(s.total),
                "peak_rate": _number_or_none(result.peak(s)),
                "points": [point_json(point) for point in s.points],
            }
            for s in result.series
        ],
    }


def follow_status_json(status: FollowStatus) -> dict[str, Any]:
    """One NDJSON summary line of `replay --follow`."""
    return {
        "kind": "follow_status",
        "final": status.final,
        "elapsed_s": round(status.elapsed_s, 3),
        "lines_read": status.lines_read,
        "hits_kept": status.hits_kept,
        "late_hits": status.late_hits,
        "bad_lines": status.bad_lines,
        "hits_per_s": round(status.hits_per_s, 1),
        "commits": status.commits,
        "last_commit_s": round(status.last_commit_s, 4),
        "clock": status.clock,
        "clock_iso": iso(status.clock),
        "strategy": status.strategy,
        "memory_entries": status.memory_entries,
        "memory_bytes": status.memory_bytes,
        "window_s": status.window_s,
        "top": [
            {
                "endpoint": row.result.endpoint,
                **answer_json(row.result.answer),
                "steps": [None if math.isnan(v) else round(v, 3) for v in row.steps],
            }
            for row in status.top
        ],
        "inputs": [position.to_dict() for position in status.inputs],
    }


def replay_json(report: ReplayReport, metrics: Mapping[str, Any], saved_to: str) -> dict[str, Any]:
    """A replay report (`replay --json`)."""
    return {
        "lines_read": report.lines_read,
        "hits_kept": report.hits_kept,
        "late_hits": report.late_hits,
        "bad_lines": report.bad_lines,
        "first_bad_lines": [
            {"source": b.source, "line": b.line, "reason": b.reason} for b in report.first_bad
        ],
        "formats": report.formats,
        "elapsed_s": round(report.elapsed_s, 6),
        "state": saved_to,
        "metrics": dict(metrics),
    }
