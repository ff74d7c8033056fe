"""Following inputs as they grow, for the replay service: one loop, three ways to commit.

`follow_into` runs `live.follow` with the caller's hooks (each commit counts as a save);
the commit is the store's whole save, a shared store's batch (`--follow --append` on Redis),
or, for a plain follower on a shared store, a replacement at the first commit and batches
after it (`shared_follow.ReplacingFollower`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from hitcount.engine import HitCounter
from hitcount.ops.replay_types import ReplayHooks, ReplayOutcome, ReplaySettings
from hitcount.persist.state import load_counter
from hitcount.persist.stores import SIZES_ONLY, Store

if TYPE_CHECKING:
    from hitcount.live.follow import FollowResult, FollowStatus
    from hitcount.persist.stores.redis import RedisStore


def follows_shared(store: Store, settings: ReplaySettings) -> bool:
    """Whether a `--follow` without `--append` replaces a shared store's state at its first
    commit and appends after (a traced one keeps the whole state under the lock)."""  # noqa: D205, D209
    following = settings.commit_every_s is not None and not settings.append
    return following and store.appends_concurrently and not settings.traced


def follow_replacing_shared(
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
    refused = lambda: follower.refused_hits  # noqa: E731
    followed = follow_into(counter, store, sources, settings, hooks, follower.commit, refused)
    return shared_outcome(store, followed)


def shared_outcome(store: Store, followed: FollowResult) -> ReplayOutcome:
    """A follow onto a shared store ended: its report and the stored state's metrics."""
    if followed.interrupted:  # Ctrl-C or SIGTERM, after the last commit
        raise KeyboardInterrupt
    metrics = load_counter(store, scope=SIZES_ONLY).metrics_dict()
    return ReplayOutcome(followed.report, metrics, store.describe(), followed)


def follow_into(
    counter: HitCounter,
    store: Store,
    sources: Sequence[str],
    settings: ReplaySettings,
    hooks: ReplayHooks,
    commit_to: Callable[[HitCounter], None] | None = None,
    refused_hits: Callable[[], int] | None = None,
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
            refused_hits=refused_hits,
        )  # fmt: skip
