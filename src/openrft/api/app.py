"""`create_app()`: the one place the HTTP service is put together.

Middleware, error mapping, the routers of every resource, and the embedded worker that
`openrft serve` runs beside the API so a single process is a whole installation.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from openrft import __version__
from openrft.api.audit.router import router as audit_router
from openrft.api.auditing import AuditMutations
from openrft.api.authz import index_routes
from openrft.api.awsquery.router import router as awsquery_router
from openrft.api.bodylimits import JSONBodyLimits
from openrft.api.chat.router import router as chat_router
from openrft.api.console.pages import HERE as CONSOLE_DIR
from openrft.api.console.router import router as console_router
from openrft.api.errors import install_error_handlers
from openrft.api.evals.router import router as evals_router
from openrft.api.files.router import router as files_router
from openrft.api.functions.router import router as functions_router
from openrft.api.graders.router import router as graders_router
from openrft.api.iam_org.router import router as iam_org_router
from openrft.api.jobs.router import router as jobs_router
from openrft.api.models.router import router as models_router
from openrft.api.openapi import aws_errors, build_openapi, openai_errors
from openrft.api.organization.router import router as organization_router
from openrft.api.preflight.router import router as preflight_router
from openrft.api.requestid import RequestId
from openrft.api.responses.router import router as responses_router
from openrft.api.reviews.router import router as reviews_router
from openrft.context import build_context
from openrft.functions.sandbox import sandbox_log_line
from openrft.settings import Settings, get_settings

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, *, embedded_worker: bool | None = None) -> FastAPI:
    settings = settings or get_settings()
    ctx = build_context(settings)
    run_worker = settings.embedded_worker if embedded_worker is None else embedded_worker

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        log.info(sandbox_log_line())
        worker = runner = None
        if run_worker:
            from openrft.evals.runner import EvalWorker
            from openrft.inference.engine import get_engine
            from openrft.worker import Worker

            worker = Worker(ctx)
            worker.start_background()
            runner = EvalWorker(ctx, get_engine)  # eval runs: the same queue discipline, in this process
            runner.start_background()
            log.info("embedded worker %s and eval runner %s started", worker.worker_id, runner.worker_id)
        try:
            yield
        finally:
            if runner is not None:
                runner.stop()
            if worker is not None:
                worker.stop()
            ctx.store.dispose()

    app = FastAPI(title="openrft", version=__version__, lifespan=lifespan)
    app.state.ctx = ctx
    install_error_handlers(app)
    app.add_middleware(JSONBodyLimits)  # deep or non-finite JSON: a 400, before any route parses it
    app.add_middleware(AuditMutations, ctx=ctx)  # a mutating call's record commits with its change
    app.add_middleware(RequestId)  # outermost: every answer, errors included, names its request

    @app.get("/health", include_in_schema=False)
    def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    openai_routers = (
        organization_router,
        files_router,
        jobs_router,
        graders_router,
        models_router,
        chat_router,
        responses_router,
        evals_router,
        reviews_router,
        preflight_router,
        audit_router,
        iam_org_router,
    )
    for router in openai_routers:
        app.include_router(router, prefix="/v1", responses=openai_errors())
    app.include_router(functions_router, responses=aws_errors())  # AWS Lambda paths: /2015-03-31/functions/...
    app.include_router(awsquery_router)  # IAM and STS: AWS's query protocol, POST /
    app.include_router(console_router)  # the console's pages: /, /signin, /jobs, ...
    app.mount("/static", StaticFiles(directory=CONSOLE_DIR / "static"), name="console-static")
    app.openapi = partial(build_openapi, app)  # type: ignore[method-assign]
    app.state.authz_rules = index_routes(app)  # every route's action; a route without one fails here
    return app
