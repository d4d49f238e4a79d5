"""The compiled parts of the package: the candidate reader's block loop (src/openusage/_hot.c) and the
Codex CLI token_count fast path (src/openusage/providers/codex_cli/_rollout.c).

Optional: where it cannot be built (no compiler, no Python headers), `pip install` still succeeds and
openusage reads with their pure-Python references (`openusage.hot`, `codex_cli/rollout.py`), more slowly.
Everything else about the package is declared in pyproject.toml.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("openusage._hot", ["src/openusage/_hot.c"], optional=True, extra_compile_args=["-O2"]),
        Extension("openusage.providers.codex_cli._rollout", ["src/openusage/providers/codex_cli/_rollout.c"],
                  optional=True, extra_compile_args=["-O2"]),
    ],
)
