"""The links every session's state names, followed across sessions (`lineage.Lineage`); lineage roots in
call keys and the fold that moves calls to their lineage's root (`fold.reroot`): the same whatever
order the states come in."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from openusage.fold import Call, reroot
from openusage.lineage import Lineage, classes, key_root, local_root, rerooted, touched, widened
from openusage.records import SessionInfo


def key(root: str, total: str = "(1, 0, 1, 0, 2)", last: str = "(1, 0, 1, 0, 2)") -> str:
    return f"x\x1f{root}\x1f{total}\x1f{last}"


def test_a_key_names_its_root_whatever_the_root_holds() -> None:
    assert key_root(key("r")) == "r"
    assert key_root(key("a\x1fb")) == "a\x1fb"  # a thread id is JSON text: it may hold the separator
    assert key_root(key("")) == ""
    assert key_root("t\x1fthread\x1f\"2026\"\x1f(1, 0, 1, 0, 2)") is None  # keyed by thread and time
    assert key_root("m\x1fchatcmpl-1\x1f1\x1f2\x1f3\x1f4") is None  # another provider's key
    assert rerooted(key("a\x1fb"), "r") == key("r")
    assert rerooted(key("p", "(2, 0, 2, 0, 4)", "None"), "r") == key("r", "(2, 0, 2, 0, 4)", "None")


def chains(*pairs: tuple[str, tuple[str, ...]]) -> dict[str, SessionInfo]:
    """Sessions whose own state names these ancestors, nearest first (Codex's heads)."""
    return {name: SessionInfo(0, chain[0] if chain else None, None, chain[1:]) for name, chain in pairs}


def link(child: str, parent: str, spawned: bool = False) -> tuple[str, str, bool]:
    return (child, parent, spawned)


def test_the_links_of_every_head_lead_to_the_oldest_thread() -> None:
    # F names P; P names R (its own head); Q names P and R. F's keys are under P, the others' under R.
    assert Lineage(chains(("f", ("p",)), ("p", ("r",)), ("q", ("p", "r")), ("r", ()))).remap() == {"p": "r"}
    assert Lineage(chains(("f", ("p",)))).remap() == {}  # nothing names P's parent: P is the root
    assert Lineage(chains(("f", ("p", "r")))).remap() == {}  # a head naming its whole chain moves nothing
    assert Lineage({}).remap() == {}


def test_a_link_the_chain_does_not_reach_counts_too() -> None:
    """C's head copies B's session_meta (B forked from A) but not M's, between C and B: the chain from C
    stops at M, and the link from B to A is still followed (codex-cli-format.md, Readings settled 1)."""
    infos = {"c": SessionInfo(0, "m", None, (), (link("c", "m"), link("b", "a"))), **chains(("d", ("b",)))}
    lineage = Lineage(infos)
    assert lineage.remap() == {"b": "a"}
    assert lineage.ancestors() == {"c": {"m"}, "d": {"b", "a"}}


def test_a_plain_session_another_head_names_a_parent_of_is_moved_too() -> None:
    # X's own head names no ancestor (its keys are under X); Q's copy of X's session_meta names Y.
    infos = chains(("q", ("x", "y")))
    assert Lineage(infos).remap() == {}
    assert Lineage(infos).remap(lambda thread: thread == "x") == {"x": "y"}
    assert Lineage({**infos, **chains(("x", ()))}).remap() == {"x": "y"}


def test_a_threads_own_head_names_its_parent_and_the_others_fill_in_the_one_that_sorts_first() -> None:
    # P's own head says R2; F's copy says R1: P's own wins. M has no head: the copies' smallest wins.
    infos = {**chains(("f", ("p", "r1")), ("p", ("r2",))),
             "x": SessionInfo(0, None, None, (), (link("m", "b"),)),
             "y": SessionInfo(0, None, None, (), (link("m", "a"),))}
    lineage = Lineage(infos)
    assert lineage.parent == {"f": "p", "p": "r2", "m": "a"}
    assert lineage.ancestors()["f"] == {"p", "r2"}


def test_a_cycle_of_links_goes_to_its_member_that_sorts_first() -> None:
    lineage = Lineage(chains(("a", ("b",)), ("b", ("c",)), ("c", ("b",))))
    assert lineage.root("a") == lineage.root("b") == lineage.root("c") == "b"
    assert lineage.remap() == {"c": "b"}
    assert Lineage(chains(("a", ("a",)))).remap() == {}


def test_a_subagent_joins_the_top_thread_through_spawn_links_any_head_names() -> None:
    """D was spawned by B (its head says no more); C, a user fork of B, copies B's session_meta: B was
    spawned by A. D counts toward A ("Readings settled" 6); C, a fork, joins nothing."""
    infos = {"d": SessionInfo(0, "b", "b", (), (link("d", "b", True),)),
             "c": SessionInfo(0, "b", None, ("a",), (link("c", "b"), link("b", "a", True)))}
    assert Lineage(infos).joins() == {"d": "a"}
    # A subagent of a user fork folds to the fork: the fork link is not followed.
    infos = {"s": SessionInfo(0, "f", "f", (), (link("s", "f", True),)),
             "f": SessionInfo(0, "a", None, (), (link("f", "a"),))}
    assert Lineage(infos).joins() == {"s": "f"}


names = st.sampled_from("abcdefg")


@given(st.lists(st.tuples(names, st.lists(names, max_size=4), st.lists(st.tuples(names, names, st.booleans()),
                                                                    max_size=3)), max_size=8), st.randoms())
def test_nothing_depends_on_the_order_of_the_states(raw: list[tuple[str, list[str], list[tuple[str, str, bool]]]],
                                                    rng: random.Random) -> None:
    infos = {name: SessionInfo(0, chain[0] if chain else None, chain[0] if chain and links and links[0][2] else None,
                               tuple(chain[1:]), tuple(links)) for name, chain, links in raw}
    lineage = Lineage(infos)
    shuffled = list(infos.items())
    rng.shuffle(shuffled)
    again = Lineage(dict(shuffled))
    assert (again.remap(), again.ancestors(), again.joins()) == (lineage.remap(), lineage.ancestors(), lineage.joins())
    remap = lineage.remap()
    assert all(root not in remap for root in remap.values())  # a root leads nowhere further


def test_a_sessions_own_root_is_the_oldest_ancestor_its_state_names() -> None:
    assert local_root("f", SessionInfo(0, "p", None, ("r",))) == "r"
    assert local_root("f", SessionInfo(0, "p")) == "p"
    assert local_root("f", SessionInfo(0, None)) == "f"
    assert local_root("f", None) == "f"


def test_the_keys_a_refresh_refolds_are_widened_to_every_root_they_fold_with() -> None:
    joined = classes({"p": "r"}, {"q": "r"})
    assert joined["p"] == joined["q"] == joined["r"] == {"p", "q", "r"}
    assert widened({key("p"), "t\x1fthread\x1f0\x1fNone"}, joined) == {
        key("p"), key("q"), key("r"), "t\x1fthread\x1f0\x1fNone"}
    assert widened({key("s")}, joined) == {key("s")}
    assert touched({"p": "r"}) == {"p", "r"}


def _call(session: str, ts: float) -> Call:
    return Call(session, 0, ts, "gpt-5", 100, 10, 0, 0, None, 1, None, 0)


def test_calls_keyed_under_a_thread_that_leads_further_fold_into_the_roots_call() -> None:
    calls = {key("r"): _call("r", 10.0), key("p"): _call("f", 20.0), key("p", "(9, 0, 9, 0, 18)"): _call("f", 30.0),
             key("s"): _call("s", 40.0)}
    reroot(calls, {"p": "r"})
    assert set(calls) == {key("r"), key("r", "(9, 0, 9, 0, 18)"), key("s")}
    folded = calls[key("r")]
    assert (folded.copies, folded.ts) == (2, 10.0)
    assert sorted(folded.holders or ()) == [(0, "f", "gpt-5", 20.0), (0, "r", "gpt-5", 10.0)]
    assert calls[key("r", "(9, 0, 9, 0, 18)")].session == "f"  # moved alone: still its one holder's


def test_a_session_holding_a_thread_of_another_id_is_that_thread_to_its_descendants() -> None:
    """A renamed rollout X holds thread Y (`SessionInfo.thread`): X joins Y's session, its keys' root is
    Y, and C, a fork of Y, descends from X as from Y (so a call X and C share is X's, then Y's)."""
    x = SessionInfo(0, None, "y", thread="y")
    infos = {"x": x, "c": SessionInfo(0, "y")}
    lineage = Lineage(infos)
    assert lineage.ancestors() == {"c": frozenset({"y", "x"})}
    assert lineage.joins() == {"x": "y"}
    assert local_root("x", x) == "y"
    assert local_root("c", infos["c"]) == "y"
