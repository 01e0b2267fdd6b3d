"""MqBinding through RabbitMQ's management HTTP API (httpx)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, ClassVar
from urllib.parse import quote

import httpx

from operators import specs
from operators.decisions import rabbitmq as decisions
from operators.decisions.ownership import Ownership, ownership
from operators.problems import Refused, Unavailable
from operators.reconcilers.base import Context, Outcome

SECRET_KEYS = ("managementUrl", "username", "password")


def _segment(value: str) -> str:
    return quote(value, safe="")


class Management:
    """The calls this operator makes, each raising a Problem that says what failed."""

    def __init__(self, http: httpx.AsyncClient, vhost: str) -> None:
        self._http = http
        self._vhost = _segment(vhost)

    async def _call(self, method: str, path: str, what: str, body: Any = None) -> Any:
        try:
            response = await self._http.request(method, path, json=body)
        except httpx.HTTPError as error:
            raise Unavailable("RabbitMQUnavailable", f"{what}: {error!r}") from error
        if response.status_code == 404 and method in ("GET", "DELETE"):  # gone is gone
            return None
        if response.status_code in (400, 406):  # a declaration RabbitMQ refuses
            raise Refused("RabbitMQRefused", f"{what}: {_reason(response)}")
        if response.status_code >= 300:
            raise Unavailable(
                f"RabbitMQ{response.status_code}",
                f"{what}: HTTP {response.status_code} {_reason(response)}",
            )
        return response.json() if response.content else None

    async def exchange(self, name: str) -> decisions.ExchangeState | None:
        found = await self._call(
            "GET", f"/api/exchanges/{self._vhost}/{_segment(name)}", f"reading exchange {name}"
        )
        return None if found is None else decisions.ExchangeState(found["type"], found["durable"])

    async def queue(self, name: str) -> decisions.QueueState | None:
        found = await self._call(
            "GET", f"/api/queues/{self._vhost}/{_segment(name)}", f"reading queue {name}"
        )
        if found is None:
            return None
        return decisions.QueueState(found["durable"], found.get("arguments") or {})

    async def bindings(self, exchange: str) -> list[decisions.Binding]:
        """From the exchange to anything, and from amq.topic into it (MQTT filters)."""
        outgoing = await self._call(
            "GET",
            f"/api/exchanges/{self._vhost}/{_segment(exchange)}/bindings/source",
            f"reading the bindings of {exchange}",
        )
        incoming = await self._call(
            "GET",
            f"/api/bindings/{self._vhost}/e/{decisions.MQTT_EXCHANGE}/e/{_segment(exchange)}",
            f"reading the MQTT bindings into {exchange}",
        )
        return [
            decisions.Binding(
                b["source"],
                b["destination_type"],
                b["destination"],
                b["routing_key"],
                b.get("arguments") or {},
                b["properties_key"],
            )
            for b in [*(outgoing or []), *(incoming or [])]
        ]

    async def apply(self, action: decisions.Action) -> None:
        vhost = self._vhost
        match action:
            case decisions.DeclareExchange(exchange):
                body = {"type": exchange.type, "durable": exchange.durable, "auto_delete": False}
                path = f"/api/exchanges/{vhost}/{_segment(exchange.name)}"
                await self._call("PUT", path, action.describe(), body)
            case decisions.DeclareQueue(queue):
                body = {
                    "durable": queue.durable,
                    "auto_delete": False,
                    "arguments": queue.arguments,
                }
                path = f"/api/queues/{vhost}/{_segment(queue.name)}"
                await self._call("PUT", path, action.describe(), body)
            case decisions.DeleteQueue(name):
                await self._call(
                    "DELETE", f"/api/queues/{vhost}/{_segment(name)}", action.describe()
                )
            case decisions.Bind(b):
                kind = "q" if b.destination_type == "queue" else "e"
                path = (
                    f"/api/bindings/{vhost}/e/{_segment(b.source)}/{kind}/{_segment(b.destination)}"
                )
                body = {"routing_key": b.routing_key, "arguments": b.arguments}
                await self._call("POST", path, action.describe(), body)
            case decisions.Unbind(b):
                kind = "q" if b.destination_type == "queue" else "e"
                path = (
                    f"/api/bindings/{vhost}/e/{_segment(b.source)}/{kind}/"
                    f"{_segment(b.destination)}/{_segment(b.properties_key)}"
                )
                await self._call("DELETE", path, action.describe())

    async def delete_exchange(self, name: str) -> None:
        path = f"/api/exchanges/{self._vhost}/{_segment(name)}"
        await self._call("DELETE", path, f"deleting exchange {name}")

    async def delete_queue(self, name: str) -> None:
        path = f"/api/queues/{self._vhost}/{_segment(name)}"
        await self._call("DELETE", path, f"deleting queue {name}")


def _reason(response: httpx.Response) -> str:
    try:
        return str(response.json().get("reason", response.text))
    except ValueError:
        return response.text[:500]


@asynccontextmanager
async def management(context: Context, ref: specs.SecretRef) -> AsyncIterator[Management]:
    secret = await context.kube.secret(ref, SECRET_KEYS)
    async with httpx.AsyncClient(
        base_url=secret["managementUrl"],
        auth=(secret["username"], secret["password"]),
        timeout=10.0,
    ) as http:
        yield Management(http, secret.get("vhost") or "/")


class MqBindings:
    kind: ClassVar[str] = "MqBinding"
    plural: ClassVar[str] = "mqbindings"

    async def reconcile(self, context: Context) -> Outcome:
        spec = specs.mq_binding(context.spec)
        managed = specs.management(context.namespace, context.spec)
        exchange_claim = f"exchange:{spec.exchange.name}"
        owned_queues = {c.split(":", 1)[1] for c in context.claimed if c.startswith("queue:")}
        async with management(context, managed.connection) as rabbit:
            exchange = await rabbit.exchange(spec.exchange.name)
            queues = {
                name: state
                for name in sorted({q.name for q in spec.queues} | owned_queues)
                if (state := await rabbit.queue(name)) is not None
            }
            bindings = await rabbit.bindings(spec.exchange.name) if exchange is not None else []
            claims = [
                (f"exchange {spec.exchange.name}", exchange is not None, exchange_claim),
                *((f"queue {q.name}", q.name in queues, f"queue:{q.name}") for q in spec.queues),
            ]
            owners = [
                (claim, ownership(what, exists, claim in context.claimed, managed.adopt))
                for what, exists, claim in claims
            ]
            actions = decisions.plan(spec, exchange, queues, bindings, owned_queues)
            await context.claim(*(claim for claim, owner in owners if owner is Ownership.CREATE))
            await context.claim(
                *(claim for claim, owner in owners if owner is Ownership.ADOPT), adopted=True
            )
            for action in actions:
                await rabbit.apply(action)
        dropped = {f"queue:{a.name}" for a in actions if isinstance(a, decisions.DeleteQueue)}
        if dropped:
            context.claimed -= dropped  # written with the rest of the status
            context.adopted -= dropped
        return Outcome(
            status={},
            changes=[action.describe() for action in actions],
            message=(
                f"exchange {spec.exchange.name} with {len(spec.queues)} queues and "
                f"{len(decisions.desired_bindings(spec))} bindings is as specified"
            ),
        )

    async def delete(self, context: Context) -> Sequence[str]:
        spec = specs.mq_binding(context.spec)
        managed = specs.management(context.namespace, context.spec)
        gone = []
        async with management(context, managed.connection) as rabbit:
            for claim in sorted(context.claimed):
                kind, name = claim.split(":", 1)
                if kind == "queue":
                    await rabbit.delete_queue(name)
                    gone.append(f"deleted queue {name}")
            # Deleting the exchange takes its bindings (the MQTT ones included) with it.
            if f"exchange:{spec.exchange.name}" in context.claimed:
                await rabbit.delete_exchange(spec.exchange.name)
                gone.append(f"deleted exchange {spec.exchange.name}")
        return gone
