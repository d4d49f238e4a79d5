"""genai-prices imported in a forked child while a one-shot command reads (pricefetch.py).

A cold or first run without a price table that fits (pricetable.py; here turned off) prices its calls
with genai-prices; the command forks a child that imports it while the files are read, and asks it
over a pipe. The figures are the same as priced in-process; the
command itself never imports genai-prices then; a child that died is answered for in-process; no
process is left behind. Each case runs in a real subprocess (forking from the test process would copy
the whole test run).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kimi_home import NOW, KimiHome, priced_home

SCRIPT = """
import json, os, signal, sys
from openusage import cli, commands, pricefetch
commands.ONE_SHOT[0] = True
if sys.argv[1] == "kill-child":
    pricefetch.start()
    os.kill(pricefetch._CHILD[0].pid, signal.SIGKILL)
    os.waitpid(pricefetch._CHILD[0].pid, 0)
try:
    cli.cli.main(["snapshot", "--json", *sys.argv[2:]], standalone_mode=False)
except SystemExit:
    pass
child = pricefetch._CHILD[0].pid if pricefetch._CHILD else None
pricefetch.stop()
gone = child is None
if child is not None:
    try:
        os.kill(child, 0)
    except ProcessLookupError:
        gone = True
print(json.dumps({"imported": "genai_prices" in sys.modules, "started": child is not None, "gone": gone}))
"""


@pytest.fixture
def home(isolated_env: Path) -> KimiHome:
    return priced_home(isolated_env / ".kimi")


def _run(mode: str, *args: str) -> tuple[dict[str, object], dict[str, object]]:
    # No price table: the child is the way genai-prices answers when the table does not fit (pricetable.py).
    env = {**os.environ, "OPENUSAGE_NOW": NOW, "OPENUSAGE_PRICE_TABLE": "0"}
    done = subprocess.run([sys.executable, "-c", SCRIPT, mode, *args], env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    document, _, probe = done.stdout.rpartition("\n{")
    return json.loads(document), json.loads("{" + probe)


def _in_process() -> dict[str, object]:
    from kimi_home import invoke
    from openusage import commands

    assert commands.ONE_SHOT == [False]  # in this process: no child, genai-prices priced here
    result = invoke(["snapshot", "--json", "--no-cache"], {"OPENUSAGE_NOW": NOW})
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def _comparable(document: dict[str, object]) -> dict[str, object]:
    return {key: value for key, value in document.items() if key != "generated_at"}


def test_a_cold_run_prices_through_the_child_and_never_imports_genai_prices(home: KimiHome) -> None:
    document, probe = _run("normal", "--no-cache")
    assert probe == {"imported": False, "started": True, "gone": True}
    assert _comparable(document) == _comparable(_in_process())
    metrics = document["snapshots"][0]["metrics"]  # type: ignore[index]
    assert metrics["cost_usd"]["used"] > 0  # the model is priced


def test_a_first_run_starts_the_child_and_a_warm_one_does_not(home: KimiHome) -> None:
    _first, probe = _run("normal")
    assert probe["started"] is True
    _warm, probe = _run("normal")
    assert probe == {"imported": False, "started": False, "gone": True}  # priced from the cache


def test_a_child_that_died_is_answered_for_in_this_process(home: KimiHome) -> None:
    document, probe = _run("kill-child", "--no-cache")
    assert probe["imported"] is True  # asked itself, after the child failed
    assert _comparable(document) == _comparable(_in_process())
