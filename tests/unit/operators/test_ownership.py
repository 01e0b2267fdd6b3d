from __future__ import annotations

import pytest

from operators.decisions.ownership import Ownership, ownership
from operators.problems import Refused


def test_an_absent_resource_is_created() -> None:
    assert ownership("queue q", exists=False, claimed=False, adopt=False) is Ownership.CREATE


def test_a_resource_this_object_claimed_is_its_own_even_after_a_crash() -> None:
    assert ownership("queue q", exists=True, claimed=True, adopt=False) is Ownership.OWNED


def test_someone_elses_resource_is_adopted_only_when_the_spec_says_so() -> None:
    assert ownership("queue q", exists=True, claimed=False, adopt=True) is Ownership.ADOPT
    with pytest.raises(Refused) as refused:
        ownership("queue q", exists=True, claimed=False, adopt=False)
    assert refused.value.reason == "AlreadyExists"
    assert "spec.adopt" in refused.value.message
