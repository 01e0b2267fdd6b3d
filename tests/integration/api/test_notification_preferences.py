"""Notification preferences over the live gateway: defaults, replace, validation, auth.
(Verifying the addresses they name: test_address_verification.)"""

from __future__ import annotations

import uuid

import httpx

from tests.integration.api.conftest import Person, register

PATH = "/users/me/notification-preferences"


def unique_phone() -> str:
    # Codes sent to one number are limited per hour, whoever asks: each test a number of its own.
    return f"+1555{uuid.uuid4().int % 10**7:07d}"


async def test_a_customer_who_never_chose_gets_email_and_push_but_no_sms(
    client: httpx.AsyncClient,
) -> None:
    person = await register(client)
    response = await client.get(PATH, headers=person.headers)
    assert response.status_code == 200
    assert response.json() == {
        "email": True,
        "sms": False,
        "push": True,
        "phone": None,
        "email_address": None,
        "email_verified": False,  # the account's e-mail is not confirmed at registration
        "phone_verified": False,
        "awaiting_code": [],  # nothing is sent until preferences are saved
    }


async def test_put_replaces_the_preferences_and_get_reads_them_back(
    client: httpx.AsyncClient, customer: Person
) -> None:
    chosen = {
        "email": False,
        "sms": True,
        "push": False,
        "phone": unique_phone(),
        "email_address": "Orders@Ada.example",
    }
    put = await client.put(PATH, json=chosen, headers=customer.headers)
    got = await client.get(PATH, headers=customer.headers)
    expected = chosen | {
        "email_address": "orders@ada.example",  # normalised like the account's
        "email_verified": False,
        "phone_verified": False,
        "awaiting_code": ["sms"],  # e-mail is off: no code for it
    }
    assert put.status_code == 200
    assert put.json() == expected
    assert got.json() == expected


async def test_a_phone_number_not_in_e164_form_is_refused_with_a_problem(
    client: httpx.AsyncClient, customer: Person
) -> None:
    response = await client.put(
        PATH, json={"sms": True, "phone": "0151 1234567"}, headers=customer.headers
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert "E.164" in response.json()["detail"]


async def test_sms_without_a_phone_number_is_refused(
    client: httpx.AsyncClient, customer: Person
) -> None:
    response = await client.put(PATH, json={"sms": True}, headers=customer.headers)
    assert response.status_code == 422
    assert "sms needs a phone number" in response.json()["detail"]


async def test_a_malformed_notification_email_is_refused(
    client: httpx.AsyncClient, customer: Person
) -> None:
    response = await client.put(
        PATH, json={"email_address": "not-an-address"}, headers=customer.headers
    )
    assert response.status_code == 422
    assert "body.email_address" in response.json()["detail"]


async def test_a_channel_is_true_or_false_not_a_number_or_a_text(
    client: httpx.AsyncClient, customer: Person
) -> None:
    one = await client.put(PATH, json={"email": 1}, headers=customer.headers)
    yes = await client.put(PATH, json={"push": "yes"}, headers=customer.headers)
    assert one.status_code == yes.status_code == 422


async def test_preferences_need_a_signed_in_user(client: httpx.AsyncClient) -> None:
    response = await client.get(PATH)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
