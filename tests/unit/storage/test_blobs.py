"""Pure storage helpers: connection strings, blob formats and URLs. No network I/O."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest
from azure.core.exceptions import ResourceExistsError
from azure.storage.blob import ContentSettings
from kuantum.storage.blobs import (
    INPUT_BLOB,
    OUTPUT_BLOB,
    BlobFormat,
    ContainerTaken,
    StorageError,
    WorkspaceStorage,
    blob_format,
    brief,
    container_name,
    parse_connection_string,
)

from tests.support.fake_storage import AZURITE, BLOB_BASE

BASE = BLOB_BASE
JOB_ID = "0b0c6f6e-7d55-5d1e-9c55-2f5d2c3f6a01"


@pytest.fixture
def storage() -> WorkspaceStorage:
    return WorkspaceStorage(AZURITE)


def test_parse_connection_string() -> None:
    parts = parse_connection_string(AZURITE)
    assert parts["AccountName"] == "devstoreaccount1"
    assert parts["AccountKey"].endswith("==")  # '=' inside a value is kept
    assert parts["BlobEndpoint"] == f"{BASE}"
    assert parts["DefaultEndpointsProtocol"] == "http"


def test_parse_connection_string_tolerates_whitespace_and_trailing_semicolons() -> None:
    parts = parse_connection_string("  AccountName = a ; AccountKey=k==;;  ")
    assert parts == {"AccountName": "a", "AccountKey": "k=="}


@pytest.mark.parametrize(("conn", "needle"), [
    ("", "malformed"),
    ("not a connection string", "malformed"),
    ("AccountName=a;garbage;AccountKey=k", "malformed"),
    ("AccountKey=k", "AccountName"),
    ("AccountName=a", "AccountKey"),
    ("DefaultEndpointsProtocol=https;EndpointSuffix=core.windows.net", "AccountName"),
])
def test_parse_connection_string_errors(conn: str, needle: str) -> None:
    with pytest.raises(StorageError, match=needle):
        parse_connection_string(conn)


def test_bad_connection_string_fails_at_construction() -> None:
    with pytest.raises(StorageError):
        WorkspaceStorage("AccountName=a")


def test_error_messages_do_not_leak_the_key() -> None:
    with pytest.raises(StorageError) as info:
        parse_connection_string("AccountKey=SuperSecretKey==")
    assert "SuperSecretKey" not in str(info.value)


@pytest.mark.parametrize(("fmt", "expected"), [
    ("microsoft.qio.v2", BlobFormat("application/json", gzip=True)),
    ("ionq.circuit.v1", BlobFormat("application/json", gzip=False)),
    ("honeywell.openqasm.v1", BlobFormat("application/qasm", gzip=False)),
    ("quantinuum.openqasm.v1", BlobFormat("application/qasm", gzip=False)),
    ("something.else.v9", BlobFormat("application/octet-stream", gzip=False)),
])
def test_blob_format(fmt: str, expected: BlobFormat) -> None:
    assert blob_format(fmt) == expected


def test_container_and_blob_names_follow_azure_quantum() -> None:
    assert container_name(JOB_ID) == f"job-{JOB_ID}"
    assert INPUT_BLOB == "inputData"
    assert OUTPUT_BLOB == "outputData"


def test_account_and_urls(storage: WorkspaceStorage) -> None:
    assert storage.account_name == "devstoreaccount1"
    assert storage.blob_url(JOB_ID, INPUT_BLOB) == f"{BASE}/job-{JOB_ID}/inputData"


def test_locate(storage: WorkspaceStorage) -> None:
    url = storage.blob_url(JOB_ID, OUTPUT_BLOB)
    assert storage.locate(url) == (f"job-{JOB_ID}", "outputData")
    assert storage.locate(url + "?sv=2021&sig=abc") == (f"job-{JOB_ID}", "outputData")
    assert storage.locate(f"{BASE}/c/dir/sub/blob.json") == ("c", "dir/sub/blob.json")
    assert storage.locate(f"{BASE}/c") is None
    assert storage.locate(f"{BASE}/c/") is None
    assert storage.locate(f"{BASE}/") is None
    assert storage.locate("https://other.blob.core.windows.net/c/b") is None
    assert storage.locate("http://127.0.0.1:10000/otheraccount/c/b") is None
    assert storage.locate("http://127.0.0.1:10000/devstoreaccount1x/c/b") is None


def test_locate_round_trips_blob_url_with_special_characters(storage: WorkspaceStorage) -> None:
    # locate() must return the real blob name: sas_url() quotes it again and the SAS signs the real name
    assert storage.locate(storage.blob_url(JOB_ID, "my input.json")) == (f"job-{JOB_ID}", "my input.json")
    url = storage.sas_url(f"job-{JOB_ID}", "my input.json", write=False, valid_for=timedelta(minutes=5))
    assert urlsplit(url).path == f"/devstoreaccount1/job-{JOB_ID}/my%20input.json"
    assert storage.locate(url) == (f"job-{JOB_ID}", "my input.json")


@pytest.mark.parametrize(("write", "permissions"), [(False, "r"), (True, "cw")])
def test_sas_url_shape(storage: WorkspaceStorage, write: bool, permissions: str) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    url = storage.sas_url(container_name(JOB_ID), OUTPUT_BLOB if write else INPUT_BLOB, write=write,
                          valid_for=timedelta(minutes=30))
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == "http://127.0.0.1:10000"
    assert parts.path == f"/devstoreaccount1/job-{JOB_ID}/{OUTPUT_BLOB if write else INPUT_BLOB}"
    query = parse_qs(parts.query)
    assert query["sp"] == [permissions]  # read-only, or create+write only; never list or delete
    assert query["sr"] == ["b"]  # a single blob, not the container
    assert query["sig"][0]
    expiry = datetime.fromisoformat(query["se"][0].replace("Z", "+00:00"))
    start = datetime.fromisoformat(query["st"][0].replace("Z", "+00:00"))
    assert start < before < expiry
    assert expiry - before <= timedelta(minutes=31)
    assert storage.locate(url) == (container_name(JOB_ID), OUTPUT_BLOB if write else INPUT_BLOB)
    assert "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq" not in url


def test_sas_urls_differ_per_blob_and_permission(storage: WorkspaceStorage) -> None:
    c = container_name(JOB_ID)
    read = storage.sas_url(c, INPUT_BLOB, write=False, valid_for=timedelta(minutes=5))
    write = storage.sas_url(c, INPUT_BLOB, write=True, valid_for=timedelta(minutes=5))
    other = storage.sas_url(c, OUTPUT_BLOB, write=False, valid_for=timedelta(minutes=5))
    sig = [parse_qs(urlsplit(u).query)["sig"][0] for u in (read, write, other)]
    assert len(set(sig)) == 3


# ---------------------------------------------------------------------------------------------- upload_input
class _FakeContainer:
    def __init__(self, service: _FakeService, name: str) -> None:
        self.service = service
        self.name = name

    @property
    def container_name(self) -> str:
        return self.name

    def create_container(self, metadata: dict[str, str] | None = None) -> None:
        if self.name in self.service.containers:
            raise ResourceExistsError("exists")
        self.service.containers[self.name] = {}
        self.service.metadata[self.name] = dict(metadata or {})

    def get_container_properties(self) -> SimpleNamespace:
        return SimpleNamespace(metadata=dict(self.service.metadata[self.name]))

    def acquire_lease(self, lease_duration: int) -> SimpleNamespace:
        return SimpleNamespace(release=lambda: None)

    def set_container_metadata(self, metadata: dict[str, str], lease: object = None) -> None:
        assert lease is not None, "a claim sets the metadata under a lease"
        self.service.metadata[self.name] = dict(metadata)

    def upload_blob(self, name: str, data: bytes, overwrite: bool = False,
                    content_settings: ContentSettings | None = None) -> None:
        assert overwrite, "uploads must overwrite (idempotent re-uploads of the same input)"
        assert content_settings is not None
        self.service.containers[self.name][name] = (bytes(data), content_settings)


class _FakeService:
    """Records what WorkspaceStorage.upload_input writes (the subset of BlobServiceClient it uses)."""

    url = BASE

    def __init__(self) -> None:
        self.containers: dict[str, dict[str, tuple[bytes, ContentSettings]]] = {}
        self.metadata: dict[str, dict[str, str]] = {}

    def get_container_client(self, name: str) -> _FakeContainer:
        return _FakeContainer(self, name)


@pytest.fixture
def fake(storage: WorkspaceStorage) -> _FakeService:
    service = _FakeService()
    storage.service = service  # type: ignore[assignment]
    return service


UID, OWNER = "uid-1", "ns/first"
QIO_DOC = b'{"cost_function": {"version": "1.0", "type": "ising", "terms": [{"c": 1, "ids": [0, 1]}]}}'


def test_qio_input_is_uploaded_gzipped_and_labelled_gzip(storage: WorkspaceStorage, fake: _FakeService) -> None:
    uri = storage.upload_input(JOB_ID, QIO_DOC, "microsoft.qio.v2", UID, OWNER)
    assert uri == f"{BASE}/job-{JOB_ID}/inputData"
    body, settings = fake.containers[f"job-{JOB_ID}"]["inputData"]
    assert body[:2] == b"\x1f\x8b", "labelled gzip, so the bytes must be gzip"
    assert gzip.decompress(body) == QIO_DOC
    assert settings.content_encoding == "gzip"
    assert settings.content_type == "application/json"


@pytest.mark.parametrize(("fmt", "content_type"), [("ionq.circuit.v1", "application/json"),
                                                   ("honeywell.openqasm.v1", "application/qasm")])
def test_other_inputs_are_uploaded_as_they_are(storage: WorkspaceStorage, fake: _FakeService, fmt: str,
                                               content_type: str) -> None:
    storage.upload_input(JOB_ID, b"payload", fmt, UID, OWNER)
    body, settings = fake.containers[f"job-{JOB_ID}"]["inputData"]
    assert body == b"payload"
    assert settings.content_encoding is None
    assert settings.content_type == content_type


def test_upload_is_idempotent_and_byte_identical(storage: WorkspaceStorage, fake: _FakeService) -> None:
    storage.upload_input(JOB_ID, QIO_DOC, "microsoft.qio.v2", UID, OWNER)
    first = fake.containers[f"job-{JOB_ID}"]["inputData"][0]
    storage.upload_input(JOB_ID, QIO_DOC, "microsoft.qio.v2", UID, OWNER)  # the container exists now: no error
    assert fake.containers[f"job-{JOB_ID}"]["inputData"][0] == first  # gzip mtime fixed: same bytes


def test_the_container_records_the_job_it_was_made_for(storage: WorkspaceStorage, fake: _FakeService) -> None:
    storage.upload_input(JOB_ID, QIO_DOC, "microsoft.qio.v2", UID, OWNER)
    assert fake.metadata[f"job-{JOB_ID}"] == {"kuantumjobuid": UID, "kuantumjob": OWNER}


def test_a_job_never_writes_into_another_jobs_container(storage: WorkspaceStorage, fake: _FakeService) -> None:
    storage.upload_input(JOB_ID, QIO_DOC, "microsoft.qio.v2", UID, OWNER)
    first = fake.containers[f"job-{JOB_ID}"]["inputData"]
    with pytest.raises(ContainerTaken) as taken:
        storage.upload_input(JOB_ID, b"other data", "microsoft.qio.v2", "uid-2", "other-ns/second")
    assert taken.value.owner == OWNER
    assert fake.containers[f"job-{JOB_ID}"]["inputData"] == first, "the first job's input is untouched"


def test_a_container_that_names_no_job_is_adopted(storage: WorkspaceStorage, fake: _FakeService) -> None:
    """The SDK creates the container and uploads the input before it creates the job (its blobUri)."""
    fake.containers[f"job-{JOB_ID}"] = {}
    fake.metadata[f"job-{JOB_ID}"] = {}
    storage.claim_container(JOB_ID, UID, OWNER)
    assert fake.metadata[f"job-{JOB_ID}"] == {"kuantumjobuid": UID, "kuantumjob": OWNER}
    storage.claim_container(JOB_ID, UID, OWNER)  # its own: again, nothing changes
    with pytest.raises(ContainerTaken):
        storage.claim_container(JOB_ID, "uid-2", "ns/second")


@pytest.mark.parametrize("minutes", [5, 90])
def test_sas_expiry_is_the_requested_validity(storage: WorkspaceStorage, minutes: int) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    url = storage.sas_url(container_name(JOB_ID), INPUT_BLOB, write=False, valid_for=timedelta(minutes=minutes))
    after = datetime.now(UTC) + timedelta(seconds=1)
    expiry = datetime.fromisoformat(parse_qs(urlsplit(url).query)["se"][0].replace("Z", "+00:00"))
    assert before + timedelta(minutes=minutes) <= expiry + timedelta(seconds=1)
    assert expiry <= after + timedelta(minutes=minutes)


def test_brief_keeps_the_first_line_of_a_storage_error_cut_short() -> None:
    error = Exception("Connection refused.\nRequestId:abc\nTime:2026-11-28\nErrorCode:X\n" + "y" * 50)
    assert brief(error) == "Connection refused."
    assert brief(Exception("x" * 400)) == "x" * 300 and brief(Exception("x" * 400), 20) == "x" * 20
    assert brief(Exception()) == ""
