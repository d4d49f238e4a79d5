"""`fold.settle` chooses every shared call's owner by the rule written in fold.py's docstring: among the
holders that are not a fork of another holder, the lowest (rank, marked, session); then a session that
joins another hands its calls on. Two holders (a fork's copy, most shared calls) take a path of their
own; both paths are checked here against the rule written out plainly."""

from hypothesis import given
from hypothesis import strategies as st

from openusage.fold import Call, joined_to, rejoin, settle

SESSIONS = ["a", "b", "c", "d"]
holder = st.tuples(st.integers(0, 1), st.sampled_from(SESSIONS))


def _call(holders: list[tuple[int, str]]) -> Call:
    marked, session = holders[0]
    return Call(session, marked, 1.0, "m", 1, 2, 3, 4, None, len(holders), list(holders), 0)


def _by_the_rule(holders: list[tuple[int, str]], ranks: dict[str, int],
                 ancestors: dict[str, frozenset[str]]) -> tuple[int, str]:
    sessions = {session for _, session in holders}
    originals = [(m, s) for m, s in holders if not (ancestors.get(s, frozenset()) & sessions)]
    _rank, marked, session = sorted((ranks.get(s, 0), m, s) for m, s in (originals or holders))[0]
    return marked, session


@given(st.lists(st.lists(holder, min_size=2, max_size=4), min_size=1, max_size=20),
       st.dictionaries(st.sampled_from(SESSIONS), st.integers(0, 3)),
       st.dictionaries(st.sampled_from(SESSIONS), st.frozensets(st.sampled_from(SESSIONS), max_size=2)))
def test_every_shared_call_goes_to_the_holder_the_rule_names(holder_lists: list[list[tuple[int, str]]],
                                                             ranks: dict[str, int],
                                                             ancestors: dict[str, frozenset[str]]) -> None:
    calls = [_call(holders) for holders in holder_lists]
    settle(calls, ranks, ancestors)
    for call, holders in zip(calls, holder_lists, strict=True):
        assert (call.marked, call.session) == _by_the_rule(holders, ranks, ancestors)


def test_two_holders_tied_on_rank_go_to_the_unmarked_then_the_lower_name() -> None:
    unmarked_later = _call([(1, "a"), (0, "b")])
    same_mark = _call([(0, "b"), (0, "a")])
    lower_rank = _call([(0, "a"), (0, "b")])
    settle([unmarked_later, same_mark, lower_rank], {"a": 1}, {})
    assert (unmarked_later.marked, unmarked_later.session) == (0, "b")
    assert (same_mark.marked, same_mark.session) == (0, "b")  # "a" has rank 1 here
    assert (lower_rank.marked, lower_rank.session) == (0, "b")


def test_a_call_held_once_keeps_its_holder_and_a_joining_session_hands_its_calls_on() -> None:
    alone = Call("a", 0, 1.0, "m", 1, 2, 3, 4, None, 1, None, 0)
    shared = _call([(0, "sub"), (0, "z")])
    settle([alone, shared], {}, {}, {"sub": "parent"})
    assert (alone.marked, alone.session) == (0, "a")
    assert shared.session == "parent"  # "sub" < "z" owns it, then joins its parent


def test_joined_to_follows_each_link_to_the_top_and_stops_at_a_cycle() -> None:
    assert joined_to({"s2": "s1", "s1": "a", "g": "x"}) == {"s2": "a", "s1": "a", "g": "x"}
    assert joined_to({"p": "q", "q": "p"}) == {"p": "p", "q": "q"}  # a cycle: each stops before repeating
    assert joined_to({}) == {}


def test_a_call_owned_by_a_subagents_subagent_counts_toward_the_top_thread() -> None:
    inner = _call([(0, "s2"), (0, "z")])
    alone = Call("s2", 0, 1.0, "m", 1, 2, 3, 4, None, 1, None, 0)
    settle([inner], {}, {}, {"s2": "s1", "s1": "a"})
    rejoin([alone], joined_to({"s2": "s1", "s1": "a"}))
    assert inner.session == "a"
    assert alone.session == "a"
