"""One page of a listing as Azure answers it: the OData `filter` and `orderby` the SDK sends, `skip`/`top`, and a
`nextLink` that repeats the query with the next `skip` (jobs, sessions, a session's jobs, top-level items)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from .errors import bad_request
from .filters import parse_filter, sort_key

PAGE = 100
MAX_PAGE = 1000


def page(request: web.Request, items: list[dict[str, Any]]) -> dict[str, Any]:
    q = request.query
    predicate = parse_filter(q.get("filter", q.get("$filter")))
    key, reverse = sort_key(q.get("orderby", q.get("$orderby")))
    skip, top = number(q.get("skip", q.get("$skip")), 0, "skip"), number(q.get("top", q.get("$top")), PAGE, "top")
    top = min(max(top, 1), MAX_PAGE)
    found = [d for d in items if predicate(d)]
    found.sort(key=key, reverse=reverse)
    shown = found[skip:skip + top]
    next_link = None
    if skip + top < len(found):
        params = {k: v for k, v in q.items() if k not in ("skip", "$skip")}
        next_link = str(request.url.with_query(None)) + "?" + urlencode({**params, "skip": skip + top})
    return {"value": shown, "nextLink": next_link}


def number(text: str | None, default: int, name: str) -> int:
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise bad_request(f"{name} must be a whole number") from None
    if value < 0:
        raise bad_request(f"{name} must not be negative")
    return value
