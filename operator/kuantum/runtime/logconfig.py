"""The operator's logging: one format (text or JSON), what a person needs at INFO, secrets never written.

Kopf's own handler is the only handler (a second one wrote every line twice). Kopf's per-event
"Handler ... succeeded" lines go to DEBUG: the operator logs one line per job transition instead.
"""

from __future__ import annotations

import logging
import re

import kopf

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# SAS signatures, account keys, connection strings and API-key headers, wherever they appear.
_SECRETS = re.compile(
    r"(?i)(sig=|accountkey=|sharedaccesssignature=|x-ms-quantum-api-key['\"]?\s*[:=]\s*['\"]?|"
    r"authorization['\"]?\s*[:=]\s*['\"]?(?:apikey\s+|bearer\s+)?|\"apiKey\"\s*:\s*\"|\"password\"\s*:\s*\")"
    r"[^&;\s'\",}]+")


def redact(text: str) -> str:
    """text with every secret value replaced by ***."""
    return _SECRETS.sub(lambda m: m.group(1) + "***", text)


class RedactingFilter(logging.Filter):
    """Scrubs secrets from the final message (arguments included) before any handler formats it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and record.exc_info[1] is not None:
            text = redact(str(record.exc_info[1]))
            if text != str(record.exc_info[1]):
                record.exc_info = None  # the traceback would repeat the secret: keep the scrubbed line only
                record.msg, record.args = f"{clean} ({text})", None
        return True


def configure(verbose: bool, log_format: str) -> None:
    chosen = kopf.LogFormat.JSON if log_format == "json" else TEXT_FORMAT  # Kopf takes a format string too
    kopf.configure(verbose=verbose, log_format=chosen, log_prefix=log_format != "json")  # type: ignore[arg-type]
    for handler in logging.getLogger().handlers:
        handler.addFilter(RedactingFilter())
    # Per-watch-event handler outcomes: detail for --verbose, not for the INFO log.
    logging.getLogger("kopf.objects").setLevel(logging.DEBUG if verbose else logging.WARNING)
    logging.getLogger("aiohttp.access").setLevel(logging.DEBUG if verbose else logging.WARNING)  # probes
    # Libraries that log request URLs, headers or bodies (SAS tokens, Secret data) even at DEBUG.
    for noisy in ("azure", "urllib3", "kubernetes", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
