"""The ASGI application: IMS, Data Hygiene, Privacy Service and the admin routes on one origin."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from reconciler.emulator import hygiene, ims, privacy
from reconciler.emulator.admin import admin_routes
from reconciler.emulator.gateway import endpoint
from reconciler.emulator.middleware import GatewayMiddleware
from reconciler.emulator.state import Emulator

HYGIENE = "/data/core/hygiene"
PRIVACY = "/data/core/privacy"


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    return JSONResponse({"error_code": f"{status}000", "message": str(exc)}, status)


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
        Route(f"{PRIVACY}/jobs", endpoint(emulator, privacy.create_jobs), methods=["POST"]),
        Route(f"{PRIVACY}/jobs", endpoint(emulator, privacy.list_jobs), methods=["GET"]),
        Route(
            f"{PRIVACY}/jobs/{{job_id}}",
            endpoint(emulator, privacy.get_job),
            methods=["GET"],
            name="privacy_job",
        ),
        Route(f"{PRIVACY}/consent", endpoint(emulator, privacy.create_consent), methods=["POST"]),
    ]
    if emulator.config.admin:
        routes += admin_routes(emulator)
    app = Starlette(routes=routes, exception_handlers={HTTPException: _http_error})
    app.router.redirect_slashes = False
    return GatewayMiddleware(app, emulator)
