"""The compiled parts of the package: the candidate reader's block loop (src/openusage/_hot.c) and the
Kimi CLI usage line's fast path (src/openusage/providers/kimi_cli/_wire.c).

Optional: where they cannot be built (no compiler, no Python headers), `pip install` still succeeds and
openusage reads with their pure-Python twins (`openusage.hot`, `openusage.providers.kimi_cli.wire`),
more slowly. Everything else about the package is declared in pyproject.toml.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("openusage._hot", ["src/openusage/_hot.c"], optional=True, extra_compile_args=["-O2"]),
        Extension("openusage.providers.kimi_cli._wire", ["src/openusage/providers/kimi_cli/_wire.c"],
                  optional=True, extra_compile_args=["-O2"]),
    ],
)
