"""The compiled part of the package: the candidate reader's block loop (src/openusage/_hot.c).

Optional: where it cannot be built (no compiler, no Python headers), `pip install` still succeeds and
openusage reads with the pure-Python twin of the loop (`openusage.hot`), more slowly.
Everything else about the package is declared in pyproject.toml.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("openusage._hot", ["src/openusage/_hot.c"], optional=True, extra_compile_args=["-O2"]),
    ],
)
