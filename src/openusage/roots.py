"""Lineage roots in call keys: a call copied into a fork is one call under the root of its lineage, and
the root is known only once every file's head has been read. Pure.

A provider whose calls are identified within a lineage (Codex: "lineage root, total, last") writes the
root into the key, `x\\x1f<root>\\x1f<rest>`, where `<rest>` never holds the separator. Its parser
knows only the ancestors its own file names, so the root it writes is the oldest of those. Another
file can name that thread's parent in turn (a fork whose head names its parent but not the
grandparent its parent's head names; codex-cli-format.md: follow the links "through the session_meta
lines of all files"), and then the key's root is not the lineage's.

`remap_of` gives, from every session's stated ancestry (`SessionInfo.parents`), each thread some file
names a parent of → the root its lineage reaches across all files; `reroot` folds the calls keyed
under such a thread into those keyed under the root, before owners are chosen. Stored copies keep the
keys their own file gave them, so every path that folds calls applies the same remap, and a refresh
that changes it re-folds the calls of the roots it joins or parts (`classes`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

from openusage.records import SessionInfo

ROOTED = "x\x1f"
_SEP = "\x1f"


def key_root(key: str) -> str | None:
    """The lineage root a key names, or None for a key that names none."""
    if not key.startswith(ROOTED):
        return None
    end = key.rfind(_SEP, 2, key.rfind(_SEP))  # the rest holds one separator: the root is before it
    return key[2:end] if end >= 2 else None


def rerooted(key: str, root: str) -> str:
    """The key with its lineage root replaced by `root` (a key naming one: `key_root`)."""
    return ROOTED + root + key[key.rfind(_SEP, 2, key.rfind(_SEP)):]


def remap_of(infos: Mapping[str, SessionInfo]) -> dict[str, str]:
    """`remap_across` of the sessions' states (`SessionInfo.parents`): a session whose state names no
    ancestor is listed with an empty chain, its keys rooted at itself."""
    return remap_across((session, info.parents()) for session, info in infos.items())


def remap_across(chains: Iterable[tuple[str, Sequence[str]]],
                 plain: Callable[[str], bool] | None = None) -> dict[str, str]:
    """Each root a session's keys are written under (the oldest ancestor its stated ancestry names,
    nearest first in `chains`, or the session itself; with `plain`, also each thread it says is a
    session of no stated ancestry) that the links of every session's chain lead further, to the
    oldest thread they lead to. Where two states name different parents for one thread, the one that
    sorts first is followed; threads in a cycle of links all go to the one of them that sorts first.
    Nothing depends on the order of `chains`.

    Only roots a key can be written under are answered for: a fork whose head names its whole chain
    has its keys under the lineage's root already, and moves nothing."""
    parent: dict[str, str] = {}
    written: set[str] = set()
    for session, chain in chains:
        written.add(chain[-1] if chain else session)
        for child, named in zip((session, *chain), chain, strict=False):
            known = parent.get(child)
            if known is None or named < known:
                parent[child] = named
    if plain is not None:
        written.update(thread for thread in parent if plain(thread))
    remap: dict[str, str] = {}
    for thread in written:
        if thread not in parent:
            continue
        path = [thread]
        at = {thread: 0}
        node = parent[thread]
        while node not in at:
            at[node] = len(path)
            path.append(node)
            if node not in parent:
                break
            node = parent[node]
        else:
            node = min(path[at[node]:])  # a cycle: its smallest member stands for all of it
        if node != thread:
            remap[thread] = node
    return remap


def reroot_keys(keys: Iterable[str], remap: Mapping[str, str]) -> dict[str, str]:
    """Each of `keys` that names a thread `remap` moves, to its key under the lineage's root."""
    moved: dict[str, str] = {}
    for key in keys:
        if key.startswith(ROOTED):
            root = key_root(key)
            target = remap.get(root) if root is not None else None
            if target is not None:
                moved[key] = rerooted(key, target)
    return moved


def touched(remap: Mapping[str, str]) -> frozenset[str]:
    """The roots whose calls `remap` moves or joins: a key under one of them may fold with a key of
    another file's (the others' calls stay where their keys are)."""
    return frozenset(remap) | frozenset(remap.values())


def in_touched(key: str, roots: frozenset[str]) -> bool:
    """Whether the key names one of `roots` (`touched`)."""
    return key.startswith(ROOTED) and key_root(key) in roots


def classes(*remaps: Mapping[str, str]) -> dict[str, frozenset[str]]:
    """Each thread any of the remaps names, to every thread that any of them joins it with, directly
    or through others: the keys a refresh must re-fold together when the remap it starts with and
    the one it ends with differ."""
    group: dict[str, set[str]] = {}
    for remap in remaps:
        for thread, root in remap.items():
            mine, theirs = group.setdefault(thread, {thread}), group.setdefault(root, {root})
            if mine is not theirs:
                if len(mine) < len(theirs):
                    mine, theirs = theirs, mine
                mine |= theirs
                for member in theirs:
                    group[member] = mine
    return {thread: frozenset(members) for thread, members in group.items()}


def widened(keys: Iterable[str], joined: Mapping[str, frozenset[str]]) -> set[str]:
    """`keys` and, for each that names a thread of `joined` (`classes`), the same key under every
    thread joined with it."""
    result = set(keys)
    if not joined:
        return result
    for key in list(result):
        if key.startswith(ROOTED):
            root = key_root(key)
            members = joined.get(root) if root is not None else None
            if members:
                result.update(rerooted(key, member) for member in members)
    return result


def local_root(session: str, info: SessionInfo | None) -> str:
    """The root a session's own file leads to: the oldest ancestor its state names, else itself."""
    chain = info.parents() if info is not None else ()
    return chain[-1] if chain else session
