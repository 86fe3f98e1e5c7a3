"""Reading the input and writing the output: blob SAS URLs or local paths, gzip-aware."""

from __future__ import annotations

import codecs
import gzip
import os
import tempfile
import zlib

from kuantum_solvers.formats.errors import INPUT_NOT_FOUND, STORAGE_ERROR, SolverError, invalid_input

GZIP_MAGIC = b"\x1f\x8b"


def is_url(location: str) -> bool:
    return location.startswith(("http://", "https://"))


def _redact(location: str) -> str:
    """Never print SAS tokens (they are credentials) in messages."""
    return location.split("?", 1)[0]


def maybe_gunzip(data: bytes) -> bytes:
    """Azure's QIO clients gzip the input blob; detect by magic bytes rather than trusting headers."""
    if data[:2] != GZIP_MAGIC:
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
        raise invalid_input(f"input looks gzip-compressed but cannot be decompressed: {exc}") from exc


def read_input(location: str) -> bytes:
    """Return the raw (decompressed) input bytes."""
    if is_url(location):
        data = _read_blob(location)
    else:
        try:
            with open(location, "rb") as fh:
                data = fh.read()
        except FileNotFoundError as exc:
            raise SolverError(INPUT_NOT_FOUND, f"input file {location!r} does not exist") from exc
        except OSError as exc:
            raise SolverError(STORAGE_ERROR, f"cannot read input file {location!r}: {exc}") from exc
    data = maybe_gunzip(data)
    # Editors on Windows prepend a byte-order mark; it is never part of JSON or OpenQASM.
    return data[len(codecs.BOM_UTF8):] if data.startswith(codecs.BOM_UTF8) else data


def write_output(location: str, data: bytes, content_type: str = "application/json") -> None:
    """Write the whole output in one operation (callers only do this once the result is complete)."""
    if is_url(location):
        _write_blob(location, data, content_type)
        return
    directory = os.path.dirname(os.path.abspath(location))
    try:
        # Write-then-rename so a crash never leaves a partial output file behind.
        fd, tmp = tempfile.mkstemp(prefix=".kuantum-", dir=directory)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, location)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
    except OSError as exc:
        raise SolverError(STORAGE_ERROR, f"cannot write output file {location!r}: {exc}") from exc


def _read_blob(url: str) -> bytes:
    from azure.core.exceptions import AzureError, ResourceNotFoundError
    from azure.storage.blob import BlobClient

    try:
        client = BlobClient.from_blob_url(url)
        return bytes(client.download_blob().readall())
    except ResourceNotFoundError as exc:
        raise SolverError(INPUT_NOT_FOUND, f"input blob {_redact(url)} does not exist") from exc
    except (AzureError, ValueError) as exc:
        raise SolverError(STORAGE_ERROR, f"cannot read input blob {_redact(url)}: {_short(exc)}") from exc


def _write_blob(url: str, data: bytes, content_type: str) -> None:
    from azure.core.exceptions import AzureError
    from azure.storage.blob import BlobClient, ContentSettings

    try:
        client = BlobClient.from_blob_url(url)
        client.upload_blob(data, overwrite=True, content_settings=ContentSettings(content_type=content_type))
    except (AzureError, ValueError) as exc:
        raise SolverError(STORAGE_ERROR, f"cannot write output blob {_redact(url)}: {_short(exc)}") from exc


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
