"""Options of the test run itself (pytest reads them only from the tests' root conftest).

``--fuzz-examples N``: how many requests schemathesis generates for each operation of the
gateway in ``tests/integration/api/test_fuzz.py``, as each role (beyond the document's own
examples and the coverage cases). The default keeps the run within CI's budget; the longer run
is docs/fuzzing.md's.
"""

from __future__ import annotations

import hypothesis
import pytest

FUZZ_EXAMPLES_DEFAULT = 20
FUZZ_PROFILE = "shopstream-fuzz"
# A guard against a hang only, so generous: an example is a request or two to a real gateway
# (some hash a password) on a machine that may be busy with other work.
FUZZ_SECONDS_PER_EXAMPLE = 1.0
FUZZ_FIXTURE = "fuzz_gateway"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--fuzz-examples",
        type=int,
        default=FUZZ_EXAMPLES_DEFAULT,
        metavar="N",
        help="requests schemathesis generates per gateway operation and role "
        f"(default {FUZZ_EXAMPLES_DEFAULT}, what CI runs)",
    )


def pytest_configure(config: pytest.Config) -> None:
    # schemathesis makes each operation's Hypothesis test when it collects the module, and takes
    # max_examples from the loaded profile. The schemathesis run is the only Hypothesis user.
    hypothesis.settings.register_profile(
        FUZZ_PROFILE,
        hypothesis.settings.get_profile("default"),
        max_examples=config.getoption("fuzz_examples"),
    )
    hypothesis.settings.load_profile(FUZZ_PROFILE)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # pytest-timeout's limit is fixed when a test starts: each fuzzed operation gets one that
    # grows with the examples asked for, unless --timeout says otherwise.
    if config.getoption("timeout", None) is not None:
        return
    seconds = max(300.0, config.getoption("fuzz_examples") * FUZZ_SECONDS_PER_EXAMPLE)
    for item in items:
        if FUZZ_FIXTURE in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.timeout(seconds))
