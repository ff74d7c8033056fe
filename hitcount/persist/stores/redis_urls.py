"""A Redis store's URL: the namespace it names, and the URL redis-py connects with.

The namespace comes from `--namespace`, else the URL's `?namespace=`, else
`$HITCOUNT_NAMESPACE`, else `hitcount`; a `--namespace` and a URL naming two different ones
is a usage error, and so is an empty one (an empty `$HITCOUNT_NAMESPACE` counts as unset).
The URL's other query parameters are redis-py's connection options.
"""

from __future__ import annotations

import os
import urllib.parse
from typing import Any

from hitcount.errors import ConfigurationError
from hitcount.persist.stores.redis_errors import invalid_url

#: The key prefix when nothing names one.
DEFAULT_NAMESPACE = "hitcount"


def split_url(url: str, namespace: str | None) -> tuple[str, str]:
    """`(namespace, url to connect with)` of a store URL and the `--namespace` given.

    Raises:
        ConfigurationError: two namespaces named, an empty one (an unset shell variable: it
            would be the default everyone shares), or one with braces, spaces or controls.
    """
    parts = urllib.parse.urlsplit(url)
    query = urllib.parse.parse_qs(parts.query, keep_blank_values=True)
    named = query.pop("namespace", None)
    in_url = named[0] if named else None
    query = {name: values for name, values in query.items() if any(values)}
    for given, where in ((namespace, "--namespace"), (in_url, "the store URL's ?namespace=")):
        if given is not None and not given:
            raise ConfigurationError(
                f"{where} is empty",
                hint="name a namespace, or leave it out for the default one (hitcount)",
            )
    if namespace and in_url and namespace != in_url:
        raise ConfigurationError(
            f"--namespace {namespace} and the store URL's ?namespace={in_url} name two namespaces",
            hint="give the namespace once: in the URL or with --namespace",
        )
    chosen = namespace or in_url or os.environ.get("HITCOUNT_NAMESPACE") or DEFAULT_NAMESPACE
    if not chosen.isprintable() or set("{} ").intersection(chosen):
        raise ConfigurationError(
            f"invalid Redis namespace {chosen!r}",
            hint="use letters, digits and punctuation without braces or spaces",
        )
    rest = urllib.parse.urlencode(query, doseq=True)
    return chosen, urllib.parse.urlunsplit(parts._replace(query=rest))


def connect(url: str, shown: str, timeout_s: float) -> tuple[Any, bool]:
    """A redis-py client for `url` and whether it is a cluster's (the server says so).

    Raises:
        ConfigurationError: redis-py is not installed, or a URL parameter it does not take.
    """
    try:
        import redis
        from redis.cluster import RedisCluster
    except ImportError as err:
        raise ConfigurationError(
            "the Redis store needs the redis package", hint="pip install 'hitcount[redis]'"
        ) from err
    options = {"socket_timeout": timeout_s, "socket_connect_timeout": timeout_s}
    try:
        client = redis.Redis.from_url(url, **options)
        if client.info("cluster").get("cluster_enabled"):
            client.close()
            return RedisCluster.from_url(url, **options), True
        return client, False
    except (TypeError, ValueError) as err:  # a URL parameter redis-py does not take
        raise invalid_url(shown, err) from err
