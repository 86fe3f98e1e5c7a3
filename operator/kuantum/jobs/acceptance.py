"""A job's acceptance: the one metadata write that takes it on (finalizer, labels, the accepted spec), and the
note that an edit of an immutable field is ignored."""

from __future__ import annotations

from typing import Any

from .. import accepted_spec
from ..labels import label_value
from ..models.common import FINALIZER, LABEL_JOB_ID, LABEL_PROVIDER, LABEL_TARGET, LABEL_WORKSPACE
from ..objects import JobObject
from ..runtime import tracing
from ..runtime.store import Store
from ..runtime.writer import Kube
from .draft import Draft


async def ensure_metadata(kube: Kube, store: Store, job: JobObject) -> JobObject:
    """One metadata write per job: finalizer, labels and the accepted spec, together."""
    meta = job.meta
    # Labels describe what the job runs with (its accepted spec), not an ignored edit.
    labels = {LABEL_JOB_ID: job.job_id, LABEL_WORKSPACE: label_value(job.workspace),
              LABEL_PROVIDER: label_value(job.provider.lower()), LABEL_TARGET: label_value(job.target)}
    annotation = accepted_spec.ANNOTATION
    if FINALIZER in meta.finalizers and all(meta.labels.get(k) == v for k, v in labels.items()) \
            and annotation in meta.annotations:
        return job
    annotations = {annotation: meta.annotations.get(annotation) or accepted_spec.encode(job.raw_spec)}
    if tracing.ANNOTATION not in meta.annotations and (context := tracing.traceparent()):
        annotations[tracing.ANNOTATION] = context  # a job made without the gateway: its trace starts here
    patch: dict[str, Any] = {"metadata": {
        "labels": labels,
        "finalizers": list(meta.finalizers) if FINALIZER in meta.finalizers else [*meta.finalizers, FINALIZER],
        "annotations": annotations,
        "resourceVersion": meta.resource_version or None,  # refuse to build on a stale spec
    }}
    updated = await kube.patch_meta("QuantumJob", meta.namespace, meta.name, patch)
    return store.put_job(updated)


def note_spec_changes(draft: Draft) -> None:
    """A SpecChangeIgnored condition (and one Event) naming the immutable fields edited since acceptance."""
    raw = draft.job.meta.annotations.get(accepted_spec.ANNOTATION)
    if not raw:
        return
    changed = accepted_spec.changed_fields(accepted_spec.decode(raw), draft.job.raw_spec)
    if not changed:
        return
    message = (f"spec fields {', '.join(changed)} cannot change after creation; the job keeps running with "
               "the spec it was created with (only " + ", ".join(accepted_spec.CHANGEABLE_FIELDS) + " may change)")
    draft.note("SpecChangeIgnored", True, "ImmutableField", message, event=True, warning=True)
