"""Build the optional C extensions; all other metadata is in pyproject.toml.

`hitcount.ingest._scan` reads blocks of NDJSON, access-log and CSV lines, and
`hitcount.sketches._reduce` reduces distinct users to HyperLogLog registers. Without a C
compiler the build skips them and hitcount uses its numpy code instead.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "hitcount.ingest._scan",
            sources=["hitcount/ingest/_scan.c"],
            depends=[
                "hitcount/ingest/_scan_text.h",
                "hitcount/ingest/_scan_fields.h",
                "hitcount/sketches/_blake2b.h",
            ],
            extra_compile_args=["-O2"],
            optional=True,
        ),
        Extension(
            "hitcount.sketches._reduce",
            sources=["hitcount/sketches/_reduce.c"],
            depends=["hitcount/sketches/_blake2b.h"],
            extra_compile_args=["-O2"],
            optional=True,
        ),
    ]
)
