"""The ASGI application: IMS, Data Hygiene, Privacy Service and the admin routes on one origin."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Match, Route
from starlette.types import ASGIApp

from reconciler.emulator import hygiene, ims, privacy, ttl
from reconciler.emulator.admin import admin_routes
from reconciler.emulator.gateway import clip, endpoint
from reconciler.emulator.middleware import GatewayMiddleware
from reconciler.emulator.state import Emulator

HYGIENE = "/data/core/hygiene"
PRIVACY = "/data/core/privacy"


def _allowed_methods(routes: list[BaseRoute], request: Request) -> str:
    """The methods some route serves at the request's path, for ``Allow``."""
    methods: set[str] = set()
    for route in routes:
        if isinstance(route, Route) and route.methods:
            match, _ = route.matches(request.scope)
            if match is not Match.NONE:
                methods |= route.methods
    return ", ".join(sorted(methods))


async def _http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own 404 and 405 in Adobe's error shape. A 405 says what is allowed
    (RFC 9110 §15.5.6: ``Allow`` is required); neither echoes more than 64 characters."""
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    where = f"{request.method} {clip(request.url.path)}"
    headers: dict[str, str] = {}
    if status == 404:
        message = f"No route for {where}."
    elif status == 405:
        headers["Allow"] = _allowed_methods(request.app.router.routes, request)
        message = f"{where} is not allowed; allowed: {headers['Allow']}."
    else:
        message = exc.detail if isinstance(exc, HTTPException) else str(exc)
    return JSONResponse({"error_code": f"{status}000", "message": message}, status, headers)


async def _server_error(request: Request, exc: Exception) -> Response:
    # The body of the gateway's 500 (spec: ErrorResponse500); uvicorn still logs the bug.
    return JSONResponse({"error_code": "500001", "message": "Internal server error."}, 500)


def build_app(emulator: Emulator) -> ASGIApp:
    """The emulator as an ASGI app, fault injection and request log included."""
    routes = [
        Route("/ims/token/v3", endpoint(emulator, ims.issue_token), methods=["POST"]),
        Route(
            f"{HYGIENE}/workorder", endpoint(emulator, hygiene.create_workorder), methods=["POST"]
        ),
        Route(f"{HYGIENE}/workorder", endpoint(emulator, hygiene.list_workorders), methods=["GET"]),
        Route(
            f"{HYGIENE}/workorder/{{workorder_id}}",
            endpoint(emulator, hygiene.get_workorder),
            methods=["GET"],
        ),
        Route(
            f"{HYGIENE}/workorder/{{workorder_id}}",
            endpoint(emulator, hygiene.update_workorder),
            methods=["PUT"],
        ),
        Route(f"{HYGIENE}/quota", endpoint(emulator, hygiene.get_quota), methods=["GET"]),
        Route(f"{HYGIENE}/ttl", endpoint(emulator, ttl.create_expiration), methods=["POST"]),
        Route(f"{HYGIENE}/ttl", endpoint(emulator, ttl.list_expirations), methods=["GET"]),
        *(
            Route(f"{HYGIENE}/ttl/{{ttl_id}}", endpoint(emulator, handler), methods=[method])
            for method, handler in (
                ("GET", ttl.get_expiration),
                ("PUT", ttl.update_expiration),
                ("DELETE", ttl.cancel_expiration),
            )
        ),
        Route(f"{PRIVACY}/jobs", endpoint(emulator, privacy.create_jobs), methods=["POST"]),
        Route(f"{PRIVACY}/jobs", endpoint(emulator, privacy.list_jobs), methods=["GET"]),
        Route(
            f"{PRIVACY}/jobs/{{job_id}}",
            endpoint(emulator, privacy.get_job),
            methods=["GET"],
            name="privacy_job",
        ),
        Route(
            f"{PRIVACY}/jobs/{{job_id}}/content",
            endpoint(emulator, privacy.get_job_content),
            methods=["GET"],
        ),
        Route(f"{PRIVACY}/consent", endpoint(emulator, privacy.create_consent), methods=["POST"]),
    ]
    if emulator.config.admin:
        routes += admin_routes(emulator)
    app = Starlette(
        routes=routes,
        exception_handlers={HTTPException: _http_error, Exception: _server_error},
    )
    app.router.redirect_slashes = False
    return GatewayMiddleware(app, emulator)
