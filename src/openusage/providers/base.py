"""The contract every provider implements, and the account and detection types it speaks.

A file provider finds its accounts (`detect`), owns its directory layout (`walk` checks where its files
are, `list_sessions` lists its sessions once, `walk_session` finds one session's files and the
signature of its state, in any process), names the needles that mark the lines that can hold usage
and turns those lines into records (`needles`, `parser`), and tells the store what the owner-session
rule and the model fallback need (`session_info`, `model_resolver`). `scan.py` owns reading, offsets,
fingerprints and transactions, so every file provider gets the fast scan and the cache without
writing any of it, and knows no file name.

A remote source (`RemoteSource`: an account balance, a plan quota) fetches one reading per account
and nothing else; `api` runs it on a thread beside the local scan and keeps its last good answer.
A provider offers one capability or the other (`Provider`); `api` dispatches on which.
"""

import os
from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, NamedTuple, Protocol, runtime_checkable
from zlib import crc32

from openusage.records import Chunk, Line, SessionInfo, Source, split_upstream, with_upstream

if TYPE_CHECKING:
    from openusage.manifest import Observations
    from openusage.providers.listing import Listings
    from openusage.query import SessionFacts  # msgspec: imported only where calls are asked for
    from openusage.remote import Reading  # only a remote source's fetch builds one

_NO_EXTRA: Mapping[str, str] = MappingProxyType({})


class Account(NamedTuple):
    """One tile: a provider reading one place. `extra` holds the provider's own path overrides."""

    id: str
    provider: str
    extra: Mapping[str, str] = _NO_EXTRA
    origin: str = "detected"  # "detected" or "configured"


class Fact(NamedTuple):
    """One thing detection looked at, for `openusage detect`: what, where, and whether it was there."""

    what: str
    value: str
    found: bool


class Detection(NamedTuple):
    provider: str
    title: str
    account: Account | None
    facts: tuple[Fact, ...]


class Walk:
    """The files of one account, as its provider's walk finds them: for each session the holders it was
    found in (`session_dirs`, `more_session_dirs`), a signature of its state (a changed signature
    means the session's rank and parent must be read again), and what could not be read.

    A provider's `walk` fills `root` (the directory shown and compared between accounts), `dirs` (what
    its listing walks) and `found`/`problem`; `list_sessions` may add `top_sources`; `walk_session` adds
    the rest through `add_source` and `add_signature`. The scan makes a fresh Walk per unit of work, so
    only what these methods add crosses between processes."""

    __slots__ = ("dirs", "found", "listings", "more_session_dirs", "observed", "problem", "root", "session_dirs",
                 "signatures", "top_sources", "unreadable")

    def __init__(self) -> None:
        self.root = ""  # the directory read
        self.dirs: tuple[str, ...] = ()  # the directories the provider's listing walks (root first)
        self.top_sources: list[Source] = []  # files the listing found itself (list_sessions)
        # session -> the holder it was found in (a directory or a file, as the provider names it, shared
        # where it can be: a history of 100,000 sessions keeps one string per session); more_ for a
        # name found in two holders, which is still one session.
        self.session_dirs: dict[str, str] = {}
        self.more_session_dirs: dict[str, list[str]] = {}
        self.signatures: dict[str, int] = {}  # session -> signature of its state
        self.unreadable = 0
        self.found = True  # False when the directory does not exist or cannot be used
        self.problem: str | None = None  # why a directory that exists cannot be used
        # Listings remembered from earlier runs (`providers/listing.py`), when the scan gives them.
        self.listings: Listings | None = None
        # When the scan keeps a manifest (`openusage.manifest`): every path the walk stats, and what it
        # said. A walk that meets what its stats do not tell (a symlink) says so there (`unusable`).
        self.observed: Observations | None = None

    def add_source(self, path: str, info: os.stat_result, session: str, holder: str, sources: list[Source]) -> None:
        """A file found: it makes its session a session (held in `holder`), and is one file to read."""
        self.add_holder(session, holder)
        if self.observed is not None:
            self.observed.source(path, info, session, holder)
        sources.append(Source(path, session, (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns,
                                              info.st_ctime_ns)))

    def add_holder(self, session: str, holder: str) -> None:
        """A session found in `holder`, with or without a file to read (a Kimi Code session whose
        state names the session it was forked from is a link in that chain, journal or not)."""
        known = self.session_dirs.get(session)
        if known is None:
            self.session_dirs[session] = holder
        elif known != holder:  # the same session in two holders: one session, read from both
            self.more_session_dirs.setdefault(session, []).append(holder)

    def add_signature(self, session: str, signature: int) -> None:
        """One more piece of the session's state; several combine (in walk order) into one signature. A
        hash of ints (a stat's fields, say) is stable across processes (only str and bytes hashes are
        salted) and costs 32 bytes."""
        previous = self.signatures.get(session)
        self.signatures[session] = signature if previous is None else hash((previous, signature))

    def holders(self, session: str) -> list[str]:
        """Every holder a session was found in (usually one)."""
        return [self.session_dirs[session], *self.more_session_dirs.get(session, ())]


class SessionDir(NamedTuple):
    """A session found by a provider's `list_sessions`: its name and what holds it (a directory the
    provider walks below, or its file), to be walked by `walk_session` in any process."""

    name: str
    holder: str


# How many units a session list is split into: many small ones, so that the processes finish together
# whatever the sizes of the sessions (unknown before they are walked).
SESSION_UNITS = 128
# Sessions a unit holds on average before the list splits every unit in two (`SessionList.add`): a
# unit's sessions are read and sent back whole, and the process that writes the cache holds one
# unit's results at a time, ~5 KiB a session of tiny ones (at 500,000 sessions in 128 units, ~3,900
# sessions a unit: ~20 MiB of a first run's peak). Up to `MAX_UNITS`, whose numbers must fit in a
# pipe of the smallest size (64 KiB, 4 bytes each: `parallel.run` writes them all before forking).
UNIT_SESSIONS = 256
MAX_UNITS = 8192


def unit_of(name: str, units: int) -> int:
    """The unit a session name goes to: a hash of the name, the same in every process and run, so the
    holders of one name meet in one unit with no sort of the whole list."""
    return crc32(name.encode("utf-8", "surrogatepass")) % units


class SeenDirs:
    """The directories a listing walked, for the symlink check below it (`identity in seen`, as
    `(device << 64) | inode` ints): those reached without a symlink as a sorted array of their inodes
    on the root's device (8 bytes each: at 500,000 sessions a set of ints took 33 MiB), the others
    (reached through a symlink, and the root) as a set. Not changed after the listing."""

    __slots__ = ("_real", "_sorted", "device", "linked")

    def __init__(self, device: int = 0, linked: AbstractSet[int] = frozenset(),
                 real: "array[int] | None" = None) -> None:
        self.device = device
        self.linked = linked
        self._real = real if real is not None else array("Q")
        self._sorted = False

    def __contains__(self, identity: object) -> bool:
        if identity in self.linked:
            return True
        if not isinstance(identity, int) or identity >> 64 != self.device or not self._real:
            return False
        if not self._sorted:  # only a symlinked directory below the listing asks: sorted when first asked
            self._real = array("Q", sorted(self._real))
            self._sorted = True
        inode = identity & _INODE_MASK
        at = bisect_left(self._real, inode)
        return at < len(self._real) and self._real[at] == inode

    def linked_only(self, identity: int) -> bool:
        """Whether a directory reached without a symlink was walked already: only one reached through a
        symlink can be the same directory (a directory has one name of its own)."""
        return identity in self.linked


_INODE_MASK = (1 << 64) - 1
_NO_DIRS = SeenDirs()


class SessionList:
    """What a provider's `list_sessions` found: every session (a name found in two holders is listed
    once per holder), split into units by a hash of the name (`unit_of`), and, for a walk that follows
    symlinked directories, the directories walked already (`seen`) and the root's device.

    Kept compactly (at 500,000 sessions a list of `SessionDir` took 113 MiB): each unit is one
    bytearray of `name NUL holder-number NUL` (~40 bytes a session), the holders (a few thousand
    directories) once each. A provider whose holder is the session's own file adds its directory as
    the holder and its file name as a leaf, kept as `name NUL holder-number/leaf NUL` (~75 bytes a
    Codex thread, where a path string of its own took ~250).
    `unit(i)` gives a unit's sessions sorted, so the holders of a name are neighbours. A list that
    grows past `unit_sessions` sessions a unit on average splits every unit in two (up to
    `MAX_UNITS`), so that a unit stays small however many sessions there are; `unit_count` is final
    once the listing is done."""

    __slots__ = ("_holder_numbers", "_holders", "_length", "_unit_sessions", "_units", "counts", "device", "seen")

    def __init__(self, units: int | None = None, unit_sessions: int | None = None) -> None:
        # The module's constants read here, not bound as defaults: a test lowers them to split small lists.
        units = SESSION_UNITS if units is None else units
        self._units = [bytearray() for _ in range(units)]
        self.counts = [0] * units  # sessions per unit
        self._length = 0
        self._unit_sessions = UNIT_SESSIONS if unit_sessions is None else unit_sessions
        self._holders: list[str] = []
        self._holder_numbers: dict[str, int] = {}
        self.seen: SeenDirs = _NO_DIRS
        self.device = 0

    def add(self, name: str, holder: str, leaf: str = "") -> None:
        """`name` held by `holder + leaf`: a provider whose holder is one file a session passes its
        directory (ending with its separator) as `holder` and the file's name as `leaf`, so that a
        directory of many sessions is kept once (a leaf is kept beside its session's name)."""
        number = self._holder_numbers.get(holder)
        if number is None:
            number = self._holder_numbers[holder] = len(self._holders)
            self._holders.append(holder)
        encoded = name.encode("utf-8", "surrogatepass")
        unit = crc32(encoded) % len(self._units)
        if leaf:  # `number/leaf`: a file's name holds no '/', on any system
            self._units[unit] += b"%s\0%d/%s\0" % (encoded, number, _pack_leaf(name, leaf))
        else:
            self._units[unit] += b"%s\0%d\0" % (encoded, number)
        self.counts[unit] += 1
        self._length += 1
        if self._length > self._unit_sessions * len(self._units) and len(self._units) * 2 <= MAX_UNITS:
            self._split()

    def _split(self) -> None:
        """Every unit in two: a name in unit u of n goes to u or u + n of 2n (crc % 2n is one of them), so
        the holders of a name still meet in one unit. One unit's entries are rewritten at a time."""
        count = len(self._units)
        units = self._units + [bytearray() for _ in range(count)]
        counts = self.counts + [0] * count
        for index in range(count):
            parts = bytes(units[index]).split(b"\0")
            units[index], counts[index] = bytearray(), 0
            for name, number in zip(parts[0:-1:2], parts[1:-1:2], strict=True):
                unit = crc32(name) % (2 * count)  # as `add` places a name
                units[unit] += b"%s\0%s\0" % (name, number)
                counts[unit] += 1
        self._units, self.counts = units, counts

    def __len__(self) -> int:
        return self._length

    @property
    def unit_count(self) -> int:
        return len(self._units)

    def unit(self, index: int) -> list[SessionDir]:
        """The sessions of one unit, sorted by name and holder."""
        parts = self._units[index].decode("utf-8", "surrogatepass").split("\0")
        holders = self._holders
        sessions: list[SessionDir] = []
        for at in range(0, len(parts) - 1, 2):
            name = parts[at]
            number, slash, leaf = parts[at + 1].partition("/")
            holder = holders[int(number)]
            sessions.append(SessionDir(name, holder + leaf.replace("/", name) if slash else holder))
        sessions.sort()
        return sessions

    def release(self, index: int) -> None:
        """Let a unit's sessions go once its results are in (a full read's, which asks for no unit twice):
        the list shrinks as it is read, and what it frees is there for the reading's own allocations. The
        unit then lists nothing; its count stays."""
        self._units[index] = bytearray()

    def __iter__(self) -> Iterator[SessionDir]:
        for index in range(len(self._units)):
            yield from self.unit(index)

    @property
    def sessions(self) -> list[SessionDir]:
        """Every session, unit by unit: for a small listing or a test (the units are the compact form)."""
        return list(self)


# The facts of the sessions named (`FileProvider.facts_finder`); a name it cannot find still has facts
# (an empty project, "Untitled" when titles are asked).
FactsFinder = Callable[[AbstractSet[str]], "dict[str, SessionFacts]"]


class Listing(Protocol):
    """What a provider's listing of sessions fills (`SessionList` for a scan, `NameIndex` for the facts
    of a report): each session found, with its holder, and the directories it walked."""

    seen: SeenDirs
    device: int

    def add(self, name: str, holder: str, leaf: str = "") -> None: ...


class NameIndex:
    """Where each session of a listing is held, for the facts a report asks a batch of sessions at a
    time: one listing answers every batch (listing again for each took a first session report of
    500,000 sessions from 220 s to 401 s). Kept small, since a report holds it while it streams its rows: per session
    the 64-bit hash of its name (Python's, stable within the process) and its holder's number, in
    arrays split by the hash's top bits and sorted when first asked (~13 bytes a session, where a
    `SessionList` takes ~40 and a set of the names ~100; no table to regrow, so no moment holds two).
    A leaf (`SessionList.add`) is kept in its bucket's bytes, NUL-ended, found by its offset (offset 0
    is the empty leaf), so a Codex thread takes ~50 bytes where a path string of its own took ~230.
    Two names with the same 64-bit hash would share their holders (odds of ~2**-64 a pair, as for the
    cache's fingerprints). The directories walked (`seen`) are not kept."""

    __slots__ = ("_count", "_hashes", "_holder_numbers", "_holders", "_leaf_starts", "_leaves", "_numbers", "_sorted",
                 "device")

    def __init__(self) -> None:
        self._holders: list[str] = []
        self._holder_numbers: dict[str, int] = {}
        self._hashes = [array("Q") for _ in range(1 << _BUCKET_BITS)]
        self._numbers = [array("I") for _ in range(1 << _BUCKET_BITS)]
        # Made when the first leaf is added: a listing of directories needs none.
        self._leaves: list[bytearray] = []
        self._leaf_starts: list[array[int]] = []
        self._count = 0
        self._sorted = True
        self.device = 0

    @property
    def seen(self) -> SeenDirs:
        return _NO_DIRS

    @seen.setter
    def seen(self, _walked: SeenDirs) -> None:
        """The listing's directories: not needed to find a name's holders, so let go."""

    def add(self, name: str, holder: str, leaf: str = "") -> None:
        """`name` held by `holder + leaf`, as `SessionList.add`."""
        number = self._holder_numbers.get(holder)
        if number is None:
            number = self._holder_numbers[holder] = len(self._holders)
            self._holders.append(holder)
        hashed = hash(name) & _HASH_MASK
        bucket = hashed >> _BUCKET_SHIFT
        if leaf and not self._leaves:
            self._start_leaves()
        self._hashes[bucket].append(hashed)
        self._numbers[bucket].append(number)
        if leaf:
            leaves = self._leaves[bucket]
            self._leaf_starts[bucket].append(len(leaves))
            leaves += _pack_leaf(name, leaf) + b"\0"
        elif self._leaves:
            self._leaf_starts[bucket].append(0)
        self._count += 1
        self._sorted = False

    def _start_leaves(self) -> None:
        """Every bucket's leaves, the sessions added so far with the empty one."""
        self._leaves = [bytearray(b"\0") for _ in self._hashes]
        self._leaf_starts = [array("I", bytes(4 * len(hashes))) for hashes in self._hashes]

    def __len__(self) -> int:
        return self._count

    def _sort(self) -> None:
        """Each bucket by hash, one at a time (a bucket is ~1/1024 of the sessions); stable, so that a
        name's holders stay in the order they were added. A leaf stays where it is: its offset moves."""
        for bucket, hashes in enumerate(self._hashes):
            if len(hashes) > 1:
                order = sorted(range(len(hashes)), key=hashes.__getitem__)
                numbers = self._numbers[bucket]
                self._hashes[bucket] = array("Q", [hashes[at] for at in order])
                self._numbers[bucket] = array("I", [numbers[at] for at in order])
                if self._leaves:
                    starts = self._leaf_starts[bucket]
                    self._leaf_starts[bucket] = array("I", [starts[at] for at in order])
        self._sorted = True

    def holders_of(self, names: AbstractSet[str]) -> dict[str, list[str]]:
        """The holders of each of `names` that was added (with its leaf), in the order they were added
        with it; a name never added is left out."""
        if not self._sorted:
            self._sort()
        holders = self._holders
        found: dict[str, list[str]] = {}
        for name in names:
            hashed = hash(name) & _HASH_MASK
            bucket = hashed >> _BUCKET_SHIFT
            hashes, numbers = self._hashes[bucket], self._numbers[bucket]
            at = bisect_left(hashes, hashed)
            while at < len(hashes) and hashes[at] == hashed:
                holder = holders[numbers[at]]
                if self._leaves and (start := self._leaf_starts[bucket][at]):
                    leaves = self._leaves[bucket]
                    holder += leaves[start:leaves.index(0, start)].decode("utf-8", "surrogatepass").replace("/", name)
                found.setdefault(name, []).append(holder)
                at += 1
        return found


def _pack_leaf(name: str, leaf: str) -> bytes:
    """A leaf as kept beside its session's name: the name in it (a Codex rollout's file name ends with
    its thread's id, 36 of its ~66 bytes) as '/', which no file name holds, so `replace("/", name)`
    gives it back."""
    return (leaf.replace(name, "/") if name else leaf).encode("utf-8", "surrogatepass")


_BUCKET_BITS = 10
_BUCKET_SHIFT = 64 - _BUCKET_BITS
_HASH_MASK = (1 << 64) - 1


class LineParser(Protocol):
    """Turns the candidate lines of one file, in file order, into a Chunk."""

    def line(self, line: Line) -> None:
        """One complete line (without its newline) that holds a needle."""
        ...

    def broken(self, line: Line) -> None:
        """One complete line that holds no needle and cannot be a JSON object (`hot.judge`): counted
        when it is not JSON (`lines.Tally.broken`), and when it is JSON of another kind where every
        line of the format is an object (`lines.Tally.broken_record`)."""
        ...

    def finish(self, end_offset: int, tail: Line | None) -> Chunk:
        """The chunk of the lines seen, consumed up to `end_offset`; `tail` is a last line without its
        newline that holds a needle (counted now, read again next time), or None."""
        ...


class ModelResolver:
    """What a record says of its model → the model's name, with an account's config; `problems`: one
    line for each config file that exists but could not be used, so its models fell back to the
    defaults (said, not silent: the figures are still counted, under the fallback's name)."""

    __slots__ = ("_resolve", "problems")

    def __init__(self, resolve: Callable[[str | None], str], problems: tuple[str, ...] = ()) -> None:
        self._resolve = resolve
        self.problems = problems

    def __call__(self, model: str | None) -> str:
        """The model's name: a call's upstream mark (`records.with_upstream`) is not part of it."""
        return self._resolve(split_upstream(model)[0])

    def shown(self, model: str | None) -> str:
        """The model's name, and after `UPSTREAM_MARK` the upstream provider a call is marked with (as the
        snapshot's model rows tell them apart); the name alone for a call marked with none."""
        name, upstream = split_upstream(model)
        resolved = self._resolve(name)
        return resolved if upstream is None else with_upstream(resolved, upstream)


def config_problem(path: Path | str, reason: str) -> str:
    """The one line that says a config file was not used, and what that means for the figures."""
    from openusage.files import printable

    return f"config file {printable(str(path))} ignored ({reason}); its models fall back to the defaults"


class FileProvider(Protocol):
    """A provider whose usage lives in local append-mostly files."""

    id: str
    title: str
    upstream_provider: str
    missing_message: str
    scopes: tuple[str, ...]  # the kinds of call its records name (Kimi Code: usageScope); () for none
    compaction_scope: str | None  # the scope of context-compaction calls, shown apart on the tile
    # True: a call copied into another account of this provider counts once between them (groups.py).
    shares_calls_across_accounts: bool
    # True: its records say how much of each call's output was reasoning (`UsageRecord.reasoning`),
    # shown as an informational figure; False: the agent does not separate it (not a reported 0).
    reports_reasoning: bool
    # The keys an account's `extra` may hold (its path overrides): settings.py rejects any other, so a
    # typo is an error instead of an override silently not taken.
    extra_keys: tuple[str, ...]
    # Where its agent keeps its data unless told otherwise, as a user writes it ("~/.kimi"), and the
    # environment variable that names another place: what openusage says when it found no account.
    home_default: str
    home_variable: str

    def detect(self, env: Mapping[str, str], *, detailed: bool = False) -> Detection:
        """`detailed`: also count what is there (for `openusage detect`; every other command skips it)."""
        ...

    def walk(self, account: Account, env: Mapping[str, str]) -> Walk:
        """Where the account's files are, checked: found, or why not. Nothing below the top is read."""
        ...

    def list_sessions(self, walk: Walk) -> SessionList:
        """Every session of the walk, once per holder, in this process; files found above the session
        level go to `walk.top_sources`."""
        ...

    def walk_session(self, walk: Walk, session: SessionDir, listing: SessionList) -> list[Source]:
        """The files of one listed session, in any process and any order; its holder and the signature
        of its state go into `walk` (a fresh one per unit of work)."""
        ...

    needles: tuple[bytes, ...]  # a line that holds none of these cannot hold usage

    def parser(self, source: Source, state: bytes | None) -> LineParser:
        """A parser for the lines of `source` from an offset on; `state` is what the previous chunk
        ended with (None from the start of the file). Pure: scan.py opens, reads, fingerprints and
        caches; the provider only turns lines into records."""
        ...

    head_bytes: int  # how much of a file's top `session_info` reads (0: none, its state is elsewhere)

    def session_info(self, holders: Mapping[str, list[str]],
                     heads: Mapping[str, bytes] | None = None) -> dict[str, SessionInfo]:
        """Rank and parent of each session, from its state. `holders`: session -> the holders the walk
        found it in (usually one). `heads`: path -> the first `head_bytes` of a file (all of it when
        shorter), as the read of the whole file just saw them; a file not named there is read here."""
        ...

    def model_resolver(self, account: Account, env: Mapping[str, str]) -> ModelResolver:
        """Turns what a record says of its model into the model's name, with the account's config;
        a config file that cannot be used is named in the resolver's `problems`."""
        ...

    def facts_finder(self, account: Account, env: Mapping[str, str], *, titles: bool) -> FactsFinder:
        """What reports show of sessions, asked a batch of names at a time for one report: the project
        each ran in (as the user knows it), and with `titles` the title the agent shows (else ""). What
        every batch needs (the listing of the sessions) is read once, when the first batch is asked."""
        ...

    def labels_signature(self, account: Account, env: Mapping[str, str]) -> str:
        """A cheap signature of what `facts_finder` reads beyond each session's own state file (a
        home's index of working directories): when it changes, cached facts are derived again."""
        ...

    def write_demo(self, home: Path, now: datetime) -> bool:
        """Write a realistic sample home of the agent into `home` (a new directory), its latest activity
        just before `now`, for `openusage --demo`; False where the provider has no sample (nothing is
        written). The same `now` gives the same bytes."""
        ...

@runtime_checkable
class RemoteSource(Protocol):
    """A provider whose figures come from a service: it fetches one account's reading on demand.

    `fetch` never raises for anything the service or the user's files do (each case is a state of the
    reading), never waits past `deadline` (a `time.monotonic()` value) by much, and puts no secret in
    what it returns. It runs on a thread of its own."""

    id: str
    title: str
    extra_keys: tuple[str, ...]  # the keys an account's `extra` may hold in settings
    # How a user turns its tile on, said after its title in `--help` ("when MOONSHOT_API_KEY is set").
    turned_on_by: str

    def detect(self, env: Mapping[str, str], *, detailed: bool = False,
               configured: Sequence[Account] = ()) -> Detection:
        """Never opens a socket, even with `detailed`. `configured`: the settings' accounts of this
        provider, so that what `openusage detect` says of the tile agrees with the accounts it lists."""
        ...

    def fetch(self, account: Account, env: Mapping[str, str], *, now: datetime, deadline: float) -> "Reading": ...

    def credential(self, account: Account) -> str:
        """What names the secret `account`'s fetch sends (the variable that holds a key): an account
        detected by default is not added beside a configured one that sends the same secret, which
        would send it to the default host as well."""
        ...

    def unfetched(self, account: Account, env: Mapping[str, str], *, now: datetime) -> "Reading | None":
        """The reading of an account that is not fetched (`--offline`), when what is on this machine
        decides it without the service: no key, no sign-in or an expired one. Reads local files only,
        never opens a socket; None when only the service could say (the last good answer is shown)."""
        ...

    def binding(self, account: Account, env: Mapping[str, str]) -> str | None:
        """The secret `account`'s fetch would send and the host it would go to, as one text that holds
        a fingerprint of the secret (a hash: never the secret itself); None when there is nothing to bind
        (no secret, or one that changes on its own, such as a short-lived token). One secret goes to one
        host: an account that would send a secret another account sends elsewhere is refused, and a
        cached answer is shown only for the binding it was fetched with (`fetching`)."""
        ...


Provider = FileProvider | RemoteSource


def remote_source(provider: Provider) -> RemoteSource | None:
    """The provider as a remote source, or None when it reads local files."""
    return provider if isinstance(provider, RemoteSource) else None


def fingerprint(secret: str) -> str:
    """A secret's fingerprint for `RemoteSource.binding`: 64 bits of a keyed hash, which tell two keys
    apart and give nothing of either (a key holds far more than 64 bits of chance)."""
    import hashlib  # a remote account's only

    data = secret.encode("utf-8", "surrogatepass")
    return hashlib.blake2b(data, digest_size=8, person=b"openusage.key").hexdigest()
