"""The session list a provider's listing hands to the scan: units chosen by a hash of the session name,
kept compactly, and the directories walked kept for the symlink check below the sessions.

Real directories on disk (`tmp_path`); the listing is the providers' own (`walk.list_sessions`)."""

from __future__ import annotations

import os
from pathlib import Path

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
