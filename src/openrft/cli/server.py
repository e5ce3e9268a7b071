"""`openrft serve` (the API with an embedded worker and eval runner) and `openrft worker` (more of both, same store)."""

from __future__ import annotations

import logging
import signal
from typing import Annotated

import typer

from openrft.cli.common import err_console

log = logging.getLogger("openrft")


def _logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def serve(
    host: Annotated[str | None, typer.Option(help="Interface to listen on (OPENRFT_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (OPENRFT_PORT).")] = None,
    worker: Annotated[bool, typer.Option(help="Run a worker inside the server.")] = True,
) -> None:
    """Run the API server (with an embedded worker unless --no-worker)."""
    import uvicorn

    from openrft.api.app import create_app
    from openrft.settings import get_settings

    _logging()
    settings = get_settings()
    host = host or settings.host
    port = port or settings.port
    settings = settings.model_copy(update={"host": host, "port": port})  # settings.api_url: where it listens
    if not settings.admin_key:
        err_console.print(
            "[yellow]warning:[/] OPENRFT_ADMIN_KEY is not set: no key can call this server. "
            "Set it (any long random string) and restart, e.g. OPENRFT_ADMIN_KEY=$(openssl rand -hex 24)."
        )
    app = create_app(settings, embedded_worker=worker and settings.embedded_worker)
    log.info("openrft %s serving on http://%s:%d/v1 (home %s)", app.version, host, port, settings.home)
    uvicorn.run(app, host=host, port=port, log_level="info")


def worker() -> None:
    """Run a worker that claims queued jobs and eval runs from the same store as the server."""
    from openrft.context import build_context
    from openrft.evals.runner import EvalWorker
    from openrft.inference.engine import get_engine
    from openrft.settings import get_settings
    from openrft.worker import Worker

    _logging()
    settings = get_settings()
    ctx = build_context(settings)
    the_worker = Worker(ctx)
    runner = EvalWorker(ctx, get_engine)

    def graceful(signum: int, _frame: object) -> None:
        # Finish cleanly: the running job's child is stopped and the job re-queued, the eval run's batch
        # cancelled and the run re-queued. A second Ctrl-C kills.
        log.info("worker %s: stopping on signal %d", the_worker.worker_id, signum)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        the_worker.stop()
        runner.stop(timeout_s=0)  # joined below: meanwhile the job worker stops its child

    signal.signal(signal.SIGINT, graceful)
    signal.signal(signal.SIGTERM, graceful)
    log.info("worker %s and eval runner %s on %s", the_worker.worker_id, runner.worker_id, settings.db_url)
    runner.start_background()
    the_worker.run_forever()
    runner.stop()
    log.info("worker %s stopped", the_worker.worker_id)
