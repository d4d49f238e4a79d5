"""`fold.settle` chooses every shared call's owner by the rule written in fold.py's docstring: among the
holders that are not a fork of another holder, the lowest (rank, marked, session); then a session that
joins another hands its calls on. Two holders (a fork's copy, most shared calls) take a path of their
own; both paths are checked here against the rule written out plainly. A call keyed within a lineage
(`lineage.ROOTED`) then takes the model of its owner's earliest copy; any other keeps the smallest a
copy names, as folding left it."""

from hypothesis import given
from hypothesis import strategies as st

from openusage.fold import Call, Calls, Holder, joined_to, rejoin, settle
from openusage.lineage import ROOTED

SESSIONS = ["a", "b", "c", "d"]
holder = st.tuples(st.integers(0, 1), st.sampled_from(SESSIONS), st.sampled_from([None, "m1", "m2", "m3"]),
                   st.sampled_from([None, 1.0, 2.0]))


def _call(holders: list[Holder]) -> Call:
    marked, session, _model, _ts = holders[0]
    named = [model for _, _, model, _ in holders if model is not None]
    return Call(session, marked, 1.0, min(named) if named else None, 1, 2, 3, 4, None, len(holders),
                list(holders), 0)


def _keyed(calls: list[Call], rooted: bool = False) -> Calls:
    return {f"{ROOTED if rooted else 'k'}{i}\x1fr\x1f(1, 0, 1, 0, 1)\x1f(1, 0, 1, 0, 1)": call
            for i, call in enumerate(calls)}


def _by_the_rule(holders: list[Holder], ranks: dict[str, int],
                 ancestors: dict[str, frozenset[str]]) -> tuple[int, str]:
    sessions = {session for _, session, _, _ in holders}
    originals = [(m, s) for m, s, _, _ in holders if not (ancestors.get(s, frozenset()) & sessions)]
    _rank, marked, session = sorted((ranks.get(s, 0), m, s) for m, s in (originals or [h[:2] for h in holders]))[0]
    return marked, session


@given(st.lists(st.lists(holder, min_size=2, max_size=4), min_size=1, max_size=20),
       st.dictionaries(st.sampled_from(SESSIONS), st.integers(0, 3)),
       st.dictionaries(st.sampled_from(SESSIONS), st.frozensets(st.sampled_from(SESSIONS), max_size=2)),
       st.booleans())
def test_every_shared_call_goes_to_the_holder_the_rule_names(holder_lists: list[list[Holder]],
                                                             ranks: dict[str, int],
                                                             ancestors: dict[str, frozenset[str]],
                                                             rooted: bool) -> None:
    calls = [_call(holders) for holders in holder_lists]
    settle(_keyed(calls, rooted), ranks, ancestors)
    for call, holders in zip(calls, holder_lists, strict=True):
        owner = _by_the_rule(holders, ranks, ancestors)
        assert (call.marked, call.session) == owner
        if rooted:  # the owner's earliest copy's: by time (none last), then the smallest model (none last)
            owners = [(ts is None, ts or 0.0, model is None, model or "", model)
                      for _, session, model, ts in holders if session == owner[1]]
            assert call.model == min(owners)[4]
        else:  # the smallest any copy names
            named = sorted(model for _, _, model, _ in holders if model is not None)
            assert call.model == (named[0] if named else None)


def test_two_holders_tied_on_rank_go_to_the_unmarked_then_the_lower_name() -> None:
    unmarked_later = _call([(1, "a", "m", 1.0), (0, "b", "m", 1.0)])
    same_mark = _call([(0, "b", "m", 1.0), (0, "a", "m", 1.0)])
    lower_rank = _call([(0, "a", "m", 1.0), (0, "b", "m", 1.0)])
    settle(_keyed([unmarked_later, same_mark, lower_rank]), {"a": 1}, {})
    assert (unmarked_later.marked, unmarked_later.session) == (0, "b")
    assert (same_mark.marked, same_mark.session) == (0, "b")  # "a" has rank 1 here
    assert (lower_rank.marked, lower_rank.session) == (0, "b")


def test_a_call_held_once_keeps_its_holder_and_a_joining_session_hands_its_calls_on() -> None:
    alone = Call("a", 0, 1.0, "m", 1, 2, 3, 4, None, 1, None, 0)
    shared = _call([(0, "sub", "m", 1.0), (0, "z", "m", 1.0)])
    settle(_keyed([alone, shared]), {}, {}, {"sub": "parent"})
    assert (alone.marked, alone.session) == (0, "a")
    assert shared.session == "parent"  # "sub" < "z" owns it, then joins its parent


def test_joined_to_follows_each_link_to_the_top_and_stops_at_a_cycle() -> None:
    assert joined_to({"s2": "s1", "s1": "a", "g": "x"}) == {"s2": "a", "s1": "a", "g": "x"}
    assert joined_to({"p": "q", "q": "p"}) == {"p": "p", "q": "q"}  # a cycle: each stops before repeating
    assert joined_to({}) == {}


def test_a_call_owned_by_a_subagents_subagent_counts_toward_the_top_thread() -> None:
    inner = _call([(0, "s2", "m", 1.0), (0, "z", "m", 1.0)])
    alone = Call("s2", 0, 1.0, "m", 1, 2, 3, 4, None, 1, None, 0)
    settle(_keyed([inner]), {}, {}, {"s2": "s1", "s1": "a"})
    rejoin([alone], joined_to({"s2": "s1", "s1": "a"}))
    assert inner.session == "a"
    assert alone.session == "a"


def test_a_call_keyed_within_a_lineage_is_on_its_owners_model_and_another_on_the_smallest() -> None:
    """The fork's copy names `a-model`, which sorts first; the owner (the fork's parent) names `z-model`
    in its earliest copy, and `b-model` in a later one (a stale total repeated), which comes first."""
    holders: list[Holder] = [(0, "fork", "a-model", 1.0), (0, "parent", "b-model", 3.0),
                             (0, "parent", "z-model", 2.0)]
    within, other = _call(holders), _call(holders)
    settle(_keyed([within], rooted=True), {}, {"fork": frozenset({"parent"})})
    settle(_keyed([other]), {}, {"fork": frozenset({"parent"})})
    assert (within.session, within.model) == ("parent", "z-model")
    assert (other.session, other.model) == ("parent", "a-model")
    unnamed = _call([(0, "fork", "a-model", 1.0), (0, "parent", "b-model", 3.0), (0, "parent", None, 2.0)])
    settle(_keyed([unnamed], rooted=True), {}, {"fork": frozenset({"parent"})})
    assert unnamed.model is None  # the owner's file names none then: config.toml's, else `unknown`
    twins = _call([(0, "parent", None, 2.0), (0, "parent", "b-model", 2.0), (0, "parent", "a-model", None)])
    settle(_keyed([twins], rooted=True), {}, {})
    assert twins.model == "b-model"  # one time in two files: a named model before none; a time before none
