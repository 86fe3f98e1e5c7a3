"""Azure Quantum's session routes and top-level items, as azure-quantum 3.13 calls them (`Workspace.open_session`,
`close_session`, `get_session`, `list_sessions`, `list_session_jobs`, `list_top_level_items`).

A session opened through the gateway is a QuantumSession named by its id; one applied with kubectl is found by
its id too (status.id). Its state is the operator's (sessions/policy.py); closing sets spec.close.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from aiohttp import web
from kubernetes.client.rest import ApiException

from ..objects import SessionObject
from . import sessiondetails as sd
from .cache import SESSIONS
from .errors import ApiError, api_message, bad_request
from .jobdetails import UUID
from .listing import page

if TYPE_CHECKING:
    from .routes import Gateway

log = logging.getLogger("kuantum.gateway")
SESSION_ID = "{sid:[^/:]+}"


class SessionRoutes:
    def __init__(self, gateway: Gateway, prefix: str) -> None:
        self.gw = gateway
        self.prefix = prefix

    def routes(self) -> list[web.RouteDef]:
        p = self.prefix
        return [
            web.put(f"{p}/sessions/{SESSION_ID}", self.put_session),
            web.get(f"{p}/sessions/{SESSION_ID}", self.get_session),
            web.post(f"{p}/sessions/{SESSION_ID}:close", self.close_session),
            web.get(f"{p}/sessions/{SESSION_ID}/jobs", self.session_jobs),
            web.get(f"{p}/sessions", self.list_sessions),
            web.get(f"{p}/topLevelItems", self.top_level_items),
        ]

    def _session(self, namespace: str, workspace: str, session_id: str) -> SessionObject:
        session = self.gw.cache.session(namespace, workspace, session_id)
        if session is None:
            raise ApiError(404, "SessionNotFound", f"session {session_id} not found in workspace {workspace}")
        return session

    async def put_session(self, request: web.Request) -> web.Response:
        """Opens a session (200 when one with this id and these details exists: the SDK may retry)."""
        namespace, workspace, _ = await self.gw.workspace(request)
        session_id = request.match_info["sid"].lower()
        if not UUID.match(session_id):
            raise bad_request(f"session id {session_id!r} is not a UUID")
        req = sd.requested(await self.gw.body(request))
        existing = self.gw.cache.session(namespace, workspace, session_id)
        if existing is None:
            try:
                created = await self.gw.writer.create(
                    SESSIONS, namespace, sd.quantum_session(namespace, workspace, session_id, req))
            except ApiException as e:
                if e.status in (400, 422):
                    raise bad_request(api_message(e)) from None
                if e.status != 409:
                    raise
                found = await self.gw.writer.get(SESSIONS, namespace, session_id)
                if found is None or (found.get("spec") or {}).get("workspace") != workspace:
                    raise ApiError(409, "Conflict", f"session id {session_id} is in use") from None
                self.gw.cache.put(SESSIONS, found)
                existing = self._session(namespace, workspace, session_id)
            else:
                self.gw.cache.put(SESSIONS, created)
                log.info("session %s opened in %s/%s (%s, %s, %s)", session_id, namespace, workspace,
                         req["providerId"], req["target"], req["jobFailurePolicy"])
                return web.json_response(sd.details(self._session(namespace, workspace, session_id)), status=201)
        if not sd.same_request(req, sd.request_of(existing)):
            raise ApiError(409, "Conflict", f"session {session_id} already exists with other details")
        return web.json_response(sd.details(existing))

    async def get_session(self, request: web.Request) -> web.Response:
        namespace, workspace, _ = await self.gw.workspace(request)
        return web.json_response(sd.details(self._session(namespace, workspace, request.match_info["sid"])))

    async def close_session(self, request: web.Request) -> web.Response:
        """Sets spec.close: the session accepts no new jobs and ends once its jobs are final (the operator's)."""
        namespace, workspace, _ = await self.gw.workspace(request)
        session = self._session(namespace, workspace, request.match_info["sid"])
        if session.accepting and not (session.spec is not None and session.spec.close):
            patched = await self.gw.writer.merge_patch(SESSIONS, namespace, session.meta.name,
                                                       {"spec": {"close": True}})
            if patched is None:
                raise ApiError(404, "SessionNotFound", f"session {session.session_id} not found in workspace "
                                                       f"{workspace}")
            self.gw.cache.put(SESSIONS, patched)
            session = self._session(namespace, workspace, session.session_id)
            log.info("session %s in %s/%s closed", session.session_id, namespace, workspace)
        return web.json_response(sd.details(session))

    async def list_sessions(self, request: web.Request) -> web.Response:
        namespace, workspace, _ = await self.gw.workspace(request)
        return web.json_response(page(request, [sd.details(s) for s in self.gw.cache.sessions(namespace, workspace)]))

    async def session_jobs(self, request: web.Request) -> web.Response:
        namespace, workspace, _ = await self.gw.workspace(request)
        session = self._session(namespace, workspace, request.match_info["sid"])
        jobs = self.gw.cache.session_jobs(namespace, session.meta.name)
        return web.json_response(page(request, [self.gw.job_details(namespace, j) for j in jobs
                                                if not j["metadata"].get("deletionTimestamp")]))

    async def top_level_items(self, request: web.Request) -> web.Response:
        """Sessions and the jobs of no session, told apart by itemType (the SDK builds Session or Job objects)."""
        namespace, workspace, _ = await self.gw.workspace(request)
        sessions = self.gw.cache.sessions(namespace, workspace)
        items: list[dict[str, Any]] = [sd.details(s) for s in sessions]
        names = {s.meta.name for s in sessions}
        for job in self.gw.cache.jobs(namespace, workspace):
            if job["metadata"].get("deletionTimestamp"):
                continue
            # A job whose session object is gone is shown on its own (it is nobody's any more).
            if (job.get("spec") or {}).get("session") not in names:
                items.append(self.gw.job_details(namespace, job))
        return web.json_response(page(request, items))
