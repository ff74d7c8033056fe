"""Deleting a generation of a Redis state: every key it wrote, then its listing."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hitcount.persist.stores import redis_users

if TYPE_CHECKING:
    from hitcount.persist.stores.redis import RedisStore

_CHUNK = 500  # keys unlinked per round trip


def drop_generation(store: RedisStore, generation: str) -> None:
    """Unlink every key of `generation` (a damaged listing leaves its endpoints' keys)."""
    import redis.exceptions as rex  # redis-py: only with a Redis store

    client = store.client
    try:
        names = [
            n.decode(errors="replace")
            for n in client.sscan_iter(store.gen_key(generation, "endpoints"))
        ]
    except rex.ResponseError:  # damaged: not a set
        names = []
    for start in range(0, len(names), _CHUNK):
        pipe = client.pipeline(transaction=False)
        for endpoint in names[start : start + _CHUNK]:
            pipe.unlink(store.endpoint_key(generation, endpoint))
        pipe.execute()
    pipe = client.pipeline(transaction=False)
    for key in redis_users.drop_keys(store, generation):
        pipe.unlink(key)
    pipe.execute()
    for name in ("meta", "endpoints", "inputs", "events", "writers", "alerts"):
        client.unlink(store.gen_key(generation, name))
    client.srem(store.root_key("all"), generation)
