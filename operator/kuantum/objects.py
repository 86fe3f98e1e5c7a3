"""The watched objects as the operator uses them: parsed once, at the store boundary, into typed views.

The API server hands over dicts; everything past the store reads these views instead: typed
metadata, the spec as the pydantic model (for a QuantumJob, the spec it runs with: the one first accepted
plus today's mutable fields), the status as the model. A spec that does not parse is kept as `spec_error`
(the reconciler reports it), never an exception in a reader. The raw body stays available for what must
echo the server's object (patch preconditions, the accepted-spec annotation's diff).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from . import accepted_spec
from .catalog import canonical_provider_id
from .models import (
    JobState,
    ProviderSpec,
    ProviderStatus,
    QuantumJobSpec,
    QuantumJobStatus,
    QuantumSessionSpec,
    QuantumSessionStatus,
    QuantumWorkspaceSpec,
    QuantumWorkspaceStatus,
)
from .models.common import ANNOTATION_SUBMITTED_AT, LABEL_JOB_ID
from .models.session import FINAL_SESSION_STATES, SessionState

_SUBMITTED_AT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")
Group = tuple[str, str, str]  # namespace, workspace, canonical provider id: one queue and one billing plan
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class Meta:
    namespace: str
    name: str
    uid: str
    resource_version: str
    generation: int | None
    created: str  # creationTimestamp
    deleting: bool  # deletionTimestamp is set
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    finalizers: tuple[str, ...]

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def revision(self) -> int:
        """resourceVersion as a number, for keeping the newest of two copies (0 when absent or opaque)."""
        return int(self.resource_version) if self.resource_version.isdigit() else 0

    @classmethod
    def of(cls, body: dict[str, Any]) -> Meta:
        meta = body.get("metadata") or {}
        generation = meta.get("generation")
        return cls(
            namespace=str(meta.get("namespace") or ""), name=str(meta.get("name") or ""),
            uid=str(meta.get("uid") or ""), resource_version=str(meta.get("resourceVersion") or ""),
            generation=generation if isinstance(generation, int) else None,
            created=str(meta.get("creationTimestamp") or ""), deleting=bool(meta.get("deletionTimestamp")),
            labels=dict(meta.get("labels") or {}), annotations=dict(meta.get("annotations") or {}),
            finalizers=tuple(meta.get("finalizers") or ()))


def job_id_for(uid: str) -> str:
    """A job's id derived from its uid: stable across restarts without having to be stored first (persisted:
    it names the job's blob container and children)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"kuantum.dev/quantumjob/{uid}"))


def session_id_for(uid: str) -> str:
    """A kubectl-made session's id, derived from its uid like a job's (stable without being stored first)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"kuantum.dev/quantumsession/{uid}"))


def first_error(e: ValidationError, prefix: str = "spec") -> str:
    err = e.errors()[0]
    where = ".".join(str(p) for p in err["loc"])
    return f"{prefix}.{where}: {err['msg']}" if where else err["msg"]


def parse_spec(model: type[M], raw: Any) -> tuple[M | None, str | None]:
    try:
        return model.model_validate(raw if isinstance(raw, dict) else {}), None
    except ValidationError as e:
        return None, first_error(e)


def parse_status(model: type[M], raw: Any) -> M:
    """Our own writes always parse; a status someone else wrote badly loses only its bad top-level fields."""
    data = dict(raw) if isinstance(raw, dict) else {}
    for _ in range(len(data) + 1):
        try:
            return model.model_validate(data)
        except ValidationError as e:
            bad = {err["loc"][0] for err in e.errors() if err["loc"]}
            if not bad & data.keys():
                break
            data = {k: v for k, v in data.items() if k not in bad}
    return model()


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


# ---------------------------------------------------------------------------------------------- QuantumJob

def running_spec(raw_spec: dict[str, Any], annotation: str | None) -> dict[str, Any]:
    """The spec a job runs with: as first accepted (the annotation), with today's mutable fields.

    A large value kept only as a digest that changed since (e.g. an inline input edited after creation)
    is taken from today's spec: it was read once, at upload, and SpecChangeIgnored says so."""
    if not annotation:
        return raw_spec
    accepted = accepted_spec.decode(annotation)
    try:
        return accepted_spec.accepted_spec(accepted, raw_spec)
    except accepted_spec.AcceptedValueLost as lost:
        kept = {k: v for k, v in accepted.items() if k not in lost.fields and k != accepted_spec.DIGESTED
                and not (k == "input" and accepted_spec.INLINE in lost.fields)}
        # The digests not lost still stand for their values (an unchanged inline input beside a large field
        # that changed): without their paths the digest itself would be taken for the value.
        still = [p for p in accepted.get(accepted_spec.DIGESTED) or [] if p not in lost.fields]
        if still:
            kept[accepted_spec.DIGESTED] = still
        return accepted_spec.accepted_spec(kept, raw_spec) | {k: raw_spec[k] for k in raw_spec if k not in kept}


@dataclass(frozen=True, slots=True)
class JobObject:
    meta: Meta
    spec: QuantumJobSpec | None  # the spec it runs with (None: spec_error says why it cannot run)
    spec_error: str | None
    status: QuantumJobStatus
    raw_spec: dict[str, Any]  # today's spec as written
    body: dict[str, Any] = field(repr=False)

    @property
    def key(self) -> str:
        return self.meta.key

    @property
    def state(self) -> JobState | None:
        return JobState(self.status.state) if self.status.state else None

    @property
    def job_id(self) -> str:
        """The client's id (spec.id, lower-cased as Azure writes UUIDs) or the one derived from the uid."""
        if self.status.id:
            return self.status.id
        chosen = self.spec.id if self.spec is not None else self.raw_spec.get("id")
        return chosen.lower() if isinstance(chosen, str) and chosen else job_id_for(self.meta.uid)

    def _field(self, name: str) -> str:
        return str(getattr(self.spec, name)) if self.spec is not None else _text(self.raw_spec.get(name))

    @property
    def workspace(self) -> str:
        return self._field("workspace")

    @property
    def provider(self) -> str:
        return self._field("provider")

    @property
    def target(self) -> str:
        return self._field("target")

    @property
    def priority(self) -> str:
        return str(self.spec.priority) if self.spec is not None else _text(self.raw_spec.get("priority")) \
            or "Standard"

    @property
    def session(self) -> str | None:
        """The QuantumSession (name, same namespace) the job belongs to, or None for a standalone job."""
        if self.spec is not None:
            return self.spec.session
        given = self.raw_spec.get("session")
        return given if isinstance(given, str) and given else None

    @property
    def queue_time(self) -> str:
        """When the job joined its queue, as a sortable text: the gateway's submission time to the microsecond
        when it lies in the creation second (it only orders jobs created in one second: an annotation cannot
        move a job ahead of older ones), else the creation second."""
        created = self.meta.created.removesuffix("Z")
        submitted = self.meta.annotations.get(ANNOTATION_SUBMITTED_AT, "")
        if _SUBMITTED_AT.fullmatch(submitted) and submitted.startswith(created + "."):
            return submitted.removesuffix("Z")
        return f"{created}.000000"

    @property
    def display_name(self) -> str:
        """Azure's job name: spec.name, else the object's name."""
        return (self.spec.name if self.spec is not None else None) or self.meta.name

    @property
    def cancel(self) -> bool:
        return self.spec.cancel if self.spec is not None else self.raw_spec.get("cancel") is True

    @property
    def label_job_id(self) -> str | None:
        return self.meta.labels.get(LABEL_JOB_ID)

    @property
    def group(self) -> Group:
        canonical = canonical_provider_id(self.provider) or self.provider.lower()
        return (self.meta.namespace, self.workspace, canonical)

    @property
    def submitted_to_provider(self) -> bool:
        return bool(self.status.providerSubmitTime or self.status.providerJobId)


_spec_cache: dict[tuple[str, int | None, str | None, str], tuple[QuantumJobSpec | None, str | None]] = {}
_SPEC_CACHE_SIZE = 20_000


def parse_job(body: dict[str, Any]) -> JobObject:
    meta = Meta.of(body)
    given = body.get("spec")
    raw_spec: dict[str, Any] = given if isinstance(given, dict) else {}
    annotation = meta.annotations.get(accepted_spec.ANNOTATION)
    # The spec changes far less often than the status: once accepted, it is parsed once per generation and
    # annotation, and once more when a changeable field (cancel, ttl, tags, name, priority) changes.
    mutable = repr([raw_spec.get(f) for f in accepted_spec.CHANGEABLE_FIELDS])
    cache_key = (meta.uid, meta.generation, annotation, mutable)
    cacheable = annotation is not None and meta.generation is not None
    parsed = _spec_cache.get(cache_key) if cacheable else None
    if parsed is None:
        try:
            parsed = parse_spec(QuantumJobSpec, running_spec(raw_spec, annotation))
        except ValueError as e:  # an annotation that is not ours (edited by hand)
            parsed = None, f"annotation {accepted_spec.ANNOTATION} cannot be read: {e}"
        if cacheable:
            if len(_spec_cache) >= _SPEC_CACHE_SIZE:
                _spec_cache.clear()
            _spec_cache[cache_key] = parsed
    return JobObject(meta, parsed[0], parsed[1], parse_status(QuantumJobStatus, body.get("status")), raw_spec,
                     body)


# ---------------------------------------------------------------------------------------------- Provider

@dataclass(frozen=True, slots=True)
class ProviderObject:
    meta: Meta
    spec: ProviderSpec | None
    spec_error: str | None
    status: ProviderStatus
    body: dict[str, Any] = field(repr=False)

    @property
    def key(self) -> str:
        return self.meta.key

    @property
    def workspace(self) -> str:
        return self.spec.workspace if self.spec is not None else \
            _text((self.body.get("spec") or {}).get("workspace"))

    @property
    def canonical(self) -> str | None:
        """The canonical provider id (Azure aliases resolved), None when unknown or invalid."""
        return canonical_provider_id(self.spec.providerId) if self.spec is not None else None

    @property
    def ready(self) -> bool:
        return any(c.type == "Ready" and c.status == "True" for c in self.status.conditions)


def parse_provider(body: dict[str, Any]) -> ProviderObject:
    spec, error = parse_spec(ProviderSpec, body.get("spec"))
    return ProviderObject(Meta.of(body), spec, error, parse_status(ProviderStatus, body.get("status")), body)


# ---------------------------------------------------------------------------------------------- QuantumWorkspace

@dataclass(frozen=True, slots=True)
class WorkspaceObject:
    meta: Meta
    spec: QuantumWorkspaceSpec | None
    spec_error: str | None
    status: QuantumWorkspaceStatus
    body: dict[str, Any] = field(repr=False)

    @property
    def key(self) -> str:
        return self.meta.key


def parse_workspace(body: dict[str, Any]) -> WorkspaceObject:
    spec, error = parse_spec(QuantumWorkspaceSpec, body.get("spec"))
    return WorkspaceObject(Meta.of(body), spec, error, parse_status(QuantumWorkspaceStatus, body.get("status")),
                           body)


# ---------------------------------------------------------------------------------------------- QuantumSession

@dataclass(frozen=True, slots=True)
class SessionObject:
    meta: Meta
    spec: QuantumSessionSpec | None
    spec_error: str | None
    status: QuantumSessionStatus
    body: dict[str, Any] = field(repr=False)

    @property
    def key(self) -> str:
        return self.meta.key

    @property
    def state(self) -> SessionState | None:
        return SessionState(self.status.state) if self.status.state else None

    @property
    def final(self) -> bool:
        return self.state in FINAL_SESSION_STATES

    @property
    def session_id(self) -> str:
        """The client's id (spec.id, lower-cased) or the one derived from the uid; status.id once written."""
        if self.status.id:
            return self.status.id
        chosen = self.spec.id if self.spec is not None else (self.body.get("spec") or {}).get("id")
        return chosen.lower() if isinstance(chosen, str) and chosen else session_id_for(self.meta.uid)

    @property
    def workspace(self) -> str:
        return self.spec.workspace if self.spec is not None else \
            _text((self.body.get("spec") or {}).get("workspace"))

    @property
    def display_name(self) -> str:
        return (self.spec.name if self.spec is not None else None) or self.meta.name

    @property
    def accepting(self) -> bool:
        """Whether a new job may join: open (not closed), not ended."""
        closed = self.spec.close if self.spec is not None else (self.body.get("spec") or {}).get("close") is True
        return not closed and not self.final and self.status.closeTime is None


def parse_session(body: dict[str, Any]) -> SessionObject:
    spec, error = parse_spec(QuantumSessionSpec, body.get("spec"))
    return SessionObject(Meta.of(body), spec, error, parse_status(QuantumSessionStatus, body.get("status")), body)


Watched = JobObject | ProviderObject | WorkspaceObject | SessionObject
PARSERS: dict[str, Callable[[dict[str, Any]], Watched]] = {
    "QuantumJob": parse_job, "Provider": parse_provider, "QuantumWorkspace": parse_workspace,
    "QuantumSession": parse_session}
