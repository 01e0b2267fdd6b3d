"""The lifecycle every kind shares, on kopf: reconcile on create/update/resume, repair drift on
a timer, clean up on delete per ``deletionPolicy``, and report in ``status.conditions``.

Each pass reads the resource afresh and runs under a per-object lock: kopf runs timers
beside change handlers, and a pass working from an older status could take a resource this
object claimed a moment ago for someone else's.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import httpx
import kopf

from operators import kube as kube_api
from operators import metrics, specs
from operators.conditions import READY, Condition, upsert
from operators.kube import GROUP, VERSION, Kube
from operators.problems import Problem, Refused, Unavailable
from operators.reconcilers.base import Context, Outcome, Reconciler
from shopstream.settings import Settings

Trigger = Literal["change", "timer", "delete"]
MAX_BACKOFF_S = 60.0


@dataclass(frozen=True)
class OperatorConfig:
    settings: Settings
    # How often each resource is compared with its backend and set back where it drifted.
    drift_interval_s: float = 60.0
    # The longest one watch request may last: the API server or a proxy on the way may drop
    # a quiet watch without a word (kopf issue #1276); a bounded watch is re-opened instead.
    # Whole seconds: kopf passes it on as ?timeoutSeconds=, which the API server parses as
    # an integer ("300.0" is a 400 Bad Request that stops the operator).
    watch_server_timeout_s: int = 300


@dataclass
class Runtime:
    """What the handlers share while the operator runs; filled in at kopf's startup."""

    config: OperatorConfig
    http: httpx.AsyncClient | None = None  # made, and remade, whenever kopf logs in

    @property
    def kube(self) -> Kube:
        if self.http is None:
            raise RuntimeError("the Kubernetes client is made when kopf logs in")
        return Kube(self.http)


def backoff(retry: int) -> float:
    """Seconds before the next try of a transient failure: 1, 2, 4, ... up to a minute."""
    return float(min(2.0**retry, MAX_BACKOFF_S))


async def _reconcile(
    reconciler: Reconciler, context: Context, logger: kopf.Logger
) -> Outcome | Problem:
    try:
        return await reconciler.reconcile(context)
    except Problem as problem:
        return problem
    except Exception as error:  # a bug or a surprise: report it, retry later, keep running
        logger.exception("reconciling failed unexpectedly")
        return Unavailable("InternalError", f"{type(error).__name__}: {error}")


def configure(settings: kopf.OperatorSettings, config: OperatorConfig) -> None:
    settings.watching.server_timeout = config.watch_server_timeout_s
    settings.watching.client_timeout = config.watch_server_timeout_s + 30
    settings.watching.connect_timeout = 10
    settings.networking.request_timeout = 60
    # Our own names on the objects, not kopf's defaults, and nothing in status but ours
    # (the CRDs' schemas would prune kopf's status fields anyway).
    settings.persistence.finalizer = f"{GROUP}/finalizer"
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix=GROUP)
    # A resource is deleted only once its timer has stopped; a timer caught mid-pass (say,
    # waiting for the lock the delete handler holds) is looked at again after this long,
    # not after kopf's default minute.
    settings.background.cancellation_polling = 1.0
    settings.posting.reporting_component = "shopstream-operator"
    # One worker per object already; errors are reported through conditions, not events.
    settings.posting.level = logging.INFO


def register_runtime(registry: kopf.OperatorRegistry, config: OperatorConfig) -> Runtime:
    runtime = Runtime(config)

    @kopf.on.startup(id="configure", registry=registry)
    async def startup(settings: kopf.OperatorSettings, **_: Any) -> None:
        configure(settings, config)

    @kopf.on.login(id="login", registry=registry)
    async def login(
        logger: kopf.Logger, settings: kopf.OperatorSettings, **_: Any
    ) -> kopf.ConnectionInfo | None:
        # A registry of our own gets none of kopf's default login handlers. kopf logs in
        # again when its credentials stop working (a rotated ServiceAccount token): the
        # reconcilers' client follows.
        connection = kube_api.login(settings, logger)
        if connection is not None:
            previous, runtime.http = runtime.http, kube_api.http_client(connection)
            if previous is not None:
                await previous.aclose()
        return connection

    @kopf.on.cleanup(id="disconnect", registry=registry)
    async def disconnect(**_: Any) -> None:
        if runtime.http is not None:
            await runtime.http.aclose()

    return runtime


def register_kind(
    registry: kopf.OperatorRegistry, runtime: Runtime, reconciler: Reconciler
) -> None:
    plural, kind = reconciler.plural, reconciler.kind
    locks: dict[str, asyncio.Lock] = {}

    async def fresh_context(
        meta: Mapping[str, Any], logger: kopf.Logger, *, deleting: bool = False
    ) -> Context | None:
        found = await runtime.kube.resource(plural, meta["namespace"], meta["name"])
        if found is None or found["metadata"].get("uid") != meta["uid"]:
            return None  # gone, or already replaced by a namesake
        if found["metadata"].get("deletionTimestamp") and not deleting:
            return None  # the delete handler has it
        return Context(
            plural=plural,
            namespace=meta["namespace"],
            name=meta["name"],
            generation=int(found["metadata"].get("generation", 0)),
            spec=found.get("spec") or {},
            status=found.get("status") or {},
            kube=runtime.kube,
            settings=runtime.config.settings,
            logger=logger,
        )

    async def attempt(
        trigger: Trigger, meta: Mapping[str, Any], logger: kopf.Logger
    ) -> Outcome | Problem | None:
        """One pass: reconcile, then write the status (conditions, claims, what the backend
        said). None when there was nothing to reconcile (the object is gone or going)."""
        async with locks.setdefault(meta["uid"], asyncio.Lock()):
            context = await fresh_context(meta, logger)
            if context is None:
                return None
            started = time.monotonic()
            result = await _reconcile(reconciler, context, logger)
            metrics.RECONCILE_SECONDS.labels(kind).observe(time.monotonic() - started)
            ref = f"{kind} {context.namespace}/{context.name}"
            status: dict[str, Any]
            if isinstance(result, Outcome):
                condition = Condition(
                    READY, "True", "Reconciled", result.message, context.generation
                )
                status, label = dict(result.status), "ready"
                if result.changes:
                    logger.info("%s reconciled: %s", ref, "; ".join(result.changes))
            else:
                condition = Condition(
                    READY, "False", result.reason, result.message, context.generation
                )
                status, label = {}, "refused" if result.permanent else "retrying"
                logger.warning("%s not ready: %s: %s", ref, result.reason, result.message)
            status |= {
                "observedGeneration": context.generation,
                "claimed": sorted(context.claimed),
                "adopted": sorted(context.adopted),
                "conditions": upsert(
                    context.status.get("conditions") or [], condition, datetime.now(UTC)
                ),
            }
            await runtime.kube.patch_status(plural, context.namespace, context.name, status)
            metrics.RECONCILES.labels(kind, trigger, label).inc()
            return result

    resource = (GROUP, VERSION, plural)

    @kopf.on.resume(*resource, id="reconcile", registry=registry)
    @kopf.on.create(*resource, id="reconcile", registry=registry)
    @kopf.on.update(*resource, id="reconcile", field="spec", registry=registry)
    async def reconcile(meta: kopf.Meta, retry: int, logger: kopf.Logger, **_: Any) -> None:
        problem = await attempt("change", meta, logger)
        if not isinstance(problem, Problem):
            return
        if problem.permanent:
            # Terminal: kopf does not retry until the spec changes; the condition says why.
            raise kopf.PermanentError(f"{problem.reason}: {problem.message}")
        raise kopf.TemporaryError(f"{problem.reason}: {problem.message}", delay=backoff(retry))

    @kopf.timer(
        *resource,
        interval=runtime.config.drift_interval_s,
        initial_delay=runtime.config.drift_interval_s,
        id="repair-drift",
        registry=registry,
    )
    async def repair_drift(body: kopf.Body, meta: kopf.Meta, logger: kopf.Logger, **_: Any) -> None:
        # Problems are in the condition already; the timer's own pace is the retry.
        outcome = await attempt("timer", meta, logger)
        if isinstance(outcome, Outcome) and outcome.changes:
            message = "; ".join(outcome.changes)
            metrics.DRIFT_REPAIRS.labels(kind).inc()
            kopf.event(body, type="Normal", reason="DriftRepaired", message=message)

    @kopf.on.delete(*resource, id="delete", registry=registry)
    async def delete(
        meta: kopf.Meta, spec: kopf.Spec, retry: int, logger: kopf.Logger, **_: Any
    ) -> None:
        try:
            policy = specs.management(meta["namespace"], spec).deletion_policy
        except Refused:
            policy = "retain"  # never valid, so never claimed anything
        if policy == "retain":
            logger.info("deletionPolicy retain: the %s's backend resources stay", kind)
            locks.pop(meta["uid"], None)
            return
        async with locks.setdefault(meta["uid"], asyncio.Lock()):
            context = await fresh_context(meta, logger, deleting=True)
            if context is None:
                return
            kept = specs.kept_on_delete(policy, context.claimed, context.adopted)
            if kept:
                # Adopted, and no deletionPolicy said otherwise: it was someone's before.
                logger.info("adopted, so kept: %s", ", ".join(sorted(kept)))
                context.claimed -= kept
            try:
                gone = await reconciler.delete(context)
            except Refused as refused:
                # Nothing can be done on the backend; keeping the object would not help.
                logger.warning("deleting left the backend as it is: %s", refused.message)
                gone = []
            except Unavailable as unavailable:
                metrics.RECONCILES.labels(kind, "delete", "retrying").inc()
                raise kopf.TemporaryError(unavailable.message, delay=backoff(retry)) from None
        locks.pop(meta["uid"], None)
        metrics.RECONCILES.labels(kind, "delete", "ready").inc()
        logger.info(
            "%s %s/%s deleted: %s",
            kind,
            meta["namespace"],
            meta["name"],
            "; ".join(gone) or "nothing of ours was left",
        )
