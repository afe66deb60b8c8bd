"""Builds the optional C speedup (micktrace._speedups); the project metadata is in pyproject.toml.

The extension is optional: without a C compiler the build skips it and the
pure-Python package is installed (micktrace._native then reports it unavailable).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "micktrace._speedups",
            ["src/micktrace/_speedups.c"],
            optional=True,
            extra_compile_args=["-O2"],
        )
    ]
)
