"""What a reconciler is given and gives back, and the claim protocol they share."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from operators.kube import Kube
from operators.problems import Unavailable
from operators.specs import SecretRef
from shopstream.settings import Settings


@dataclass
class Context:
    """One resource being reconciled: its spec, its latest status, and the means to act."""

    plural: str
    namespace: str
    name: str
    generation: int
    spec: Mapping[str, Any]
    status: Mapping[str, Any]
    kube: Kube
    settings: Settings
    logger: logging.Logger | logging.LoggerAdapter[logging.Logger]
    claimed: set[str] = field(default_factory=set)
    # Of those, the ones that existed before and were taken over (spec.adopt).
    adopted: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.claimed = set(self.status.get("claimed") or [])
        self.adopted = set(self.status.get("adopted") or [])

    async def claim(self, *items: str, adopted: bool = False) -> None:
        """Record in the status, before acting, that these backend resources are ours: a
        retry after a crash then knows them from resources someone else made. ``adopted``:
        they existed before; deleting this resource keeps them unless its policy says so."""
        if set(items) <= self.claimed:
            return
        self.claimed |= set(items)
        if adopted:
            self.adopted |= set(items)
        await self.kube.patch_status(
            self.plural,
            self.namespace,
            self.name,
            {"claimed": sorted(self.claimed), "adopted": sorted(self.adopted)},
        )

    async def aws_settings(self, ref: SecretRef) -> Settings:
        """The settings with the Secret's endpoint and region; credentials come from the
        environment (in EKS the ServiceAccount's IAM role), never from a Secret."""
        secret = await self.kube.secret(ref, required=())
        return self.settings.model_copy(
            update={
                "aws_endpoint_url": secret.get("endpointUrl") or None,
                "aws_region": secret.get("region") or self.settings.aws_region,
            }
        )

    async def referenced_status(self, plural: str, name: str, field_: str) -> str:
        """A field of another resource's status in this namespace (say an SqsQueue's ARN),
        waited for (retried) until that resource has it."""
        found = await self.kube.resource(plural, self.namespace, name)
        value = (found or {}).get("status", {}).get(field_)
        if not value:
            state = "does not exist" if found is None else f"has no status.{field_} yet"
            raise Unavailable("ReferenceNotReady", f"{plural}/{name} {state}")
        return str(value)


@dataclass(frozen=True)
class Outcome:
    status: Mapping[str, Any]  # status fields besides conditions, claimed, observedGeneration
    changes: Sequence[str]  # what was changed, in words; empty when all was as specified
    message: str  # the Ready condition's message


class Reconciler(Protocol):
    kind: ClassVar[str]
    plural: ClassVar[str]

    async def reconcile(self, context: Context) -> Outcome: ...

    async def delete(self, context: Context) -> Sequence[str]:
        """Delete what this resource claimed (deletionPolicy delete); says what went."""
        ...
