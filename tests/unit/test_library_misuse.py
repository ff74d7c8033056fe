"""Library misuse raises the documented errors, naming the parameter, never a bare TypeError.

Each case is a call a script could make by mistake; the expected error class and the
parameter it names are the contract (docs/errors.md: library users catch HitcountError).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hitcount import (
    Alerts,
    ConfigurationError,
    FileStore,
    HitCounter,
    from_bytes,
    load_counter,
    replay,
    restore_snapshot,
    save_counter,
    store_from_url,
    take_snapshot,
    updating,
)

T0 = 1_700_000_000.0


def counter() -> HitCounter:
    made = HitCounter("sliding", max_window_s=3600)
    made.record("/a", T0, "u1")
    return made


CASES: dict[str, tuple[Callable[[], Any], str]] = {
    "query endpoint None": (lambda: counter().query(None, 60), "endpoint"),
    "query endpoint int": (lambda: counter().query(5, 60), "endpoint"),
    "query endpoint bytes": (lambda: counter().query(b"/a", 60), "endpoint"),
    "query now text": (lambda: counter().query("/a", 60, now="x"), "now"),
    "query now bool": (lambda: counter().query("/a", 60, now=True), "now"),
    "query now nan": (lambda: counter().query("/a", 60, now=math.nan), "now"),
    "query last bool": (lambda: counter().query("/a", True), "last_s"),
    "distinct confidence 2": (
        lambda: counter().query_distinct("/a", 60, confidence=2),
        "confidence",
    ),
    "distinct confidence -0.5": (
        lambda: counter().query_distinct("/a", 60, confidence=-0.5),
        "confidence",
    ),
    "distinct confidence nan": (
        lambda: counter().query_distinct("/a", 60, confidence=math.nan),
        "confidence",
    ),
    "distinct confidence text": (
        lambda: counter().query_distinct("/a", 60, confidence="x"),
        "confidence",
    ),
    "lateness text": (lambda: HitCounter("fixed", max_lateness_s="60"), "max_lateness_s"),
    "lateness negative": (lambda: HitCounter("fixed", max_lateness_s=-1), "max_lateness_s"),
    "lateness huge int": (lambda: HitCounter("fixed", max_lateness_s=10**400), "max_lateness_s"),
    "replay None": (lambda: replay(counter(), None), "sources"),
    "replay int": (lambda: replay(counter(), 123), "sources"),
    "replay [None]": (lambda: replay(counter(), [None]), "sources"),
    "add_alert None": (lambda: counter().add_alert(None), ""),
    "load_counter None": (lambda: load_counter(None), "store"),
    "updating None": (lambda: updating(None).__enter__(), "store"),
    "save_counter None": (lambda: save_counter(None, counter()), "store"),
    "save_counter of None": (lambda: save_counter(store_from_url("memory://"), None), "counter"),
    "store_from_url int": (lambda: store_from_url(5), "url"),
    "from_bytes None": (lambda: from_bytes(None, "here"), "data"),
    "subscribe None": (lambda: counter().subscribe("pruned", None), "handler"),
    "subscribe text": (lambda: counter().subscribe("pruned", "print"), "handler"),
    "take_snapshot None": (lambda: take_snapshot(None), "counter"),
    "restore_snapshot None": (lambda: restore_snapshot(None, take_snapshot(counter())), "counter"),
    "namespace int": (lambda: store_from_url("memory://", namespace=5), "namespace"),
    "replay into None": (lambda: replay(None, ["x.ndjson"]), "counter"),
    "replay into text": (lambda: replay("state.db", ["x.ndjson"]), "counter"),
    "Alerts of None": (lambda: Alerts(None, lambda *_: None), "rules"),
    "Alerts emitting to None": (lambda: Alerts([], None), "emit"),
    "Alerts of a number": (lambda: Alerts([5], lambda *_: None), "rule"),
    "Alerts at a text clock": (lambda: Alerts([], lambda *_: None, clock="x"), "clock"),
    "Alerts at an infinite clock": (lambda: Alerts([], lambda *_: None, clock=math.inf), "clock"),
    "FileStore of None": (lambda: FileStore(None), "path"),
    "updating with a counter": (
        lambda: updating(store_from_url("memory://"), counter()).__enter__(),
        "create",
    ),
    "updating creating None": (
        lambda: updating(store_from_url("memory://"), lambda: None).__enter__(),
        "create",
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_misuse_is_a_configuration_error_naming_the_parameter(name: str) -> None:
    call, param = CASES[name]
    with pytest.raises(ConfigurationError) as caught:
        call()
    if param:
        assert caught.value.param == param
        assert caught.value.message.startswith(param)


def test_a_good_confidence_and_now_still_answer() -> None:
    answer = counter().query_distinct("/a", 60, confidence=0.5).answer
    assert answer.low <= 1 <= answer.high
    assert counter().query("/a", 60, now=T0).answer.count == 1
    assert counter().query("/a", 60, now=int(T0)).answer.count == 1


def test_a_path_like_store_url_names_the_store(tmp_path: Path) -> None:
    store = store_from_url(tmp_path / "state.db")
    with updating(store, counter):
        pass
    assert load_counter(store).query("/a", 3600).answer.count == 1


def test_an_integer_user_is_kept_as_text_by_record_many_as_by_record() -> None:
    """`record_many` with an integer user raised a bare TypeError from the C extension and
    recorded none of the batch (QA I2); `record` and NDJSON keep it as text."""  # noqa: D205, D209
    hits = [("/b", T0, "u1"), ("/b", T0 + 1, 7), ("/b", T0 + 2, "7"), ("/b", T0 + 3, "")]
    one_by_one, at_once = (
        HitCounter("sliding", max_window_s=60),
        HitCounter("sliding", max_window_s=60),
    )
    for hit in hits:
        one_by_one.record(*hit)
    assert at_once.record_many(hits) == 4
    answers = [c.query_distinct("/b", 60).answer for c in (one_by_one, at_once)]
    assert answers[0] == answers[1]
    assert answers[1].low <= 2 <= answers[1].high  # u1 and 7 ("7" is the same user)
