"""The session list a provider's listing hands to the scan: units chosen by a hash of the session name,
kept compactly, and the directories walked kept for the symlink check below the sessions.

Real directories on disk (`tmp_path`); the listing is the providers' own (`walk.list_sessions`)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from openusage.providers.base import SessionDir, SessionList, unit_of
from openusage.providers.walk import list_sessions, walk_session, walk_sessions


def _sessions_dir(tmp_path: Path, layout: dict[str, list[str]]) -> Path:
    """`sessions/<group>/<session>/wire.jsonl` for each group and its sessions."""
    root = tmp_path / "sessions"
    for group, names in layout.items():
        for name in names:
            (root / group / name).mkdir(parents=True)
            (root / group / name / "wire.jsonl").write_text("{}\n", encoding="utf-8")
    return root


def _listed(root: Path) -> tuple[SessionList, list[SessionDir]]:
    listing = list_sessions(walk_sessions(root))
    return listing, sorted(listing)


def test_every_holder_of_a_name_is_in_the_unit_its_name_hashes_to(tmp_path: Path) -> None:
    names = [f"s{i:03d}" for i in range(300)]
    root = _sessions_dir(tmp_path, {"a": names, "b": names[::3], "c": names[::7]})

    listing, everything = _listed(root)

    assert len(listing) == len(everything) == 300 + 100 + 43
    for index in range(listing.unit_count):
        unit = listing.unit(index)
        assert unit == sorted(unit)  # the holders of a name are neighbours
        assert all(unit_of(session.name, listing.unit_count) == index for session in unit)
        assert listing.counts[index] == len(unit)
    holders = {session.holder for session in everything}
    assert holders == {str(root / "a"), str(root / "b"), str(root / "c")}
    shared = [session for session in listing.unit(unit_of("s000", listing.unit_count)) if session.name == "s000"]
    assert shared == [SessionDir("s000", str(root / group)) for group in ("a", "b", "c")]


def test_the_compact_list_gives_back_every_name_as_it_was_added() -> None:
    odd = ["plain", "with\nnewline", "caf\u00e9", "emoji\U0001f600", os.fsdecode(b"latin1-\xe9"), "x" * 300]
    listing = SessionList(units=4)
    for number, name in enumerate(odd):
        listing.add(name, f"/holder/{number % 2}")

    assert sorted(listing) == sorted(SessionDir(name, f"/holder/{n % 2}") for n, name in enumerate(odd))
    assert sum(listing.counts) == len(odd)


def test_a_session_held_by_its_own_file_is_given_back_as_its_directory_joined_to_its_leaf() -> None:
    """A holder that is one file a session (Codex) is added as its directory and its file's name (kept
    with the session's name in it elided): the session comes back with the whole path, beside sessions
    added with a directory alone, and through every split, as a list given the whole paths gives them."""
    odd_leaves = ["rollout-a.jsonl", "caf\u00e9.jsonl", os.fsdecode(b"latin1-\xe9.jsonl"), "sp ace\nline.jsonl"]
    joined = SessionList(units=2, unit_sessions=10**9)  # the reference: whole paths, never split
    leaves = SessionList(units=2, unit_sessions=3)
    for number in range(400):
        name = f"thread-{number % 150}"
        directory = f"/codex/sessions/2026/11/{number % 7:02d}/"
        if number % 5 == 0:  # a directory holder, no leaf
            joined.add(name, directory.rstrip("/"))
            leaves.add(name, directory.rstrip("/"))
        else:
            leaf = odd_leaves[number % 4].replace(".jsonl", f"-{number}.jsonl")
            if number % 3 == 0:  # the name in its leaf (a Codex rollout's), once or twice
                leaf = f"rollout-{number}-{name}.jsonl" if number % 2 else f"{name}{leaf}{name}"
            joined.add(name, directory + leaf)
            leaves.add(name, directory, leaf)

    assert leaves.unit_count > 2
    assert sorted(leaves) == sorted(joined)
    for index, unit in _names_by_unit(leaves).items():
        assert unit == sorted(unit)
        assert all(unit_of(session.name, leaves.unit_count) == index for session in unit)


def test_a_group_and_a_link_to_it_are_listed_once_under_the_directory_name(tmp_path: Path) -> None:
    root = _sessions_dir(tmp_path, {"real": ["s1", "s2"]})
    # Names that list before and after the directory: neither order lists the sessions twice.
    (root / "0-first").symlink_to(root / "real", target_is_directory=True)
    (root / "z-last").symlink_to(root / "real", target_is_directory=True)

    _listing, everything = _listed(root)

    assert everything == [SessionDir("s1", str(root / "real")), SessionDir("s2", str(root / "real"))]


def test_a_session_linked_from_outside_is_listed_and_a_link_to_a_listed_one_is_not(tmp_path: Path) -> None:
    root = _sessions_dir(tmp_path, {"g": ["s1"]})
    outside = tmp_path / "outside" / "s9"
    outside.mkdir(parents=True)
    (outside / "wire.jsonl").write_text("{}\n", encoding="utf-8")
    (root / "g" / "s9").symlink_to(outside, target_is_directory=True)
    (root / "g" / "again").symlink_to(root / "g" / "s1", target_is_directory=True)
    (root / "h").mkdir()
    (root / "h" / "s1-link").symlink_to(root / "g" / "s1", target_is_directory=True)

    _listing, everything = _listed(root)

    assert everything == [SessionDir("s1", str(root / "g")), SessionDir("s9", str(root / "g"))]


def test_a_link_below_a_session_to_a_listed_directory_is_not_walked(tmp_path: Path) -> None:
    root = _sessions_dir(tmp_path, {"g": ["s1", "s2"]})
    below = root / "g" / "s1" / "subagents"
    below.mkdir()
    (below / "other-session").symlink_to(root / "g" / "s2", target_is_directory=True)
    (below / "group").symlink_to(root / "g", target_is_directory=True)
    (below / "agent").mkdir()
    (below / "agent" / "wire.jsonl").write_text("{}\n", encoding="utf-8")
    walk = walk_sessions(root)
    listing = list_sessions(walk)

    sources = walk_session(walk, SessionDir("s1", str(root / "g")), listing)

    assert sorted(source.path for source in sources) == [str(below / "agent" / "wire.jsonl"),
                                                         str(root / "g" / "s1" / "wire.jsonl")]


def _names_by_unit(listing: SessionList) -> dict[int, list[SessionDir]]:
    return {index: listing.unit(index) for index in range(listing.unit_count)}


def test_a_list_past_its_unit_size_splits_every_unit_and_keeps_each_name_in_the_unit_it_hashes_to() -> None:
    names = [f"session-{i:04d}" for i in range(1000)]
    holders = ["/g/a", "/g/b", "/g/c"]
    whole = SessionList(units=4, unit_sessions=10**9)  # never splits: the reference
    split = SessionList(units=4, unit_sessions=8)
    for number, name in enumerate(names):
        for holder in holders[: 1 + number % 3]:  # some names in two or three holders
            whole.add(name, holder)
            split.add(name, holder)

    assert whole.unit_count == 4
    assert split.unit_count == 256  # 1,999 entries: split while more than 8 a unit, 4 -> 8 -> ... -> 256
    assert len(split) == len(whole) == sum(split.counts) == 334 + 2 * 333 + 3 * 333
    assert sorted(split) == sorted(whole)
    for index, unit in _names_by_unit(split).items():
        assert unit == sorted(unit)
        assert split.counts[index] == len(unit)
        assert all(unit_of(session.name, split.unit_count) == index for session in unit)
    # Every holder of a name is in one unit (the name's), as in the list that never split.
    for name in names[:50]:
        found = [session for session in split.unit(unit_of(name, split.unit_count)) if session.name == name]
        assert found == [session for session in whole.unit(unit_of(name, 4)) if session.name == name]


def test_a_list_stops_splitting_at_the_unit_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("openusage.providers.base.MAX_UNITS", 16)
    listing = SessionList(units=2, unit_sessions=1)
    odd = ["plain", "with\nnewline", "caf\u00e9", "emoji\U0001f600", os.fsdecode(b"latin1-\xe9"), "x" * 300]
    names = [*odd, *(f"s{i}" for i in range(200))]
    for name in names:
        listing.add(name, "/holder")

    assert listing.unit_count == 16
    assert sorted(session.name for session in listing) == sorted(names)
    assert all(unit_of(session.name, 16) == index for index, unit in _names_by_unit(listing).items()
               for session in unit)


def test_a_split_list_lists_a_real_sessions_directory_as_an_unsplit_one(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    names = [f"s{i:03d}" for i in range(300)]
    root = _sessions_dir(tmp_path, {"a": names, "b": names[::3]})
    _listing, everything = _listed(root)
    monkeypatch.setattr("openusage.providers.base.SESSION_UNITS", 1)
    monkeypatch.setattr("openusage.providers.base.UNIT_SESSIONS", 3)

    split, again = _listed(root)

    assert split.unit_count == 256  # 400 sessions, at most 3 a unit on average: 1 -> 2 -> ... -> 256
    assert again == everything
    for index, unit in _names_by_unit(split).items():
        assert all(unit_of(session.name, split.unit_count) == index for session in unit)


def test_a_released_unit_lists_nothing_and_the_others_are_as_they_were() -> None:
    listing = SessionList(units=4)
    for i in range(40):
        listing.add(f"s{i}", "/holder")
    before = _names_by_unit(listing)
    counts = list(listing.counts)

    listing.release(2)

    assert listing.unit(2) == []
    assert listing.counts == counts
    assert {index: unit for index, unit in _names_by_unit(listing).items() if index != 2} == \
        {index: unit for index, unit in before.items() if index != 2}


def test_the_name_index_finds_every_holder_of_a_name_as_a_dict_of_lists_would() -> None:
    """Names in one holder, in several, names never added, names added after a first question: the
    holders each name was added with, in the order it was added with them, and nothing for the others."""
    import random

    from openusage.providers.base import NameIndex

    rng = random.Random(3)
    index = NameIndex()
    expected: dict[str, list[str]] = {}
    for n in range(5_000):
        name = f"session-{rng.randrange(3_000)}-\u00e9\udcff" if n % 3 else f"s{n}"
        holder = f"/sessions/group-{rng.randrange(40)}"
        index.add(name, holder)
        expected.setdefault(name, []).append(holder)
    assert len(index) == 5_000
    asked = set(rng.sample(sorted(expected), 500)) | {"never-added", ""}
    found = index.holders_of(asked)
    assert found == {name: expected[name] for name in asked if name in expected}  # in the order added
    for n in range(300):  # after a question: asked again, the new ones are found too
        index.add(f"late-{n % 100}", f"/sessions/late-{n}")
        expected.setdefault(f"late-{n % 100}", []).append(f"/sessions/late-{n}")
    everything = index.holders_of(set(expected))
    assert everything == expected


def test_the_name_index_gives_a_leaf_back_joined_to_its_holder_whenever_it_was_added() -> None:
    """Leaves (a session held by its own file) added after sessions without one, after a first
    question, and mixed with directory holders: each holder comes back whole, in the order added."""
    import random

    from openusage.providers.base import NameIndex

    rng = random.Random(5)
    index = NameIndex()
    expected: dict[str, list[str]] = {}

    def add(name: str, holder: str, leaf: str = "") -> None:
        index.add(name, holder, leaf)
        expected.setdefault(name, []).append(holder + leaf)

    for _ in range(2_000):
        add(f"dir-{rng.randrange(900)}", f"/sessions/group-{rng.randrange(30)}")
    first = {"dir-1", "dir-2", "dir-3"}
    assert index.holders_of(first) == {name: expected[name] for name in first if name in expected}
    for n in range(3_000):
        name = f"thread-{rng.randrange(2_000)}-\u00e9\udcff"
        if n % 4:
            leaf = f"rollout-{n}-{name}.jsonl" if n % 3 else f"rollout-{n}-\udcfe.jsonl"  # its name in it, or not
            add(name, f"/codex/sessions/2026/11/{rng.randrange(30):02d}/", leaf)
        else:
            add(name, f"/codex/archived_sessions/{n}")
    asked = set(rng.sample(sorted(expected), 700)) | {"never-added"}
    assert index.holders_of(asked) == {name: expected[name] for name in asked if name in expected}
    for n in range(200):  # after a question: new leaves, new directories, and the old ones, all found
        add(f"late-{n % 50}", "/late/", f"leaf-{n}.jsonl")
        add(f"dir-{n}", "/late-dir")
    assert index.holders_of(set(expected)) == expected


def test_the_name_index_of_a_sessions_directory_holds_what_the_scan_lists(tmp_path: Path) -> None:
    """The facts' listing (`index_sessions`) and the scan's (`list_sessions`) see the same sessions in the
    same groups, a linked group once under its own name; the walked directories are not kept."""
    from openusage.providers.base import NameIndex
    from openusage.providers.walk import index_sessions, session_directories, session_index

    root = _sessions_dir(tmp_path, {"g1": ["a", "b", "shared"], "g2": ["shared", "c"]})
    os.symlink(root / "g2", root / "g0-link")
    _listing, listed = _listed(root)
    index = index_sessions(walk_sessions(root))
    names = {session.name for session in listed}
    expected: dict[str, list[str]] = {}
    for session in listed:
        expected.setdefault(session.name, []).append(os.path.join(session.holder, session.name))
    assert session_directories(index, names | {"gone"}) == {name: sorted(paths) for name, paths in expected.items()}
    assert len(index) == len(listed) == 5
    assert not index.seen.linked
    assert not index.seen.device
    assert len(session_index(tmp_path / "missing")) == 0
    assert isinstance(session_index(root), NameIndex)
