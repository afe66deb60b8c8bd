"""Builds the optional C speedup (micktrace._speedups); the project metadata is in pyproject.toml.

The extension is optional: without a C compiler the build skips it and the
pure-Python package is installed (micktrace._native then reports it unavailable).
"""

from pathlib import Path

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "micktrace._speedups",
            ["src/micktrace/_speedups_src/module.c"],
            depends=[str(p) for p in sorted(Path("src/micktrace/_speedups_src").glob("*.h"))],
            optional=True,
            extra_compile_args=["-O2"],
        )
    ]
)
