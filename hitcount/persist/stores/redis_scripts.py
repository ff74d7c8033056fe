"""The Lua scripts of the Redis store: package files, registered once per client, run by SHA.

Each script is a file in `lua/` (shipped as package data). `Scripts` registers each one
with its client the first time it is used (`register_script`: the SHA is computed once)
and then runs it with `EVALSHA`; redis-py loads a script the server does not know yet
(`SCRIPT LOAD`). A cluster pipeline cannot load scripts itself, so on a cluster each
script is loaded on every primary when it is registered.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from importlib.resources import files
from typing import Any


@cache
def lua_source(name: str) -> str:
    """The text of `lua/<name>.lua`, read once."""
    return (files("hitcount.persist.stores") / "lua" / f"{name}.lua").read_text(encoding="utf-8")


class Scripts:
    """The scripts registered with one client (a `redis.Redis` or a `RedisCluster`)."""

    def __init__(self, client: Any, *, cluster: bool) -> None:
        self._client = client
        self._cluster = cluster
        self._registered: dict[str, Any] = {}

    def _script(self, name: str) -> Any:
        script = self._registered.get(name)
        if script is None:
            script = self._client.register_script(lua_source(name))
            if self._cluster:  # a cluster pipeline leaves a missing script to the caller
                self._client.script_load(lua_source(name))
            self._registered[name] = script
        return script

    def run(self, name: str, keys: Sequence[str], args: Sequence[object], on: Any = None) -> Any:
        """Run script `name` by SHA on the client, or queue it on the pipeline `on`."""
        script = self._script(name)
        return script(keys=list(keys), args=list(args), client=self._client if on is None else on)
