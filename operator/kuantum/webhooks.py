"""Optional validating admission webhook for QuantumJobs (enable with --webhook-port).

Without it the operator still refuses immutable changes after the fact (SpecChangeIgnored);
with it the API server refuses them up front, and malformed specs are refused at create time.
"""

from __future__ import annotations

import datetime
import ipaddress
import tempfile
from pathlib import Path
from typing import Any

import kopf
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydantic import ValidationError

from .accepted_spec import MUTABLE_FIELDS, changed_fields
from .models import QuantumJobSpec


def check_job(operation: str, spec: dict[str, Any], old_spec: dict[str, Any] | None) -> None:
    """Raises kopf.AdmissionError with a specific message when the request must be refused."""
    try:
        QuantumJobSpec.model_validate(spec)
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise kopf.AdmissionError(f"spec.{where}: {err['msg']}" if where else str(err["msg"]), code=422) from e
    if operation == "UPDATE" and old_spec is not None:
        changed = changed_fields(old_spec, spec)
        if changed:
            raise kopf.AdmissionError(
                f"spec fields {', '.join(changed)} are immutable after creation "
                f"(only {', '.join(MUTABLE_FIELDS)} may change)", code=422)


def validate_quantumjob(*, spec: Any, **kwargs: Any) -> None:
    """Kopf passes the request's operation and, for updates, the old object as keyword arguments."""
    old = kwargs.get("old")
    old_spec = dict(old.get("spec") or {}) if old else None
    check_job(str(kwargs.get("operation")), dict(spec or {}), old_spec)


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
