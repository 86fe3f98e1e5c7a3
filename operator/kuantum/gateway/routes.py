"""The Azure Quantum data-plane handlers (jobs, storage/sasUri, providerStatus, quotas) over the cache; the
sessions' and top-level items' handlers are in gateway/sessions.py."""

from __future__ import annotations

import json
import logging
from typing import Any, Protocol

from aiohttp import web
from kubernetes.client.rest import ApiException

from ..models.job import FINAL_STATES
from ..objects import SessionObject
from . import jobdetails as jd
from .auth import HEADER, Secrets, authorize
from .cache import JOBS, Cache, job_id_of
from .errors import ApiError, api_message, bad_request
from .listing import page
from .providers import provider_status, quotas
from .sas import StorageAccess
from .sessions import SessionRoutes

log = logging.getLogger("kuantum.gateway")
WS = "/subscriptions/{sub}/resourceGroups/{ns}/providers/Microsoft.Quantum/workspaces/{ws}"
JOB_ID = "{id:[^/:]+}"
SYNC_WAIT = 10.0  # seconds a request waits for the first list after a (re)start before answering 503
LEGACY_CANCEL_BEFORE = "2023"  # api-versions before this one cancel on DELETE (SDK <= 0.30: 2022-09-12-preview)


class Writer(Protocol):
    """The writes the gateway makes (kubeclient.KubeClient; an in-memory fake in unit tests)."""

    async def create(self, plural: str, namespace: str, body: dict[str, Any]) -> dict[str, Any]: ...
    async def get(self, plural: str, namespace: str, name: str) -> dict[str, Any] | None: ...
    async def merge_patch(self, plural: str, namespace: str, name: str, patch: dict[str, Any]
                          ) -> dict[str, Any] | None: ...
    async def delete(self, plural: str, namespace: str, name: str) -> bool: ...


class Gateway:
    def __init__(self, cache: Cache, writer: Writer, secrets: Secrets, storage: StorageAccess) -> None:
        self.cache = cache
        self.writer = writer
        self.secrets = secrets
        self.storage = storage

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post(f"{WS}/storage/sasUri", self.sas_uri),
            web.put(f"{WS}/jobs/{JOB_ID}", self.put_job),
            web.get(f"{WS}/jobs/{JOB_ID}", self.get_job),
            # Azure's job update (Workspace.update_job): a merge patch of name, priority and tags.
            web.patch(f"{WS}/jobs/{JOB_ID}", self.update_job),
            web.delete(f"{WS}/jobs/{JOB_ID}", self.delete_job),
            web.post(f"{WS}/jobs/{JOB_ID}:cancel", self.cancel_job),
            web.get(f"{WS}/jobs", self.list_jobs),
            *SessionRoutes(self, WS).routes(),
            web.get(f"{WS}/providerStatus", self.provider_status),
            web.get(f"{WS}/quotas", self.quotas),
            web.get("/healthz", self.healthz),
            web.get("/readyz", self.readyz),
        ]

    # ----- common -----
    async def workspace(self, request: web.Request) -> tuple[str, str, dict[str, Any]]:
        """(namespace, workspace, object) of an authorized request; ApiError 401/503 otherwise."""
        namespace, workspace = request.match_info["ns"], request.match_info["ws"]
        if not await self.cache.wait_synced(SYNC_WAIT):
            raise ApiError(503, "ServiceUnavailable", "the gateway is starting (its cache is not filled yet)")
        found = self.cache.workspace(namespace, workspace) if self.cache.serves(namespace) else None
        obj = await authorize(found, namespace, workspace, request.headers.get(HEADER), self.secrets)
        return namespace, workspace, obj

    @staticmethod
    async def body(request: web.Request) -> Any:
        raw = await request.read()  # raises 413 past the application's client_max_size
        try:
            return json.loads(raw or b"null")
        except ValueError:
            raise bad_request("the request body is not valid JSON") from None

    def job(self, namespace: str, workspace: str, job_id: str) -> dict[str, Any]:
        job = self.cache.job(namespace, workspace, job_id)
        if job is None or (job.get("metadata") or {}).get("deletionTimestamp"):
            raise ApiError(404, "JobNotFound", f"job {job_id} not found in workspace {workspace}")
        return job

    def session_id(self, namespace: str, job: dict[str, Any]) -> str | None:
        """The id of the job's session (spec.session names the object; a gateway-made one by its id)."""
        name = (job.get("spec") or {}).get("session")
        if not name:
            return None
        session = self.cache.session_named(namespace, name)
        return session.session_id if session is not None else str(name)

    def job_details(self, namespace: str, job: dict[str, Any], job_id: str | None = None) -> dict[str, Any]:
        return jd.details(job, job_id or job_id_of(job) or "", self.session_id(namespace, job))

    def joinable_session(self, namespace: str, workspace: str, req: dict[str, Any]) -> SessionObject | None:
        """The open session a new job names (sessionId), or None for a standalone job; 4xx as Azure answers a job
        for an unknown, ended or closed session, or one on another target."""
        session_id = req["sessionId"]
        if not session_id:
            return None
        session = self.cache.session(namespace, workspace, session_id)
        if session is None:
            raise ApiError(404, "SessionNotFound", f"session {session_id} not found in workspace {workspace}")
        if not session.accepting:
            ended = str(session.state) if session.final else "closed"
            raise ApiError(409, "SessionClosed", f"session {session_id} is {ended}: it accepts no new jobs")
        spec = session.spec
        if spec is not None and (spec.target != req["target"]
                                 or jd.provider_of(spec.provider) != jd.provider_of(req["providerId"])):
            raise bad_request(f"session {session_id} is for {spec.provider}/{spec.target}, not "
                              f"{req['providerId']}/{req['target']}")
        return session

    # ----- jobs -----
    async def put_job(self, request: web.Request) -> web.Response:
        namespace, workspace, _ = await self.workspace(request)
        job_id = request.match_info["id"].lower()
        if not jd.UUID.match(job_id):
            raise bad_request(f"job id {job_id!r} is not a UUID")
        req = jd.requested(await self.body(request), job_id)
        existing = self.cache.job(namespace, workspace, job_id)
        if existing is None:
            session = self.joinable_session(namespace, workspace, req)
            body = jd.quantum_job(namespace, workspace, job_id, req, session.meta.name if session else None)
            try:
                created = await self.writer.create(JOBS, namespace, body)
            except ApiException as e:
                if e.status in (400, 422):
                    raise bad_request(api_message(e)) from None
                if e.status != 409:
                    raise
                existing = await self.writer.get(JOBS, namespace, job_id)
                if existing is None or (existing.get("spec") or {}).get("workspace") != workspace:
                    raise ApiError(409, "Conflict", f"job id {job_id} is in use") from None
            else:
                self.cache.put(JOBS, created)
                log.info("job %s created in %s/%s (%s, %s%s)", job_id, namespace, workspace, req["providerId"],
                         req["target"], f", session {req['sessionId']}" if session else "")
                return web.json_response(self.job_details(namespace, created, job_id), status=201)
        if not jd.same_request(req, jd.request_of(existing, self.session_id(namespace, existing))):
            raise ApiError(409, "Conflict", f"job {job_id} already exists with other details")
        return web.json_response(self.job_details(namespace, existing, job_id_of(existing) or job_id), status=200)

    async def get_job(self, request: web.Request) -> web.Response:
        namespace, workspace, _ = await self.workspace(request)
        job_id = request.match_info["id"].lower()
        return web.json_response(self.job_details(namespace, self.job(namespace, workspace, job_id), job_id))

    async def update_job(self, request: web.Request) -> web.Response:
        """A JSON merge patch of name, priority and tags (the SDK sends application/merge-patch+json); answers
        JobUpdateResponse. A waiting job's new priority re-orders its queue."""
        namespace, workspace, _ = await self.workspace(request)
        job_id = request.match_info["id"].lower()
        job = self.job(namespace, workspace, job_id)
        changes = jd.update_of(await self.body(request), job_id)
        patched = await self.writer.merge_patch(JOBS, namespace, job["metadata"]["name"], {"spec": changes})
        if patched is None:
            raise ApiError(404, "JobNotFound", f"job {job_id} not found in workspace {workspace}")
        self.cache.put(JOBS, patched)
        log.info("job %s in %s/%s updated (%s)", job_id, namespace, workspace, ", ".join(sorted(changes)))
        spec = patched.get("spec") or {}
        return web.json_response({"name": jd.name_of(patched), "priority": spec.get("priority") or "Standard",
                                  "tags": spec.get("tags") or []})

    async def list_jobs(self, request: web.Request) -> web.Response:
        namespace, workspace, _ = await self.workspace(request)
        jobs = [j for j in self.cache.jobs(namespace, workspace) if not (j.get("metadata") or {}).get(
            "deletionTimestamp")]
        return web.json_response(page(request, [self.job_details(namespace, j) for j in jobs]))

    async def cancel_job(self, request: web.Request) -> web.Response:
        namespace, workspace, _ = await self.workspace(request)
        job_id = request.match_info["id"].lower()
        return web.json_response(await self._cancel(namespace, workspace, job_id))

    async def _cancel(self, namespace: str, workspace: str, job_id: str) -> dict[str, Any]:
        """Sets spec.cancel (the operator applies the lifecycle rules); a finished job is left as it is."""
        job = self.job(namespace, workspace, job_id)
        if (job.get("status") or {}).get("state") not in FINAL_STATES and not (job.get("spec") or {}).get("cancel"):
            name = job["metadata"]["name"]
            patched = await self.writer.merge_patch(JOBS, namespace, name, {"spec": {"cancel": True}})
            if patched is None:
                raise ApiError(404, "JobNotFound", f"job {job_id} not found in workspace {workspace}")
            self.cache.put(JOBS, patched)
            job = patched
            log.info("job %s in %s/%s: cancellation requested", job_id, namespace, workspace)
        return self.job_details(namespace, job, job_id)

    async def delete_job(self, request: web.Request) -> web.Response:
        """Before api-version 2023 DELETE cancelled a job; since then it deletes it (its blobs stay)."""
        namespace, workspace, _ = await self.workspace(request)
        job_id = request.match_info["id"].lower()
        if request.query.get("api-version", "9999") < LEGACY_CANCEL_BEFORE:
            await self._cancel(namespace, workspace, job_id)
        else:
            job = self.job(namespace, workspace, job_id)
            await self.writer.delete(JOBS, namespace, job["metadata"]["name"])
            self.cache.remove(JOBS, job)
            log.info("job %s in %s/%s deleted", job_id, namespace, workspace)
        return web.Response(status=204)

    # ----- storage, providers, quotas -----
    async def sas_uri(self, request: web.Request) -> web.Response:
        namespace, workspace, obj = await self.workspace(request)
        body = await self.body(request)
        self._check_container_owner(namespace, workspace, body)
        return web.json_response({"sasUri": await self.storage.sas_uri(namespace, obj, body)})

    def _check_container_owner(self, namespace: str, workspace: str, body: Any) -> None:
        """Workspaces may share one storage account: a key never gets a SAS into another workspace's job.

        Writing is allowed into the container of a job id nobody has yet (the SDK uploads before its PUT);
        reading a blob needs the job to be this workspace's.
        """
        container = body.get("containerName") if isinstance(body, dict) else None
        if not isinstance(container, str) or not container.startswith("job-"):
            return  # sas_uri refuses it with its own message
        owner = self.cache.owner_of(container[len("job-"):])
        if owner is not None and owner != (namespace, workspace):
            raise ApiError(403, "Forbidden", f"container {container} belongs to another workspace")
        if body.get("blobName") and owner is None:
            raise ApiError(404, "JobNotFound", f"no job of workspace {workspace} uses container {container}")

    async def provider_status(self, request: web.Request) -> web.Response:
        namespace, workspace, _ = await self.workspace(request)
        return web.json_response({"value": provider_status(self.cache.providers(namespace, workspace)),
                                  "nextLink": None})

    async def quotas(self, request: web.Request) -> web.Response:
        namespace, workspace, _ = await self.workspace(request)
        value = quotas(self.cache.providers(namespace, workspace), self.cache.jobs(namespace, workspace))
        return web.json_response({"value": value, "nextLink": None})

    # ----- probes (outside Azure's URL space) -----
    async def healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(self, request: web.Request) -> web.Response:
        if not await self.cache.wait_synced(0.01):
            raise ApiError(503, "ServiceUnavailable", "cache not filled yet")
        return web.json_response({"status": "ready"})
