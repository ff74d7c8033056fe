"""Build the optional C scanner (`hitcount._scan`); all other metadata is in pyproject.toml.

Without a C compiler the build skips it and hitcount uses its numpy scanner instead.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "hitcount._scan",
            sources=["hitcount/_scan.c"],
            extra_compile_args=["-O2"],
            optional=True,
        )
    ]
)
