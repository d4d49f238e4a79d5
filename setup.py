"""What pyproject.toml cannot declare: the compiled parts of the package and the price table.

- The compiled parts: the candidate reader's block loop (src/openusage/_hot.c), the warm check's stats
  (src/openusage/_manifest.c), the Kimi CLI usage
  line's fast path (src/openusage/providers/kimi_cli/_wire.c), the Codex CLI token_count fast path
  (src/openusage/providers/codex_cli/_rollout.c) and the Kimi Code journal line's fast path
  (src/openusage/providers/kimi_code/_journal.c); the two Kimi ones share the JSON scanning of
  src/openusage/_jsonscan.h.
  Optional: where they cannot be built (no compiler, no Python headers), `pip install` still succeeds
  and openusage reads with their pure-Python references (`openusage.hot`, `openusage.manifest`, `kimi_cli/wire.py`,
  `codex_cli/rollout.py`, `kimi_code/journal.py`), more slowly.
- The price table (`openusage/_prices.bin`, pricetable.py): made from the genai-prices of the build
  environment (`build-system.requires`) before the package's files are copied. Optional too: where it
  cannot be made, the build says why and goes on, and openusage imports genai-prices to price calls.

Everything else about the package is declared in pyproject.toml.
"""

import subprocess
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_py import build_py

SOURCE = Path(__file__).resolve().parent / "src"


class build_py_with_price_table(build_py):  # noqa: N801  (setuptools' command naming)
    """build_py that first writes the price table beside the package's modules (so that both a wheel
    and an editable install have it)."""

    def run(self) -> None:
        self.price_table()
        super().run()

    def price_table(self) -> None:
        target = SOURCE / "openusage" / "_prices.bin"
        # A child process: our source tree is imported as it is, and any failure stays a warning. The
        # path is put first by the child itself: pip's build environment drops a PYTHONPATH entry that
        # an installed editable openusage also names.
        code = ("import sys; sys.path.insert(0, sys.argv[1]); from openusage import pricetable; "
                "raise SystemExit(pricetable.main(['build', sys.argv[2]]))")
        try:
            done = subprocess.run([sys.executable, "-c", code, str(SOURCE), str(target)], capture_output=True,
                                  text=True, timeout=600, check=False)
        except (OSError, subprocess.SubprocessError) as error:
            self.warn(f"no price table (openusage will import genai-prices to price calls): {error}")
            return
        if done.returncode != 0:
            why = (done.stderr.strip().splitlines() or ["unknown"])[-1]
            self.warn(f"no price table (openusage will import genai-prices to price calls): {why}")


setup(
    cmdclass={"build_py": build_py_with_price_table},
    ext_modules=[
        Extension("openusage._hot", ["src/openusage/_hot.c"], optional=True, extra_compile_args=["-O2"]),
        Extension("openusage._manifest", ["src/openusage/_manifest.c"], optional=True, extra_compile_args=["-O2"]),
        Extension("openusage.providers.kimi_cli._wire", ["src/openusage/providers/kimi_cli/_wire.c"],
                  depends=["src/openusage/_jsonscan.h"], optional=True, extra_compile_args=["-O2"]),
        Extension("openusage.providers.codex_cli._rollout", ["src/openusage/providers/codex_cli/_rollout.c"],
                  optional=True, extra_compile_args=["-O2"]),
        Extension("openusage.providers.kimi_code._journal", ["src/openusage/providers/kimi_code/_journal.c"],
                  depends=["src/openusage/_jsonscan.h"], optional=True, extra_compile_args=["-O2"]),
    ],
)
