"""The links between threads that every session's state names, followed across sessions; and the
lineage roots in call keys that depend on them. Pure.

Codex names a thread's parent (a fork's, a subagent's spawner) in the `session_meta` lines at the head
of a rollout: its own, and the copies of its ancestors' a fork or subagent replays. The specification
follows them "through the session_meta lines of all files" ("Readings settled" 1), so the thread a
call belongs to, the root of its identity and the top thread a subagent counts toward can depend on a
link only another rollout names (its copy of a generation whose own rollout is gone). `Lineage`
gathers every session's links (`SessionInfo`: its own chain, and `links`) and answers from all of
them: each session's ancestors (`settle` gives a call to the holder no other holder descends from),
the thread each subagent joins, and the remap of key roots. Kimi's sessions name one parent each
(their own), so for them this is the chain of `forkedFrom`.

A provider whose calls are identified within a lineage (Codex: "lineage root, total, last") writes the
root into the key, `x\x1f<root>\x1f<rest>`, where `<rest>` never holds the separator. Its parser
knows only the ancestors its own file names, so the root it writes is the oldest of those, and
another file can lead that thread further. `Lineage.remap` gives each such root the lineage's, and
`fold.reroot` folds the calls keyed under the one into those keyed under the other before owners are
chosen. Stored copies keep the keys their own file gave them, so every path that folds calls applies
the same remap, and a refresh that changes it re-folds the calls of the roots it joins or parts
(`classes`, `widened`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping

from openusage.records import SessionInfo

ROOTED = "x\x1f"
_SEP = "\x1f"


def _rest_at(key: str) -> int:
    """Where the rest of a rooted key begins (its separator), -1 in a key too short to have one: the
    rest holds one separator, so the root is before the last but one."""
    return key.rfind(_SEP, 2, key.rfind(_SEP))


def key_root(key: str) -> str | None:
    """The lineage root a key names, or None for a key that names none."""
    if not key.startswith(ROOTED):
        return None
    end = _rest_at(key)
    return key[2:end] if end >= 2 else None


def rerooted(key: str, root: str) -> str:
    """The key with its lineage root replaced by `root` (a key naming one: `key_root`)."""
    return ROOTED + root + key[_rest_at(key):]


def chain_links(session: str, chain: tuple[str, ...], joins: str | None) -> Iterator[tuple[str, str, bool]]:
    """The links a session's chain (its ancestors, nearest first) and the thread it joins say, as
    (thread, parent, spawned): each step of the chain, a spawn up to the thread it joins (when the
    chain reaches it), a fork or a spawn of a thread of its own above. What a state says beyond these
    it keeps in `SessionInfo.links`."""
    spawned = joins is not None and joins in chain
    for child, parent in zip((session, *chain), chain, strict=False):
        yield child, parent, spawned
        if parent == joins:
            spawned = False


def _keep(edges: dict[str, str], child: str, named: str) -> None:
    known = edges.get(child)
    if known is None or named < known:
        edges[child] = named


class Lineage:
    """What choosing owners needs of the sessions' states (`SessionInfo`): their ranks and upstream
    providers, and the links every state names (`chain_links`, and Codex's `links`), followed across
    them: a thread's own state names its parent, where it names one; else the parent the other states
    name, the one that sorts first where they differ. Nothing depends on the order of `infos`."""

    __slots__ = ("copies", "infos", "parent", "spawner")

    def __init__(self, infos: Mapping[str, SessionInfo]) -> None:
        self.infos = infos
        own: dict[str, str] = {}
        named: dict[str, str] = {}
        spawner: dict[str, str] = {}
        for session, info in infos.items():
            # The chain's own step comes first: another head's word on the session's parent (an archived
            # copy's, kept in `links`) never overrides it.
            for child, parent, spawned in (*chain_links(session, info.parents(), info.joins), *info.links):
                if child == session:
                    own.setdefault(session, parent)
                else:
                    _keep(named, child, parent)
                if spawned:
                    _keep(spawner, child, parent)
        self.parent = {**named, **own}
        self.spawner = spawner
        # Each thread that sessions of other names hold (`SessionInfo.thread`: a renamed rollout), to them:
        # a thread that descends from it descends from them.
        copies: dict[str, list[str]] = {}
        for session, info in infos.items():
            if info.thread is not None:
                copies.setdefault(info.thread, []).append(session)
        self.copies = copies

    def root(self, thread: str) -> str:
        """The oldest thread the links lead to from `thread`; in a cycle, its member that sorts first."""
        parent = self.parent
        path = [thread]
        at = {thread: 0}
        node = parent.get(thread)
        if node is None:
            return thread
        while node not in at:
            at[node] = len(path)
            path.append(node)
            if node not in parent:
                return node
            node = parent[node]
        return min(path[at[node]:])

    def remap(self, plain: Callable[[str], bool] | None = None) -> dict[str, str]:
        """Each root a session's keys are written under (the oldest ancestor its own chain names, or the
        session itself; with `plain`, also each thread it says is a session whose state names no
        ancestor) that the links lead further, to the lineage's root (`root`). A fork whose head names
        its whole chain has its keys under the lineage's root already, and moves nothing."""
        parent = self.parent
        written = {local_root(session, info) for session, info in self.infos.items()}
        if plain is not None:
            written.update(thread for thread in parent if plain(thread))
        remap: dict[str, str] = {}
        for thread in written:
            if thread in parent:
                root = self.root(thread)
                if root != thread:
                    remap[thread] = root
        return remap

    def ancestors(self) -> dict[str, frozenset[str]]:
        """Each session of `infos` that has ancestors, to all of them: its fork and spawn parents, theirs
        in turn, through threads whose files are gone as through the others."""
        parent, copies = self.parent, self.copies
        result: dict[str, frozenset[str]] = {}
        for session in self.infos:
            chain: list[str] = []
            node = parent.get(session)
            while node is not None and node != session and node not in chain:
                chain.append(node)
                node = parent.get(node)
            if chain:
                if copies:  # an ancestor held under another name is that session too
                    chain += [copy for ancestor in chain for copy in copies.get(ancestor, ()) if copy != session]
                result[session] = frozenset(chain)
        return result

    def ranks(self) -> dict[str, int]:
        """Each session whose rank is not 0, to it (`SessionInfo.rank`: Kimi CLI's fork depth)."""
        return {session: info.rank for session, info in self.infos.items() if info.rank}

    def upstreams(self, known: Callable[[str], bool] | None = None) -> dict[str, str]:
        """Each thread whose calls carry an upstream provider other than the usual one, to it: a session,
        the one its own state names (`SessionInfo.upstream`); a thread of no state (its rollout gone),
        the one the other states name for it (`told`; the one that sorts first where they differ).
        `known` says which threads have a state of their own, when `infos` holds only some of them
        (else: those it holds)."""
        has_state = known if known is not None else self.infos.__contains__
        result: dict[str, str] = {}
        for info in self.infos.values():
            for thread, provider in info.told:
                if not has_state(thread):
                    _keep(result, thread, provider)
        result.update((session, info.upstream) for session, info in self.infos.items() if info.upstream is not None)
        return result

    def joins(self) -> dict[str, str]:
        """Each session whose own state says it is a subagent (`SessionInfo.joins`), to the thread its
        calls count toward: its spawner's, that one's spawner's and so on, up to the first thread not
        spawned (codex-cli-format.md, "Readings settled" 6: subagents of subagents fold to the top
        thread), following the spawn links any state names; a cycle stops before it repeats."""
        spawner = self.spawner
        result: dict[str, str] = {}
        for session, info in self.infos.items():
            if info.joins is None:
                continue
            target = spawner.get(session, info.joins)
            seen = {session, target}
            while (above := spawner.get(target)) is not None and above not in seen:
                seen.add(above)
                target = above
            result[session] = target
        return result


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
    """The root a session's own file leads to: the oldest ancestor its state names, else the thread it
    holds (itself, or the one its file names when its name says another: `SessionInfo.thread`)."""
    if info is None:
        return session
    chain = info.parents()
    return chain[-1] if chain else info.thread or session
