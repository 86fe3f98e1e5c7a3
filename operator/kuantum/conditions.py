"""kstatus-style conditions: set one, keeping lastTransitionTime when its status did not change."""

from __future__ import annotations

from .models import Condition


def set_condition(conditions: list[Condition], type_: str, status: bool | str, reason: str, message: str,
                  now: str, generation: int | None = None) -> list[Condition]:
    value = status if isinstance(status, str) else ("True" if status else "False")
    result: list[Condition] = []
    found = False
    for c in conditions:
        if c.type != type_:
            result.append(c)
            continue
        found = True
        changed = c.status != value
        result.append(Condition(type=type_, status=value, reason=reason, message=message,
                                lastTransitionTime=now if changed else c.lastTransitionTime,
                                observedGeneration=generation))
    if not found:
        result.append(Condition(type=type_, status=value, reason=reason, message=message,
                                lastTransitionTime=now, observedGeneration=generation))
    return result


def remove_condition(conditions: list[Condition], type_: str) -> list[Condition]:
    return [c for c in conditions if c.type != type_]


def get_condition(conditions: list[Condition], type_: str) -> Condition | None:
    return next((c for c in conditions if c.type == type_), None)
