"""The few Kubernetes API calls the reconcilers make beyond kopf's own: read a connection
Secret, look up a referenced resource, and record a claim in a status at once (kopf writes
its patch only when a handler returns, which is too late for a claim).

Plain HTTP with the connection kopf logged in with: a full client library would add seconds
to every start (kubernetes_asyncio takes ~4 s to import here) for three calls.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import httpx
import kopf

from operators.problems import Refused, Unavailable
from operators.specs import SecretRef

GROUP = "messaging.shopstream.io"
VERSION = "v1alpha1"
MERGE_PATCH = "application/merge-patch+json"


def login(settings: kopf.OperatorSettings, logger: kopf.Logger) -> kopf.ConnectionInfo | None:
    """In a pod: its ServiceAccount; elsewhere: the kubeconfig ($KUBECONFIG or ~/.kube)."""
    return kopf.login_with_service_account(
        settings=settings, logger=logger
    ) or kopf.login_with_kubeconfig(settings=settings, logger=logger)


def http_client(connection: kopf.ConnectionInfo) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=connection.server,
        verify=connection.as_ssl_context(),
        headers=connection.as_http_headers(),
        timeout=30.0,
    )


def _path(*segments: str) -> str:
    return "/".join(quote(segment, safe="") for segment in segments)


class Kube:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http

    async def _request(
        self, method: str, path: str, what: str, **kwargs: Any
    ) -> Mapping[str, Any] | None:
        try:
            response = await self._http.request(method, path, **kwargs)
        except httpx.HTTPError as error:
            raise Unavailable("ApiUnavailable", f"{what}: {error!r}") from error
        if response.status_code == 404:
            return None
        if response.status_code == 422:
            raise Refused("Invalid", f"{what}: {_message(response)}")
        if response.status_code >= 300:
            raise Unavailable(
                f"Api{response.status_code}",
                f"{what}: HTTP {response.status_code} {_message(response)}",
            )
        found: Mapping[str, Any] = response.json()
        return found

    async def secret(self, ref: SecretRef, required: tuple[str, ...]) -> dict[str, str]:
        where = f"{ref.namespace}/{ref.name}"
        found = await self._request(
            "GET",
            "/api/v1/namespaces/" + _path(ref.namespace, "secrets", ref.name),
            f"reading Secret {where}",
        )
        if found is None:
            raise Unavailable("SecretNotFound", f"connection Secret {where} not found")
        values = {
            key: base64.b64decode(value).decode()
            for key, value in (found.get("data") or {}).items()
        }
        missing = [key for key in required if not values.get(key)]
        if missing:
            # A Secret can be fixed without touching the resource, so this is retried.
            raise Unavailable(
                "SecretIncomplete", f"connection Secret {where} lacks {', '.join(missing)}"
            )
        return values

    def _resource_path(self, plural: str, namespace: str, name: str) -> str:
        return f"/apis/{GROUP}/{VERSION}/namespaces/" + _path(namespace, plural, name)

    async def resource(self, plural: str, namespace: str, name: str) -> Mapping[str, Any] | None:
        path = self._resource_path(plural, namespace, name)
        return await self._request("GET", path, f"reading {plural}/{name}")

    async def patch_status(
        self, plural: str, namespace: str, name: str, status: Mapping[str, Any]
    ) -> None:
        await self._request(
            "PATCH",
            self._resource_path(plural, namespace, name) + "/status",
            f"patching the status of {plural}/{name}",
            json={"status": dict(status)},
            headers={"Content-Type": MERGE_PATCH},
        )


def _message(response: httpx.Response) -> str:
    try:
        return str(response.json().get("message", response.text))
    except ValueError:
        return response.text[:500]
