"""The pod contract: how the operator runs a solver pod and reads how it ended. Both sides import this module
(the operator's execution/pod/builders.py and backend.py, the solver's cli.py), so neither writes it down alone.

- Arguments (`solver_args`): the target, the *names* of the environment variables that hold the input and output
  SAS URLs (a process's argv is readable by every user of the node, its environment only by its own user), and
  the input and output formats.
- Environment, filled by the operator from the job's Secret: `INPUT_URL_ENV`, `OUTPUT_URL_ENV` (SAS URLs) and
  `PARAMS_ENV` (the job's inputParams as JSON).
- Tracing (optional): `TRACEPARENT_ENV` holds the W3C traceparent of the operator's span that launched the pod, and
  `OTLP_ENDPOINT_ENV` the OTLP/HTTP endpoint the solver sends its spans to (download, solve, upload); neither set,
  the solver traces nothing and imports nothing for it (`tracing_env` builds them).
- Outcome: exit 0 once the output is written (in one write, at the very end). Otherwise nothing is written, the
  exit code is 2 for the job's own errors and 1 for the platform's or ours (`errors.SolverError.exit_code`), and
  the termination message is one JSON object `{"code", "message"}` (`termination_message`, at most 4096 bytes, what
  Kubernetes keeps), written to `TERMINATION_LOG` (Kubernetes's default terminationMessagePath, which the pod
  keeps) and as the last line of stderr, where `terminationMessagePolicy: FallbackToLogsOnError` finds it when
  the file is empty; `parse_termination_message` reads it back.
"""

from __future__ import annotations

import json

INPUT_URL_ENV = "KUANTUM_INPUT_URL"
OUTPUT_URL_ENV = "KUANTUM_OUTPUT_URL"
PARAMS_ENV = "KUANTUM_PARAMS"
TRACEPARENT_ENV = "TRACEPARENT"
OTLP_ENDPOINT_ENV = "OTEL_EXPORTER_OTLP_ENDPOINT"
SERVICE_NAME_ENV = "OTEL_SERVICE_NAME"
SOLVER_SERVICE = "kuantum-solver"

TARGET_FLAG = "--target"
INPUT_URL_ENV_FLAG = "--input-url-env"
OUTPUT_URL_ENV_FLAG = "--output-url-env"
INPUT_FORMAT_FLAG = "--input-format"
OUTPUT_FORMAT_FLAG = "--output-format"

TERMINATION_LOG = "/dev/termination-log"
# Kubernetes keeps at most 4096 bytes of a container's termination message: the JSON line and its newline stay
# under that, whatever the message's characters (JSON escapes each non-ASCII one to as many as 12 bytes).
MAX_LINE_BYTES = 4000


def solver_args(target: str, input_format: str, output_format: str) -> list[str]:
    """The solver container's arguments: names of variables, never their values."""
    return [TARGET_FLAG, target, INPUT_URL_ENV_FLAG, INPUT_URL_ENV, OUTPUT_URL_ENV_FLAG, OUTPUT_URL_ENV,
            INPUT_FORMAT_FLAG, input_format, OUTPUT_FORMAT_FLAG, output_format]


def tracing_env(traceparent: str | None, endpoint: str | None) -> dict[str, str]:
    """The solver's tracing environment: empty unless both a trace context and an endpoint are given."""
    if not traceparent or not endpoint:
        return {}
    return {TRACEPARENT_ENV: traceparent, OTLP_ENDPOINT_ENV: endpoint, SERVICE_NAME_ENV: SOLVER_SERVICE}


def termination_message(code: str, message: str) -> str:
    """The one JSON line a failed solver leaves: `{"code", "message"}`, ASCII only, the message cut (ending in "…")
    to the longest start that keeps the line within MAX_LINE_BYTES."""
    line = _line(code, message)
    if len(line) <= MAX_LINE_BYTES:
        return line
    kept, too_long = 0, len(message)  # a start of `kept` characters fits; one of `too_long` does not
    while too_long - kept > 1:
        middle = (kept + too_long) // 2
        if len(_line(code, message[:middle] + "…")) <= MAX_LINE_BYTES:
            kept = middle
        else:
            too_long = middle
    return _line(code, message[:kept] + "…")


def _line(code: str, message: str) -> str:
    return json.dumps({"code": code, "message": message})  # ensure_ascii: one character is one byte


def parse_termination_message(message: str) -> tuple[str, str] | None:
    """The solver's `{"code", "message"}` JSON (the last JSON line of the message), if there is one."""
    for line in reversed(message.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                data = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(data, dict) and "code" in data and "message" in data:
                return str(data["code"]), str(data["message"])
    return None
