"""`replay --follow` without `--append` on Redis: replace the state once, then append.

The follower's first commit replaces the saved state, under the whole-state lock for that
commit only (`RedisStore.locked`); from then on it is a writer like `--follow --append`: each
commit sends the hits since the last one as a batch (`RedisAppend`). Other writers' appends
land beside it instead of waiting for as long as it follows, and none is overwritten.
"""

from __future__ import annotations

from hitcount.engine import HitCounter
from hitcount.persist.state import commit
from hitcount.persist.stores.redis import RedisStore
from hitcount.persist.stores.redis_append import RedisAppend


class ReplacingFollower:
    """The commits of a follower that replaces the state (its `commit` is `commit_to`)."""

    def __init__(self, store: RedisStore) -> None:
        self.store = store
        self.session: RedisAppend | None = None

    @property
    def refused_hits(self) -> int:
        """Hits the counter kept that the stored state refused as late (see `RedisAppend`)."""
        return 0 if self.session is None else self.session.refused_hits

    def commit(self, counter: HitCounter) -> None:
        """The first time, replace the state with `counter`; then send what it gained."""
        if self.session is not None:
            self.session.commit_followed(counter)
            return
        with self.store.locked():  # a damaged namespace is hitcount's: replaced, as by a replay
            commit(self.store, counter)
            generation = self.store.current_generation()
            assert generation is not None  # just written, under the lock
            session = RedisAppend(self.store, generation)
        session.adopt(counter)
        self.session = session
