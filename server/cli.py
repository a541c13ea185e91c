"""The `interview-server` command: run the server, or print a user token."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import uvicorn

from realtime.channel.uvicorn_protocol import LeanWebSocketProtocol
from server.app import create_app
from server.assembly import user_tokens
from server.config import Settings
from server.demo import DEMO_APPLICATION_ID, DEMO_CANDIDATE_ID
from server.http.accept_guard import ConnectionGuard, guarded_http_protocol
from server.logs import configure_logging
from server.runtime import prepare_settings
from server.secret_store import resolve_secrets
from server.sessions import Role
from server.telemetry import init_sentry
from server.workers import Supervisor, bind_listener, watch_parent, worker_args

logger = logging.getLogger(__name__)

# Open connections get this long to finish after SIGTERM before they are cancelled.
GRACEFUL_SHUTDOWN_SECONDS = 10


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="interview-server", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--data-dir", type=Path, default=None, help="default: $INTERVIEW_DATA_DIR or .interview-data")
    parser.add_argument("--seed-demo", action="store_true", help="create a demo candidate and application")
    parser.add_argument(
        "--workers",
        type=int,
        default=int(os.environ.get("WEB_CONCURRENCY") or 1),
        help="server processes on the one port (default: $WEB_CONCURRENCY or 1)",
    )
    # A worker of `--workers`: the inherited listening socket and the supervisor's pipe.
    parser.add_argument("--listen-fd", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--parent-pipe", type=int, default=None, help=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command")
    token = sub.add_parser("token", help="print a user JWT signed with the configured secret")
    token.add_argument("--sub", required=True, help="the user id (candidate id)")
    token.add_argument("--role", choices=[r.value for r in Role], default=Role.CANDIDATE.value)
    token.add_argument("--data-dir", type=Path, default=argparse.SUPPRESS)
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, object] = {}
    if args.data_dir is not None:
        overrides["data_dir"] = args.data_dir
    if getattr(args, "seed_demo", False):
        overrides["seed_demo"] = True
    return Settings(**overrides)  # type: ignore[arg-type]


def print_token(args: argparse.Namespace) -> int:
    settings = resolve_secrets(_settings(args))
    if settings.auth_jwt_secret is None:
        print("user tokens can only be issued with AUTH_JWT_SECRET", file=sys.stderr)
        return 2
    print(user_tokens(settings).issue(args.sub, Role(args.role)))
    return 0


class _Server(uvicorn.Server):
    """uvicorn's server, except that it does not raise the stop signal again on its way out.

    uvicorn re-raises SIGTERM/SIGINT after its shutdown, which kills the process at once
    (exit 143) and skips every `finally` of the caller; the CLI still has its embedded store
    to stop (when a second Ctrl-C skips the lifespan's shutdown), so it exits by itself.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        with super().capture_signals():
            try:
                yield
            finally:
                if self._captured_signals:
                    logger.info("stopped by %s", ", ".join(signal.Signals(s).name for s in self._captured_signals))
                self._captured_signals.clear()


def _print_demo(settings: Settings, host: str, port: int) -> None:
    """Printed once for a newcomer's local demo (development secrets only)."""
    if not settings.seed_demo or settings.auth_jwt_secret is None:
        return
    token = user_tokens(settings).issue(DEMO_CANDIDATE_ID)
    base = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
    print(
        f"\nDemo ready.\n  Candidate page (the token rides in the fragment, which browsers never send):\n"
        f"  {base}/interview/{DEMO_APPLICATION_ID}#token={token}\n"
        f"  Demo user token (candidate {DEMO_CANDIDATE_ID}):\n  {token}\n",
        flush=True,
    )


def supervise(args: argparse.Namespace, settings: Settings) -> int:
    """`--workers N`: prepare the store once, bind the port once, run N worker processes."""
    settings, store = prepare_settings(settings)
    try:
        listener = bind_listener(args.host, args.port, settings.listen_backlog)
        _print_demo(settings, args.host, args.port)
        logger.info("serving on %s:%d with %d workers", args.host, args.port, args.workers)
        supervisor = Supervisor(args.workers, listener, settings, worker_args(args.host, args.port, args.data_dir))
        return supervisor.run()
    finally:
        if store is not None:
            store.stop()


def run(args: argparse.Namespace) -> int:
    settings = _settings(args)
    configure_logging(settings.log_level)
    if args.workers > 1 and args.listen_fd is None:
        return supervise(args, settings)
    init_sentry(settings)
    if args.parent_pipe is not None:
        watch_parent(args.parent_pipe)
    settings, store = prepare_settings(settings)
    try:
        app = create_app(settings, store=store)
        if args.listen_fd is None:
            _print_demo(settings, args.host, args.port)
        config = uvicorn.Config(
            app,
            host=args.host,
            port=args.port,
            # websockets' sans-I/O core: one task per socket, trimmed for idle memory (docs/operations.md).
            ws=LeanWebSocketProtocol if settings.ws_implementation == "sansio" else "websockets",
            ws_max_size=settings.ws_transport_max_bytes,
            proxy_headers=False,
            log_config=None,
            lifespan="on",
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
            backlog=settings.listen_backlog,
            http=guarded_http_protocol(
                ConnectionGuard(
                    settings.connection_rate_per_ip, settings.connection_burst_per_ip, settings.trusted_proxy_networks()
                )
            ),
        )
        # A worker accepts on the socket its supervisor bound (its family read from the fd).
        sockets = None if args.listen_fd is None else [socket.socket(fileno=args.listen_fd)]
        _Server(config).run(sockets=sockets)
    finally:
        if store is not None:
            store.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "token":
        return print_token(args)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
