"""msgspec is imported without typing_extensions (`openusage._msgspec`), and nothing else is affected:
the helper on real packages written to disk, and the reading modules in a fresh interpreter."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from openusage._msgspec import import_without


@pytest.fixture
def packages(tmp_path: Path) -> Iterator[Path]:
    """A directory on sys.path for the test's own packages; everything they loaded goes afterwards."""
    before = set(sys.modules)
    sys.path.insert(0, str(tmp_path))
    yield tmp_path
    sys.path.remove(str(tmp_path))
    for name in set(sys.modules) - before:
        del sys.modules[name]


def _package(root: Path, name: str, init: str, **modules: str) -> None:
    (root / name).mkdir()
    (root / name / "__init__.py").write_text(init, encoding="utf-8")
    for module, text in modules.items():
        (root / name / f"{module}.py").write_text(text, encoding="utf-8")


OPTIONAL = "try:\n    import ou_extra as helper\nexcept ImportError:\n    helper = None\n"


def test_a_module_that_can_do_without_it_is_imported_without_it(packages: Path) -> None:
    _package(packages, "ou_lib", "from ou_lib.part import helper\n", part=OPTIONAL)
    (packages / "ou_extra.py").write_text("VALUE = 1\n", encoding="utf-8")
    lib = import_without("ou_lib", "ou_extra")
    assert lib.helper is None
    assert "ou_extra" not in sys.modules
    # The mark is gone: whatever imports it afterwards gets the real module.
    import ou_extra  # type: ignore[import-not-found]

    assert ou_extra.VALUE == 1


def test_a_module_that_needs_it_is_imported_the_ordinary_way(packages: Path) -> None:
    _package(packages, "ou_needs", "from ou_needs.part import helper\n", part="import ou_dep as helper\n")
    (packages / "ou_dep.py").write_text("VALUE = 2\n", encoding="utf-8")
    lib = import_without("ou_needs", "ou_dep")
    assert lib.helper.VALUE == 2
    assert sys.modules["ou_needs.part"].helper is sys.modules["ou_dep"]  # not a half-loaded first attempt


def test_nothing_is_blocked_when_either_is_loaded_already(packages: Path) -> None:
    _package(packages, "ou_first", "from ou_first.part import helper\n", part=OPTIONAL)
    (packages / "ou_extra.py").write_text("VALUE = 3\n", encoding="utf-8")
    import ou_extra

    lib = import_without("ou_first", "ou_extra")
    assert lib.helper is ou_extra
    assert import_without("ou_first", "ou_missing") is lib


def test_an_import_error_of_the_module_itself_still_reaches_the_caller(packages: Path) -> None:
    _package(packages, "ou_broken", "import ou_nowhere\n")
    with pytest.raises(ImportError):
        import_without("ou_broken", "ou_extra")
    assert "ou_broken" not in sys.modules


@pytest.mark.skipif(importlib.util.find_spec("typing_extensions") is None, reason="typing_extensions not installed")
def test_the_readers_load_msgspec_without_typing_extensions_and_leave_it_importable() -> None:
    script = (
        "import sys\n"
        "import openusage.reading, openusage.providers.kimi_cli.wire, openusage.providers.codex_cli.rollout\n"
        "import msgspec\n"
        "print(sorted(name for name in ('typing_extensions', 'inspect') if name in sys.modules))\n"
        "class Row(msgspec.Struct):\n"
        "    n: 'int'\n"  # a string annotation: resolved by typing's get_type_hints
        "    names: list[str]\n"
        "print(msgspec.json.decode(b'{\"n\": 1, \"names\": [\"a\"]}', type=Row))\n"
        "import typing_extensions\n"
        "print(typing_extensions.get_type_hints is not None)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["[]", "Row(n=1, names=['a'])", "True"]


def test_nothing_is_blocked_while_another_thread_runs(packages: Path) -> None:
    import threading

    _package(packages, "ou_threaded", "from ou_threaded.part import helper\n", part=OPTIONAL)
    (packages / "ou_extra.py").write_text("VALUE = 4\n", encoding="utf-8")
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        lib = import_without("ou_threaded", "ou_extra")
    finally:
        stop.set()
        other.join()
    assert lib.helper is sys.modules["ou_extra"]  # imported as usual: the other thread could have needed it
