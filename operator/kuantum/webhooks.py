"""Optional validating admission webhook for QuantumJobs (enable with --webhook-port).

Without it the operator still refuses immutable changes after the fact (SpecChangeIgnored);
with it the API server refuses them up front, and malformed specs are refused at create time.
"""

from __future__ import annotations

import datetime
import ipaddress
import tempfile
from collections.abc import AsyncIterator, Callable, Collection
from pathlib import Path
from typing import Any

import kopf
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydantic import ValidationError

from .accepted_spec import MUTABLE_FIELDS, changed_fields
from .jobs.duplicates import holder_of
from .models import QuantumJobSpec
from .objects import first_error
from .runtime.namespaces import serves
from .runtime.store import Store


def check_job(operation: str, spec: dict[str, Any], old_spec: dict[str, Any] | None) -> None:
    """Raises kopf.AdmissionError with a specific message when the request must be refused.

    Updates are checked as ratcheting validation does: one that leaves the spec as it was (metadata,
    finalizers, labels) always passes, and a spec that was already invalid (created before the webhook
    served) may still change its mutable fields. Refusing those would leave such a job stuck: the operator
    could neither mark it Failed nor remove its finalizer, and `kubectl delete` would hang.
    """
    if operation not in ("CREATE", "UPDATE"):
        return  # a DELETE carries the old spec: refusing it would make an invalid job undeletable
    if operation == "UPDATE" and old_spec is not None:
        if spec == old_spec:
            return
        changed = changed_fields(old_spec, spec)
        if changed:
            raise kopf.AdmissionError(
                f"spec fields {', '.join(changed)} are immutable after creation "
                f"(only {', '.join(MUTABLE_FIELDS)} may change)", code=422)
        if spec_error(old_spec) is not None:
            return
    error = spec_error(spec)
    if error is not None:
        raise kopf.AdmissionError(error, code=422)


def spec_error(spec: dict[str, Any]) -> str | None:
    """The first reason the spec is not a valid QuantumJobSpec, or None."""
    try:
        QuantumJobSpec.model_validate(spec)
    except ValidationError as e:
        return first_error(e)
    return None


def id_in_use(store: Store | None, namespace: str, spec: dict[str, Any], uid: str | None) -> str | None:
    """Why a new job's spec.id cannot be had: another job of the workspace holds it (case-insensitive). None when
    the store (the operator's cache) is not there yet: the operator still fails the job (DuplicateJobId)."""
    chosen, workspace = spec.get("id"), spec.get("workspace")
    if store is None or not isinstance(chosen, str) or not chosen or not isinstance(workspace, str):
        return None
    holder = holder_of(job for job in store.jobs_with_id(namespace, workspace, chosen.lower())
                       if job.meta.uid != uid)
    if holder is None:
        return None
    return (f"spec.id {chosen} is already used by QuantumJob {holder.meta.name} in workspace {workspace}; job ids "
            "are unique per workspace (case-insensitive)")


def quantumjob_validator(namespaces: Collection[str],
                         store: Callable[[], Store | None] = lambda: None) -> Callable[..., None]:
    """The validate handler for an operator watching namespaces (all when empty; Kopf's patterns too); `store`
    gives the operator's cache, where a new job's id is looked up.

    Kopf's webhook configuration has no namespaceSelector, so the API server asks every Kuantum webhook
    about every QuantumJob; an operator answers only for the namespaces it serves and lets the rest
    pass (their own operator's webhook, if any, judges them)."""
    patterns = tuple(namespaces)

    def validate_quantumjob(*, spec: Any, namespace: str | None = None, **kwargs: Any) -> None:
        """Kopf passes the request's operation and, for updates, the old object as keyword arguments."""
        if namespace and not serves(patterns, namespace):
            return  # (an object without its namespace filled in is judged: refusing is the safer error)
        old = kwargs.get("old")
        old_spec = dict(old.get("spec") or {}) if old else None
        operation = str(kwargs.get("operation"))
        check_job(operation, dict(spec or {}), old_spec)
        if operation == "CREATE" and namespace and (taken := id_in_use(store(), namespace, dict(spec or {}),
                                                                        (kwargs.get("uid")))):
            raise kopf.AdmissionError(taken, code=409)

    return validate_quantumjob


def self_signed_certificate(host: str, folder: Path | None = None) -> tuple[str, str]:
    """A short-lived self-signed server certificate for host (IP or DNS name); returns (certfile, keyfile)."""
    folder = folder or Path(tempfile.mkdtemp(prefix="kuantum-webhook-"))
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    try:
        san: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        san = x509.DNSName(host)
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=365))
            .add_extension(x509.SubjectAlternativeName([san]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    certfile, keyfile = folder / "tls.crt", folder / "tls.key"
    certfile.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    keyfile.chmod(0o600)
    return str(certfile), str(keyfile)


class ServiceWebhookServer(kopf.WebhookServer):
    """Kopf's WebhookServer, but the configuration it publishes names a Service instead of a URL.

    Kopf's server yields `{"url": "https://<host>:<port>", "caBundle": ...}`. The API server resolves such a
    URL with its own host's DNS, which on most clusters knows nothing of `*.svc` names; a
    `clientConfig.service` reference is resolved by the API server itself (Service -> endpoints). The
    listening socket, the certificate and its renewal are Kopf's; only the client config changes.
    Kopf appends each handler's id to `service.path`, as it does to the URL.
    """

    def __init__(self, *, service_namespace: str, service_name: str, service_port: int | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.service_namespace, self.service_name = service_namespace, service_name
        self.service_port = service_port

    def client_config(self, config: kopf.WebhookClientConfig) -> kopf.WebhookClientConfig:
        """Kopf's client config with the URL replaced by the service reference (the caBundle kept)."""
        service = kopf.WebhookClientConfigService(namespace=self.service_namespace, name=self.service_name)
        port = self.service_port or self.port
        if port:
            service["port"] = int(port)
        path = (self.path or "").rstrip("/")
        if path:
            service["path"] = path if path.startswith("/") else f"/{path}"
        result = kopf.WebhookClientConfig(service=service)
        if config.get("caBundle") is not None:
            result["caBundle"] = config["caBundle"]
        return result

    async def __call__(self, fn: kopf.WebhookFn) -> AsyncIterator[kopf.WebhookClientConfig]:
        async for config in super().__call__(fn):
            yield self.client_config(config)


def parse_service(value: str) -> tuple[str, str]:
    """`NAMESPACE/NAME` -> (namespace, name); ValueError on anything else."""
    namespace, sep, name = value.partition("/")
    if not sep or not namespace or not name or "/" in name:
        raise ValueError(f"expected NAMESPACE/NAME, got {value!r}")
    return namespace, name
