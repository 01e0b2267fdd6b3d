"""Accounts and sessions over the live gateway: register, sign in, refresh, sign out, me,
change password, the first admin."""

from __future__ import annotations

import asyncio
import sys
import uuid

import httpx

from tests.integration.api.conftest import PASSWORD, Person, register, sign_in


def _email() -> str:
    return f"user-{uuid.uuid4().hex[:12]}@example.com"


async def test_registering_creates_a_customer_who_can_sign_in(client: httpx.AsyncClient) -> None:
    email = _email()
    response = await client.post(
        "/users", json={"email": f"  {email.upper()} ", "password": PASSWORD, "name": "Ada"}
    )
    assert response.status_code == 202
    assert response.json()["email"] == email  # trimmed and lower-cased
    person = await sign_in(client, email)
    me = (await client.get("/users/me", headers=person.headers)).json()
    assert me["role"] == "customer"
    assert set(me) == {"user_id", "email", "name", "role", "created_at"}


async def test_registration_does_not_tell_whether_an_email_has_an_account(
    client: httpx.AsyncClient,
) -> None:
    person = await register(client)
    new_email = _email()
    taken = await client.post(
        "/users", json={"email": person.email, "password": f"{PASSWORD}!", "name": "Twin"}
    )
    fresh = await client.post(
        "/users", json={"email": new_email, "password": f"{PASSWORD}!", "name": "Twin"}
    )
    assert taken.status_code == fresh.status_code == 202
    assert taken.headers["content-type"] == fresh.headers["content-type"]
    assert taken.json() == {**fresh.json(), "email": person.email}
    # Nothing visible happened to the existing account: its own password still signs in, the
    # one sent with the second registration does not, and its name is unchanged.
    again = await sign_in(client, person.email)
    assert again.user_id == person.user_id
    me = (await client.get("/users/me", headers=again.headers)).json()
    assert me["name"] == "Customer"
    stolen = await client.post(
        "/auth/login", json={"email": person.email, "password": f"{PASSWORD}!"}
    )
    assert stolen.status_code == 401


async def test_registering_as_admin_is_refused_and_says_role_is_not_accepted(
    client: httpx.AsyncClient,
) -> None:
    email = _email()
    response = await client.post(
        "/users", json={"email": email, "password": PASSWORD, "name": "Eve", "role": "admin"}
    )
    assert response.status_code == 422
    assert "body.role: Extra inputs are not permitted" in response.json()["detail"]
    # Nothing was created: the same email registers normally afterwards.
    normal = await client.post("/users", json={"email": email, "password": PASSWORD, "name": "E"})
    assert normal.status_code == 202
    me = await client.get("/users/me", headers=(await sign_in(client, email)).headers)
    assert me.json()["role"] == "customer"


async def test_short_passwords_and_malformed_emails_are_refused(client: httpx.AsyncClient) -> None:
    short = await client.post(
        "/users", json={"email": _email(), "password": "too-short", "name": "S"}
    )
    malformed = await client.post(
        "/users", json={"email": "not-an-email", "password": PASSWORD, "name": "S"}
    )
    assert short.status_code == 422
    assert "body.password" in short.json()["detail"]
    assert malformed.status_code == 422
    assert "body.email" in malformed.json()["detail"]


async def test_a_wrong_password_and_an_unknown_email_get_the_same_answer(
    client: httpx.AsyncClient, customer: Person
) -> None:
    wrong = await client.post(
        "/auth/login", json={"email": customer.email, "password": "not the password"}
    )
    unknown = await client.post("/auth/login", json={"email": _email(), "password": PASSWORD})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["detail"] == unknown.json()["detail"]


async def test_me_answers_who_the_token_belongs_to(
    client: httpx.AsyncClient, customer: Person
) -> None:
    response = await client.get("/users/me", headers=customer.headers)
    assert response.status_code == 200
    assert response.json()["email"] == customer.email


async def test_me_without_a_token_is_401_with_a_bearer_challenge(client: httpx.AsyncClient) -> None:
    response = await client.get("/users/me")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.headers["content-type"] == "application/problem+json"


async def test_refreshing_rotates_the_refresh_token(
    client: httpx.AsyncClient, customer: Person
) -> None:
    first = await client.post("/auth/refresh", json={"refresh_token": customer.refresh_token})
    second = await client.post(
        "/auth/refresh", json={"refresh_token": first.json()["refresh_token"]}
    )
    assert first.status_code == second.status_code == 200
    assert first.json()["refresh_token"] != customer.refresh_token
    me = await client.get(
        "/users/me", headers={"Authorization": f"Bearer {second.json()['access_token']}"}
    )
    assert me.json()["user_id"] == customer.user_id


async def test_reusing_a_rotated_refresh_token_revokes_the_whole_session(
    client: httpx.AsyncClient, customer: Person
) -> None:
    rotated = await client.post("/auth/refresh", json={"refresh_token": customer.refresh_token})
    current = rotated.json()["refresh_token"]
    replayed = await client.post("/auth/refresh", json={"refresh_token": customer.refresh_token})
    after = await client.post("/auth/refresh", json={"refresh_token": current})
    assert replayed.status_code == 401
    assert "revoked" in replayed.json()["detail"]
    assert after.status_code == 401  # the legitimate holder's token died with the family


async def test_of_two_concurrent_refreshes_with_one_token_at_most_one_succeeds(
    client: httpx.AsyncClient, customer: Person
) -> None:
    answers = await asyncio.gather(
        *(
            client.post("/auth/refresh", json={"refresh_token": customer.refresh_token})
            for _ in range(5)
        )
    )
    assert sum(answer.status_code == 200 for answer in answers) <= 1
    assert all(answer.status_code in {200, 401} for answer in answers)


async def test_forged_and_malformed_refresh_tokens_are_refused(
    client: httpx.AsyncClient, customer: Person
) -> None:
    family, generation, mac = customer.refresh_token.split(".")
    for token in (
        f"{family}.{int(generation) + 1}.{mac}",  # a later generation, the old signature
        f"{family}.{generation}.{mac[:-2]}AA",
        "garbage",
    ):
        response = await client.post("/auth/refresh", json={"refresh_token": token})
        assert response.status_code == 401, token
    garbage_logout = await client.post("/auth/logout", json={"refresh_token": "garbage"})
    assert garbage_logout.status_code == 401
    # None of those touched the real session.
    still = await client.post("/auth/refresh", json={"refresh_token": customer.refresh_token})
    assert still.status_code == 200


async def test_a_refresh_token_with_a_digit_int_cannot_read_is_a_401_problem(
    client: httpx.AsyncClient,
) -> None:
    # "²" is a digit to str.isdigit but not to int(): this was a 500.
    for token in ("x.\u00b2.y", "x.\u0667.y"):
        for path in ("/auth/refresh", "/auth/logout"):
            response = await client.post(path, json={"refresh_token": token})
            assert response.status_code == 401, (path, response.text)
            assert response.headers["content-type"] == "application/problem+json"
            assert response.json()["detail"] == (
                "The refresh token cannot be used: refresh token not valid."
            )


async def test_after_logout_the_refresh_token_is_refused(
    client: httpx.AsyncClient, customer: Person
) -> None:
    out = await client.post("/auth/logout", json={"refresh_token": customer.refresh_token})
    again = await client.post("/auth/logout", json={"refresh_token": customer.refresh_token})
    refresh = await client.post("/auth/refresh", json={"refresh_token": customer.refresh_token})
    assert out.status_code == 204
    assert again.status_code == 204  # signing out twice is not an error
    assert refresh.status_code == 401


async def test_changing_the_password_ends_other_sessions_and_keeps_this_one(
    client: httpx.AsyncClient, customer: Person
) -> None:
    other_device = await sign_in(client, customer.email)
    new_password = "an even longer passphrase for the test"
    changed = await client.post(
        "/users/me/password",
        json={"current_password": PASSWORD, "new_password": new_password},
        headers=customer.headers,
    )
    assert changed.status_code == 200
    old_session = await client.post(
        "/auth/refresh", json={"refresh_token": other_device.refresh_token}
    )
    new_session = await client.post(
        "/auth/refresh", json={"refresh_token": changed.json()["refresh_token"]}
    )
    old_password = await client.post(
        "/auth/login", json={"email": customer.email, "password": PASSWORD}
    )
    assert old_session.status_code == 401
    assert new_session.status_code == 200
    assert old_password.status_code == 401
    assert (await sign_in(client, customer.email, new_password)).user_id == customer.user_id


async def test_changing_the_password_needs_the_current_one(
    client: httpx.AsyncClient, customer: Person
) -> None:
    response = await client.post(
        "/users/me/password",
        json={"current_password": "not it at all", "new_password": "whatever long enough"},
        headers=customer.headers,
    )
    assert response.status_code == 401
    assert (await sign_in(client, customer.email)).user_id == customer.user_id


async def test_the_admin_command_made_an_admin(client: httpx.AsyncClient, admin: Person) -> None:
    me = await client.get("/users/me", headers=admin.headers)
    assert me.json()["role"] == "admin"


async def test_the_admin_command_promotes_an_existing_account(
    client: httpx.AsyncClient, customer: Person
) -> None:
    made = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "api", "create-admin", customer.email),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(made.communicate(), 60)
    assert made.returncode == 0, err.decode()
    assert out.decode().startswith(f"promoted admin {customer.email}")
    # The role is read at sign-in: a new token carries it.
    promoted = await sign_in(client, customer.email)
    me = await client.get("/users/me", headers=promoted.headers)
    assert me.json()["role"] == "admin"
