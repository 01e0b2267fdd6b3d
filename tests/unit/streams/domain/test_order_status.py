from itertools import product

import pytest

from streams.domain.order_status import (
    TERMINAL,
    OrderStatus,
    TransitionRefused,
    allowed_targets,
    transition,
)

S = OrderStatus

# The specification, restated here on purpose: the test must not read the table it checks.
ALLOWED = {
    (S.PENDING, S.RESERVED),
    (S.PENDING, S.REJECTED),
    (S.PENDING, S.CANCELLED),
    (S.PENDING, S.EXPIRED),
    (S.RESERVED, S.PAID),
    (S.RESERVED, S.PAYMENT_FAILED),
    (S.RESERVED, S.CANCELLED),
    (S.RESERVED, S.EXPIRED),
    (S.PAYMENT_FAILED, S.PENDING),
    (S.PAYMENT_FAILED, S.CANCELLED),
    (S.PAYMENT_FAILED, S.EXPIRED),
    (S.PAID, S.SHIPPED),
    (S.PAID, S.SHIPPING_PROBLEM),
    (S.PAID, S.CANCELLED),
    (S.SHIPPING_PROBLEM, S.SHIPPED),
    (S.SHIPPING_PROBLEM, S.CANCELLED),
    (S.SHIPPED, S.DELIVERED),
}
REFUSED = sorted(set(product(S, S)) - ALLOWED)


def _id(pair: tuple[OrderStatus, OrderStatus]) -> str:
    return f"{pair[0]}->{pair[1]}"


@pytest.mark.parametrize("pair", sorted(ALLOWED), ids=_id)
def test_an_allowed_transition_returns_its_target(pair: tuple[OrderStatus, OrderStatus]) -> None:
    current, target = pair
    assert transition(current, target) is target


@pytest.mark.parametrize("pair", REFUSED, ids=_id)
def test_a_forbidden_transition_is_refused_naming_both_statuses(
    pair: tuple[OrderStatus, OrderStatus],
) -> None:
    current, target = pair
    with pytest.raises(TransitionRefused) as caught:
        transition(current, target)
    refusal = caught.value
    assert (refusal.current, refusal.target) == (current, target)
    assert refusal.reason.startswith(f"cannot go from {current} to {target}: ")
    assert str(refusal) == refusal.reason


def test_the_whole_matrix_is_covered() -> None:
    assert len(ALLOWED) + len(REFUSED) == len(S) ** 2 == 100


def test_statuses_travel_as_lower_case_strings() -> None:
    assert S.PAYMENT_FAILED.value == "payment_failed"
    assert [status.value for status in S] == [status.name.lower() for status in S]


def test_terminal_statuses_are_delivered_rejected_cancelled_and_expired() -> None:
    assert {S.DELIVERED, S.REJECTED, S.CANCELLED, S.EXPIRED} == TERMINAL
    assert all(allowed_targets(status) == frozenset() for status in TERMINAL)


def test_leaving_a_terminal_status_is_refused_as_final() -> None:
    with pytest.raises(TransitionRefused, match="delivered is final"):
        transition(S.DELIVERED, S.CANCELLED)


def test_cancelling_a_shipped_order_is_refused_with_advice_to_return_it() -> None:
    with pytest.raises(TransitionRefused, match="ask for a return instead"):
        transition(S.SHIPPED, S.CANCELLED)


def test_staying_in_the_same_status_is_refused_as_already_there() -> None:
    with pytest.raises(TransitionRefused, match="the order is already paid"):
        transition(S.PAID, S.PAID)


def test_other_refusals_list_where_the_order_may_go() -> None:
    with pytest.raises(TransitionRefused, match="from reserved it may only go to cancelled, "):
        transition(S.RESERVED, S.SHIPPED)


def test_every_status_is_reachable_from_pending_and_can_reach_an_end() -> None:
    reachable = {S.PENDING}
    frontier = [S.PENDING]
    while frontier:
        for target in allowed_targets(frontier.pop()):
            if target not in reachable:
                reachable.add(target)
                frontier.append(target)
    assert reachable == set(S)
    for status in S:
        seen, frontier = {status}, [status]
        while frontier:
            for target in allowed_targets(frontier.pop()) - seen:
                seen.add(target)
                frontier.append(target)
        assert seen & TERMINAL, f"{status} can never end"
