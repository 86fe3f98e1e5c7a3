"""The pod contract's pure parts: the solver's arguments, its tracing environment, and the termination message
written by a failed solver and read back by the operator (test_pod_contract.py runs both sides together)."""

from __future__ import annotations

import json

import pytest
from kuantum_solvers.formats import contract
from kuantum_solvers.formats.contract import (
    MAX_LINE_BYTES,
    parse_termination_message,
    solver_args,
    termination_message,
    tracing_env,
)


def test_arguments_name_the_url_variables_never_their_values() -> None:
    assert solver_args("microsoft.qmc.cpu", "microsoft.qio.v2", "microsoft.qio-results.v2") == [
        "--target", "microsoft.qmc.cpu", "--input-url-env", "KUANTUM_INPUT_URL", "--output-url-env",
        "KUANTUM_OUTPUT_URL", "--input-format", "microsoft.qio.v2", "--output-format", "microsoft.qio-results.v2"]


def test_tracing_needs_both_a_context_and_an_endpoint() -> None:
    parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    assert tracing_env(parent, "http://10.0.0.1:4318") == {
        "TRACEPARENT": parent, "OTEL_EXPORTER_OTLP_ENDPOINT": "http://10.0.0.1:4318",
        "OTEL_SERVICE_NAME": contract.SOLVER_SERVICE}
    for traceparent, endpoint in ((parent, None), (None, "http://x"), ("", "http://x"), (parent, ""), (None, None)):
        assert tracing_env(traceparent, endpoint) == {}


@pytest.mark.parametrize("char", ["m", "é", "\U0001f600", "\"", "\n"])
def test_a_message_too_long_for_kubernetes_is_cut_to_the_longest_start_that_fits(char: str) -> None:
    """Kubernetes keeps 4096 bytes of a termination message: past that the JSON would be cut and unreadable."""
    for length in (5_000, 100_000):
        line = termination_message("InvalidInputData", char * length)
        assert line.isascii() and "\n" not in line and len(line) <= MAX_LINE_BYTES
        code, message = json.loads(line).values()
        assert code == "InvalidInputData" and message.endswith("…") and set(message[:-1]) == {char}
        one_more = message[:-1] + char + "…"  # the next longer start would not fit
        assert len(json.dumps({"code": code, "message": one_more})) > MAX_LINE_BYTES


def test_a_message_that_fits_is_kept_whole_up_to_the_last_byte() -> None:
    room = MAX_LINE_BYTES - len(json.dumps({"code": "C", "message": ""}))
    assert json.loads(termination_message("C", "m" * room))["message"] == "m" * room
    ellipsis = len(json.dumps("…")) - 2  # "\u2026": 6 bytes
    assert json.loads(termination_message("C", "m" * (room + 1)))["message"] == "m" * (room - ellipsis) + "…"
    assert json.loads(termination_message("C", ""))["message"] == ""


def test_the_limit_leaves_room_for_the_newline_under_kubernetes_bytes() -> None:
    assert MAX_LINE_BYTES < 4096


def test_the_message_round_trips() -> None:
    assert parse_termination_message(termination_message("InsufficientMemory", 'needs 4 GiB: "q"')) == (
        "InsufficientMemory", 'needs 4 GiB: "q"')


def test_the_last_json_line_wins_over_earlier_ones_and_log_lines() -> None:
    log = "\n".join(["starting", '{"code": "Early", "message": "first"}', "Traceback: boom",
                     '  {"code": "Late", "message": "second"}  ', "", "   "])
    assert parse_termination_message(log) == ("Late", "second")


@pytest.mark.parametrize("broken", ['{"code": "Late", "message": ', '{"code": "Late"}', '{"message": "m"}',
                                    '["code", "message"]', "{not json}"])
def test_a_line_that_is_not_the_object_is_passed_over_for_an_earlier_one(broken: str) -> None:
    assert parse_termination_message(f'{{"code": "Early", "message": "m"}}\n{broken}') == ("Early", "m")


@pytest.mark.parametrize("message", ["", "exit status 1", "Killed", '{"code": "X"}', "[1, 2]"])
def test_no_object_is_none(message: str) -> None:
    assert parse_termination_message(message) is None


def test_values_that_are_not_strings_are_read_as_strings() -> None:
    assert parse_termination_message('{"code": 7, "message": null}') == ("7", "None")
