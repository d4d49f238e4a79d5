"""Lineage roots in call keys (`roots.py`) and the fold that moves calls to their lineage's root
(`fold.reroot`): the links of every file's head, followed the same whatever order they come in."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from openusage.fold import Call, reroot
from openusage.records import SessionInfo
from openusage.roots import classes, key_root, local_root, remap_across, remap_of, rerooted, touched, widened


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


def test_the_links_of_every_head_lead_to_the_oldest_thread() -> None:
    # F names P; P names R (its own head); Q names P and R. F's keys are under P, the others' under R.
    chains = [("f", ("p",)), ("p", ("r",)), ("q", ("p", "r")), ("r", ())]
    assert remap_across(chains) == {"p": "r"}
    assert remap_across([("f", ("p",))]) == {}  # nothing names P's parent: P is the root
    assert remap_across([("f", ("p", "r"))]) == {}  # a head naming its whole chain moves nothing
    assert remap_across([]) == {}


def test_a_plain_session_another_head_names_a_parent_of_is_moved_too() -> None:
    # X's own head names no ancestor (its keys are under X); Q's copy of X's session_meta names Y.
    assert remap_across([("q", ("x", "y"))]) == {}
    assert remap_across([("q", ("x", "y"))], plain=lambda thread: thread == "x") == {"x": "y"}
    assert remap_across([("q", ("x", "y")), ("x", ())]) == {"x": "y"}


def test_heads_that_disagree_follow_the_parent_that_sorts_first_and_a_cycle_its_smallest_member() -> None:
    assert remap_across([("f", ("p",)), ("x", ("p", "b")), ("y", ("p", "a"))]) == {"p": "a"}
    assert remap_across([("a", ("b",)), ("b", ("c",)), ("c", ("b",))]) == {"c": "b"}
    assert remap_across([("a", ("a",))]) == {}


@given(st.lists(st.tuples(st.sampled_from("abcdefg"), st.lists(st.sampled_from("abcdefg"), max_size=4)),
                max_size=8), st.randoms())
def test_the_remap_does_not_depend_on_the_order_of_the_heads(chains: list[tuple[str, list[str]]],
                                                              rng: random.Random) -> None:
    remap = remap_across(chains)
    shuffled = list(chains)
    rng.shuffle(shuffled)
    assert remap_across(shuffled) == remap
    assert all(root not in remap for root in remap.values())  # a root leads nowhere further


def test_a_sessions_own_root_is_the_oldest_ancestor_its_state_names() -> None:
    assert local_root("f", SessionInfo(0, "p", None, ("r",))) == "r"
    assert local_root("f", SessionInfo(0, "p")) == "p"
    assert local_root("f", SessionInfo(0, None)) == "f"
    assert local_root("f", None) == "f"
    assert remap_of({"f": SessionInfo(0, "p"), "p": SessionInfo(0, "r")}) == {"p": "r"}


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
    assert (folded.copies, folded.ts, sorted(folded.holders or ())) == (2, 10.0, [(0, "f"), (0, "r")])
    assert calls[key("r", "(9, 0, 9, 0, 18)")].session == "f"  # moved alone: still its one holder's
