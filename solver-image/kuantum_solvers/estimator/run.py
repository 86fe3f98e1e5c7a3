"""`microsoft.estimator`: logical counts from the QIR (estimator/counts.py), physical estimates from the QDK's
open-source estimator: `physical_estimates(counts, params)` of the `qdk` package's native module, the
function `qsharp.estimator.LogicalCounts.estimate` and `qsharp.estimate` end in — so for the same counts
and parameters the numbers are the estimator's own, bit for bit.

Output `microsoft.resource-estimates.v1`: the estimator's result object (status, jobParams,
physicalCounts, physicalCountsFormatted, logicalQubit, tfactory, errorBudget, logicalCounts,
reportData; `frontierEntries` for estimateType frontier) — or, with `items`, a list of them, one per
item, where a failing item is `{"code", "message"}` unless resumeAfterFailedItem is false.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from kuantum_solvers.estimator.counts import entry_point_of, logical_counts
from kuantum_solvers.formats.errors import invalid_input
from kuantum_solvers.formats.params.estimator import ITEM_KEYS

Progress = Callable[[str], None]


def _physical_estimates() -> Callable[[str, str], str]:
    try:
        from qdk._native import physical_estimates
    except ImportError:
        try:
            from qsharp._native import physical_estimates  # the QDK's older name
        except ImportError:
            raise ImportError("the QDK (package qdk) is not installed") from None
    estimates: Callable[[str, str], str] = physical_estimates
    return estimates


def item_params(params: dict[str, Any]) -> list[dict[str, Any]]:
    """The estimator's parameter list: the top level, or each item over the top level."""
    top = {k: params[k] for k in ITEM_KEYS if params.get(k) is not None and k != "profiling"}
    items = params.get("items")
    if not items:
        return [top]
    return [{**top, **{k: v for k, v in item.items() if v is not None and k != "profiling"}} for item in items]


def estimate(counts: dict[str, int], params: dict[str, Any]) -> Any:
    plist = item_params(params)
    try:
        raw = _physical_estimates()(json.dumps(counts), json.dumps(plist))
    except Exception as exc:  # the estimator refuses parameters it cannot read ("cannot parse JSON: ...")
        raise invalid_input(f"estimator parameters: {' '.join(str(exc).split())[:600]}") from None
    results = json.loads(raw)
    batch = bool(params.get("items"))
    for k, result in enumerate(results):
        if result.get("status") != "success" and (not batch or params.get("resumeAfterFailedItem") is False):
            where = f"items[{k}]: " if batch else ""
            raise invalid_input(f"{where}{result.get('code', 'EstimatorError')}: {result.get('message', result)}")
    return results if batch else results[0]


def run_estimator(data: bytes, params: dict[str, Any], progress: Progress | None = None) -> Any:
    counts = logical_counts(data, entry_point_of(params))
    if progress is not None:
        progress(f"logical counts: {json.dumps(counts)}")
    return estimate(counts, params)
