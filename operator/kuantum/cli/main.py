"""The `kuantum` command: submit QuantumJobs, list and inspect them, fetch their output, cancel them; list, show
and close QuantumSessions."""

from __future__ import annotations

import argparse
import gzip
import sys
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import urllib3
from azure.core.exceptions import AzureError
from kubernetes import config
from kubernetes.client.rest import ApiException

from ..models.job import FINAL_STATES, JobState
from ..storage.errors import StorageError
from . import logs
from .format import dump, error_text, job_summary, jobs_table, session_summary, sessions_table
from .input import CliError, inline_value, is_gzip, job_body, name_base, parse_params, prepare_program
from .session import (
    JOBS,
    SDK_ENDPOINT,
    SDK_V2_ENDPOINT,
    SESSIONS,
    WORKSPACES,
    Session,
    api_error,
    connect,
    connection_string,
    upload,
)

PROG = "kuantum"
POLL_SECONDS = 1.0


# ---------------------------------------------------------------------------------------------- parsing
def _json_object(text: str) -> dict[str, Any]:
    try:
        return parse_params(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from e


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number of seconds")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="Submit and follow Kuantum QuantumJobs.")
    common = argparse.ArgumentParser(add_help=False)
    # Accepted before or after the command, like kubectl's (SUPPRESS: a command's default never hides a global).
    for target, default in ((parser, None), (common, argparse.SUPPRESS)):
        target.add_argument("-n", "--namespace", default=default,
                            help="namespace (default: the kubeconfig context's, else default)")
        target.add_argument("--kubeconfig", default=default,
                            help="kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)")
        target.add_argument("--context", default=default, help="kubeconfig context (default: the current one)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    submit = commands.add_parser("submit", parents=[common], help="submit a job from an input file",
                                 description="Create a QuantumJob from an input file ('-' reads stdin).")
    submit.add_argument("file", metavar="FILE", help="input data: JSON, text (e.g. OpenQASM) or gzip; '-' = stdin")
    submit.add_argument("--workspace", "-w", required=True, help="QuantumWorkspace in the namespace")
    submit.add_argument("--provider", "-p", required=True, help="provider id (e.g. microsoft-qio) or Provider name")
    submit.add_argument("--target", "-t", required=True, help="target id, e.g. microsoft.simulatedannealing.cpu")
    submit.add_argument("--params", type=_json_object, help='inputParams JSON, e.g. \'{"params": {"sweeps": 100}}\'')
    submit.add_argument("--name", help="job name (default: generated from the file name)")
    submit.add_argument("--input-format", help="input data format, e.g. microsoft.qio.v2 (default: the target's)")
    submit.add_argument("--entry", metavar="EXPR", help="Q# entry expression for a .qs FILE, e.g. 'Main()' "
                        "(compiled to QIR with the QDK: pip install 'kuantum[qsharp]')")
    submit.add_argument("--priority", choices=["Standard", "High"], help="queue priority")
    submit.add_argument("--timeout", type=_positive_int, metavar="SECONDS", help="execution time limit")
    submit.add_argument("--tag", action="append", dest="tags", metavar="TAG", help="a tag (repeatable)")
    submit.add_argument("--session", metavar="SESSION", help="the QuantumSession the job joins (same target)")
    submit.add_argument("--wait", action="store_true", help="wait for a final state; exit 1 unless Succeeded")
    submit.add_argument("--wait-timeout", type=_positive_int, default=3600, metavar="SECONDS",
                        help="give up waiting after this long (default 3600)")

    get = commands.add_parser("get", parents=[common], help="list jobs, or show one",
                              description="Without NAME: a table of the namespace's jobs. With NAME: its status.")
    get.add_argument("name", metavar="NAME", nargs="?")
    get.add_argument("--workspace", "-w", help="only jobs of this workspace (list only)")
    get.add_argument("-o", "--output", choices=["json", "yaml"], help="print the raw object(s)")

    output = commands.add_parser("output", parents=[common], help="print or save a job's output",
                                 description="Download a Succeeded job's output (decompressed).")
    output.add_argument("name", metavar="NAME")
    output.add_argument("-o", "--output-file", metavar="FILE", help="write to FILE instead of stdout")

    logs = commands.add_parser("logs", parents=[common], help="print a job's solver log",
                               description="The job's solver log: while it runs, its pod's log, followed until the "
                                           "solver exits; once final, the log kept in the job's container "
                                           "(status.logsUri, its last MiB), which outlives the pod.")
    logs.add_argument("name", metavar="NAME")
    logs.add_argument("--no-follow", dest="follow", action="store_false",
                      help="print what there is now and return (default: follow while the job runs)")
    logs.add_argument("--wait-timeout", type=_positive_int, default=3600, metavar="SECONDS",
                      help="give up waiting for a waiting job's solver to start after this long (default 3600)")

    cancel = commands.add_parser("cancel", parents=[common], help="cancel a job",
                                 description="Set spec.cancel on a job.")
    cancel.add_argument("name", metavar="NAME")

    sessions = commands.add_parser("session", parents=[common], help="list, show or close sessions",
                                   description="QuantumSessions: jobs on one target under a failure policy.")
    actions = sessions.add_subparsers(dest="session_command", required=True, metavar="ACTION")
    listing = actions.add_parser("list", parents=[common], help="a table of the namespace's sessions")
    listing.add_argument("--workspace", "-w", help="only sessions of this workspace")
    listing.add_argument("-o", "--output", choices=["json", "yaml"], help="print the raw objects")
    show = actions.add_parser("show", parents=[common], help="one session's status and its jobs")
    show.add_argument("name", metavar="NAME")
    show.add_argument("-o", "--output", choices=["json", "yaml"], help="print the raw object")
    closing = actions.add_parser("close", parents=[common],
                                 help="close a session: no new jobs; it ends once its jobs are final")
    closing.add_argument("name", metavar="NAME")

    conn = commands.add_parser("connection-string", parents=[common],
                               help="print the azure-quantum SDK's connection string for a workspace",
                               description="The connection string for kuantum-gateway at an https endpoint "
                                           "(its API key from spec.gateway.apiKeySecretRef).")
    conn.add_argument("workspace", metavar="WORKSPACE")
    conn.add_argument("--endpoint", required=True, metavar="URL",
                      help="the gateway's https URL, e.g. https://eastus-v2-quantum-azure-com/ (-v2 after the region: "
                           "the SDK's get_targets() then lists every target)")
    return parser


# ---------------------------------------------------------------------------------------------- commands
def _read_file(path: str) -> bytes:
    try:
        return sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except OSError as e:
        raise CliError(f"cannot read {path}: {e.strerror or e}") from e


def _state(job: dict[str, Any]) -> str:
    return str((job.get("status") or {}).get("state") or "")


def wait_final(session: Session, name: str, timeout: float, poll: float = POLL_SECONDS,
               clock: Callable[[], float] = time.monotonic) -> dict[str, Any]:
    """Polls the job until it reaches a final state; CliError after timeout seconds."""
    deadline = clock() + timeout
    while True:
        job = session.get(JOBS, name)
        if _state(job) in FINAL_STATES:
            return job
        if clock() >= deadline:
            raise CliError(f"timed out after {timeout:g}s waiting for job {name} (state: {_state(job) or 'none yet'})")
        time.sleep(poll)


def cmd_submit(args: argparse.Namespace, session: Session) -> int:
    data = _read_file(args.file)
    if not data:
        raise CliError(f"{'stdin' if args.file == '-' else args.file} is empty")
    # Q# is compiled to QIR here; QIR (.ll/.bc) gets inputDataFormat qir.v1 and its entry point
    data, args.input_format, args.params = prepare_program(args.file, data, args.entry, args.input_format, args.params)
    inline = inline_value(data)
    if inline is not None:
        job_input: dict[str, Any] = {"inline": inline}
    else:
        job_input = {"blobUri": upload(session.storage(args.workspace), data, args.input_format)}
    body = job_body(name=args.name, base=name_base(args.file), workspace=args.workspace, provider=args.provider,
                    target=args.target, job_input=job_input, params=args.params, input_format=args.input_format,
                    priority=args.priority, timeout=args.timeout, tags=args.tags)
    if args.session:
        body["spec"]["session"] = args.session
    name = session.create_job(body)["metadata"]["name"]
    print(name, flush=True)
    if inline is not None and not session.exists(WORKSPACES, args.workspace):
        print(f"{PROG}: warning: QuantumWorkspace {args.workspace!r} does not exist in namespace "
              f"{session.namespace!r}; job {name} waits until it does", file=sys.stderr)
    if not args.wait:
        return 0
    job = wait_final(session, name, args.wait_timeout)
    print(_state(job), flush=True)
    if _state(job) == JobState.SUCCEEDED:
        return 0
    error = error_text((job.get("status") or {}).get("errorData"))
    if error:
        print(f"{PROG}: error: job {name} {_state(job)}: {error}", file=sys.stderr)
    return 1


def cmd_get(args: argparse.Namespace, session: Session) -> int:
    if args.name:
        job = session.get(JOBS, args.name)
        print(dump(job, args.output) if args.output else job_summary(job))
        return 0
    return _print_list(session.list_jobs(), "QuantumJobs", jobs_table, args, session.namespace)


def _print_list(listed: dict[str, Any], kind: str, table: Callable[[list[dict[str, Any]]], str],
                args: argparse.Namespace, namespace: str) -> int:
    """A listing of one kind, narrowed to --workspace: as -o asks, else a table, else a line saying there is none."""
    items = [o for o in listed.get("items") or []
             if args.workspace is None or (o.get("spec") or {}).get("workspace") == args.workspace]
    if args.output:
        print(dump({"apiVersion": "v1", "kind": "List", "items": items}, args.output))
    elif items:
        print(table(items))
    else:
        where = f" of workspace {args.workspace!r}" if args.workspace else ""
        print(f"No {kind}{where} in namespace {namespace}.", file=sys.stderr)
    return 0


def decompress(data: bytes) -> bytes:
    if not is_gzip(data):
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as e:
        raise CliError(f"the output looks gzip-compressed but does not decompress: {e}") from e


def not_succeeded_message(job: dict[str, Any]) -> str:
    name, state = job["metadata"]["name"], _state(job)
    if state == JobState.FAILED:
        error = error_text((job.get("status") or {}).get("errorData"))
        return f"job {name} Failed" + (f": {error}" if error else "") + "; it has no output"
    if state == JobState.CANCELLED:
        return f"job {name} was Cancelled; it has no output"
    return f"job {name} is {state or 'not yet seen by the operator'}; its output is available once it Succeeded"


def cmd_output(args: argparse.Namespace, session: Session) -> int:
    job = session.get(JOBS, args.name)
    if _state(job) != JobState.SUCCEEDED:
        raise CliError(not_succeeded_message(job))
    uri = (job.get("status") or {}).get("outputDataUri")
    if not uri:
        raise CliError(f"job {args.name} Succeeded but has no status.outputDataUri")
    workspace = str((job.get("spec") or {}).get("workspace"))
    storage = session.storage(workspace)
    located = storage.locate(uri)
    if located is None:
        raise CliError(f"output {uri.split('?', 1)[0]} is not in workspace {workspace}'s storage account "
                       f"{storage.account_name}")
    data = decompress(storage.download(*located))
    if args.output_file:
        try:
            Path(args.output_file).write_bytes(data)
        except OSError as e:
            raise CliError(f"cannot write {args.output_file}: {e.strerror or e}") from e
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    return 0


def cmd_logs(args: argparse.Namespace, session: Session) -> int:
    return logs.show(session, args.name, args.follow, args.wait_timeout)


def cmd_cancel(args: argparse.Namespace, session: Session) -> int:
    job = session.get(JOBS, args.name)
    state = _state(job)
    if state in FINAL_STATES:
        print(f"job {args.name} is already {state}; nothing to cancel")
        return 0
    session.cancel_job(args.name)
    if state in ("", JobState.WAITING):
        print(f"job {args.name} cancelled (it was {state or 'not yet queued'}; it becomes Cancelled without running)")
    else:
        print(f"job {args.name}: cancellation requested while {state}; it stops if its target can cancel a running "
              f"job, otherwise it runs to completion (see `{PROG} get {args.name}`, condition CancelRequested)")
    return 0


def cmd_session(args: argparse.Namespace, session: Session) -> int:
    if args.session_command == "list":
        return _print_list(session.list_sessions(), "QuantumSessions", sessions_table, args, session.namespace)
    found = session.get(SESSIONS, args.name)
    if args.session_command == "show":
        if args.output:
            print(dump(found, args.output))
            return 0
        jobs = [j for j in session.list_jobs().get("items") or [] if (j.get("spec") or {}).get("session") == args.name]
        print(session_summary(found, jobs))
        return 0
    state = (found.get("status") or {}).get("state")
    if state in ("Succeeded", "Failed", "TimedOut"):
        print(f"session {args.name} has already ended ({state})")
        return 0
    session.close_session(args.name)
    print(f"session {args.name} closed: it accepts no new jobs and ends once its jobs are final")
    return 0


def cmd_connection_string(args: argparse.Namespace, session: Session) -> int:
    endpoint = args.endpoint if args.endpoint.endswith("/") else args.endpoint + "/"
    if not endpoint.startswith("https://"):
        raise CliError("the SDK takes only https endpoints in a connection string; for a plain-http endpoint "
                       "pass _quantum_endpoint to Workspace(...) (see the README)")
    if not SDK_ENDPOINT.match(endpoint):
        print(f"{PROG}: warning: the azure-quantum SDK accepts only endpoints like https://<region>.quantum.azure.com/ "
              "(no port; one-label hosts such as https://eastus-v2-quantum-azure-com/ also match)", file=sys.stderr)
    elif not SDK_V2_ENDPOINT.match(endpoint):
        print(f"{PROG}: warning: without -v2 after the region the SDK takes the workspace for a V1 one, whose "
              "get_targets() lists only providers it has classes for (not kuantum, not microsoft-qio); name the "
              "host like https://eastus-v2-quantum-azure-com/ to have every target listed", file=sys.stderr)
    print(connection_string(session.namespace, args.workspace, session.api_key(args.workspace), endpoint))
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace, Session], int]] = {
    "submit": cmd_submit, "get": cmd_get, "output": cmd_output, "logs": cmd_logs, "cancel": cmd_cancel,
    "session": cmd_session,
    "connection-string": cmd_connection_string}


def error_message(e: BaseException) -> str:
    """One line for any failure we expect: API errors, storage, kubeconfig, network."""
    if isinstance(e, ApiException):
        return api_error(e)
    if isinstance(e, urllib3.exceptions.MaxRetryError):
        return f"cannot reach the API server: {e.reason or e}"
    if isinstance(e, config.ConfigException):
        return f"kubeconfig: {e}"
    return " ".join(str(e).split()) or type(e).__name__


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        session = connect(args.kubeconfig, args.context, args.namespace)
        return COMMANDS[args.command](args, session)
    except (CliError, ApiException, StorageError, AzureError, config.ConfigException,
            urllib3.exceptions.HTTPError) as e:
        print(f"{PROG}: error: {error_message(e)}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # e.g. `kuantum output job | head`
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
