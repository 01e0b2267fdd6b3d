"""The refresh token's format and MAC; the DynamoDB side is tested on the live gateway."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pydantic import SecretStr

from api.sessions import SessionError, Sessions
from shopstream.settings import Settings

SETTINGS = Settings()


def _sessions(settings: Settings = SETTINGS) -> Sessions:
    return Sessions(client=None, settings=settings)


def test_a_token_names_its_session_and_generation() -> None:
    sessions = _sessions()
    assert sessions._parse(sessions._token("fam", 7)) == ("fam", 7)


@pytest.mark.parametrize(
    "edit",
    [
        lambda t: t.replace(".7.", ".8."),  # a later generation, the old signature
        lambda t: "other" + t,  # another session
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),
        lambda t: t + ".extra",
        lambda t: t.replace(".7.", ".seven."),
        lambda t: t.replace(".7.", ".\u00b2."),  # a digit to str.isdigit, not to int()
        lambda t: t.replace(".7.", ".\u0667."),  # an Arabic-Indic seven
        lambda t: t.replace(".7.", ".+7."),
    ],
    ids=["generation", "session", "signature", "shape", "number", "superscript", "arabic", "sign"],
)
def test_an_edited_token_is_refused(edit: Callable[[str], str]) -> None:
    sessions = _sessions()
    token = sessions._token("fam", 7)
    with pytest.raises(SessionError):
        sessions._parse(edit(token))


def test_another_deployments_tokens_are_refused() -> None:
    other = Settings(jwt_secret=SecretStr("another deployment's secret, 32+ bytes long"))
    with pytest.raises(SessionError):
        _sessions()._parse(_sessions(other)._token("fam", 1))
