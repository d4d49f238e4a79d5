"""msgspec is imported without typing_extensions (`openusage._msgspec`), and nothing else is affected:
the helper on real packages written to disk, and the reading modules, each in a fresh interpreter (the
helper does nothing while another thread runs, and a test run may have threads of its own)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

OPTIONAL = "try:\n    import ou_extra as helper\nexcept ImportError:\n    helper = None\n"


def _package(root: Path, name: str, init: str, **modules: str) -> None:
    (root / name).mkdir()
    (root / name / "__init__.py").write_text(init, encoding="utf-8")
    for module, text in modules.items():
        (root / name / f"{module}.py").write_text(text, encoding="utf-8")


def _optional_user(root: Path, name: str, value: int) -> None:
    """Package `name`, whose part imports `ou_extra` if it can, and `ou_extra` itself (VALUE = value)."""
    _package(root, name, f"from {name}.part import helper\n", part=OPTIONAL)
    (root / "ou_extra.py").write_text(f"VALUE = {value}\n", encoding="utf-8")


def _run(root: Path, script: str) -> list[str]:
    """What `script` prints in a fresh interpreter with `root` first on sys.path and `import_without` imported."""
    prelude = f"import sys\nsys.path.insert(0, {str(root)!r})\nfrom openusage._msgspec import import_without\n"
    done = subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(script)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_a_module_that_can_do_without_it_is_imported_without_it(tmp_path: Path) -> None:
    _optional_user(tmp_path, "ou_lib", 1)
    printed = _run(
        tmp_path,
        """
        lib = import_without("ou_lib", "ou_extra")
        print(lib.helper, "ou_extra" in sys.modules)
        import ou_extra  # the mark is gone: whatever imports it afterwards gets the real module
        print(ou_extra.VALUE)
        """,
    )
    assert printed == ["None False", "1"]


def test_a_module_that_needs_it_is_imported_the_ordinary_way(tmp_path: Path) -> None:
    _package(tmp_path, "ou_needs", "from ou_needs.part import helper\n", part="import ou_dep as helper\n")
    (tmp_path / "ou_dep.py").write_text("VALUE = 2\n", encoding="utf-8")
    printed = _run(
        tmp_path,
        """
        lib = import_without("ou_needs", "ou_dep")
        print(lib.helper.VALUE)
        print(sys.modules["ou_needs.part"].helper is sys.modules["ou_dep"])  # not a half-loaded first attempt
        """,
    )
    assert printed == ["2", "True"]


def test_nothing_is_blocked_when_either_is_loaded_already(tmp_path: Path) -> None:
    _optional_user(tmp_path, "ou_first", 3)
    printed = _run(
        tmp_path,
        """
        import ou_extra
        lib = import_without("ou_first", "ou_extra")
        print(lib.helper is ou_extra)
        print(import_without("ou_first", "ou_missing") is lib)
        """,
    )
    assert printed == ["True", "True"]


def test_an_import_error_of_the_module_itself_still_reaches_the_caller(tmp_path: Path) -> None:
    _package(tmp_path, "ou_broken", "import ou_nowhere\n")
    printed = _run(
        tmp_path,
        """
        try:
            import_without("ou_broken", "ou_extra")
        except ImportError as error:
            print(type(error).__name__, error.name)
        print("ou_broken" in sys.modules)
        """,
    )
    assert printed == ["ModuleNotFoundError ou_nowhere", "False"]


def test_nothing_is_blocked_while_another_thread_runs(tmp_path: Path) -> None:
    _optional_user(tmp_path, "ou_threaded", 4)
    printed = _run(
        tmp_path,
        """
        import threading
        stop = threading.Event()
        other = threading.Thread(target=stop.wait)
        other.start()
        try:
            lib = import_without("ou_threaded", "ou_extra")
        finally:
            stop.set()
            other.join()
        print(lib.helper is sys.modules["ou_extra"])  # imported as usual: the other thread could have needed it
        """,
    )
    assert printed == ["True"]


@pytest.mark.skipif(importlib.util.find_spec("typing_extensions") is None, reason="typing_extensions not installed")
def test_the_readers_load_msgspec_without_typing_extensions_and_leave_it_importable(tmp_path: Path) -> None:
    printed = _run(
        tmp_path,
        """
        import openusage.reading, openusage.providers.kimi_cli.wire, openusage.providers.codex_cli.rollout
        import msgspec
        print(sorted(name for name in ('typing_extensions', 'inspect') if name in sys.modules))
        class Row(msgspec.Struct):
            n: 'int'  # a string annotation: resolved by typing's get_type_hints
            names: list[str]
        print(msgspec.json.decode(b'{"n": 1, "names": ["a"]}', type=Row))
        import typing_extensions
        print(typing_extensions.get_type_hints is not None)
        """,
    )
    assert printed == ["[]", "Row(n=1, names=['a'])", "True"]
