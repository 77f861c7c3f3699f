"""``nanoaid console --state DIR [--bind 127.0.0.1] [--port 8470]``: the operator's web page.

Loopback by default. Any other address needs operator tokens (``nanoaid console token add
NAME``) and TLS (``--tls-cert``/``--tls-key``) or ``--insecure-http``; otherwise exit 2 before
anything listens. Docs: docs/console.md.
"""
from __future__ import annotations

import argparse
import getpass
import logging
from pathlib import Path

from ..cli import EXIT_FAIL, EXIT_OK, EXIT_USAGE
from ..errors import ConfigError

log = logging.getLogger(__name__)


def register(sub) -> None:
    p = sub.add_parser("console", help="the operator's web page: live frames, review, search, health, /metrics")
    p.add_argument("--state", type=Path, help="the daemon's state folder (required)")
    p.add_argument("--bind", default="127.0.0.1", help="address to listen on (default 127.0.0.1, loopback only)")
    p.add_argument("--port", type=int, default=8470, help="TCP port (default 8470; 0 picks a free one)")
    p.add_argument("--tls-cert", type=Path, metavar="FILE", help="PEM certificate: serve HTTPS")
    p.add_argument("--tls-key", type=Path, metavar="FILE", help="PEM private key for --tls-cert")
    p.add_argument("--insecure-http", action="store_true",
                   help="allow plain HTTP on a non-loopback address (tokens travel unencrypted)")
    p.add_argument("--catalogue", type=Path, metavar="FILE",
                   help="search the uploader's catalogue (UPLOAD_STATE/catalogue.sqlite3) instead of the "
                        "console's own index")
    p.add_argument("--upload-state", type=Path, metavar="DIR", help="the uploader's state folder, for its lag")
    p.add_argument("--operator", help="name on corrections when no login is required (default: the login name)")
    p.set_defaults(func=run)
    tokens = p.add_subparsers(dest="console_command", metavar="SUBCOMMAND")
    t = tokens.add_parser("token", help="operator tokens for a non-loopback console")
    t.add_argument("--state", type=Path, default=argparse.SUPPRESS, help="the daemon's state folder")
    t_sub = t.add_subparsers(dest="token_command", metavar="ACTION", required=True)
    add = t_sub.add_parser("add", help="create (or replace) NAME's token; it is printed once")
    add.add_argument("name", metavar="NAME")
    add.add_argument("--state", type=Path, default=argparse.SUPPRESS, help="the daemon's state folder")
    rm = t_sub.add_parser("remove", help="revoke NAME's token")
    rm.add_argument("name", metavar="NAME")
    rm.add_argument("--state", type=Path, default=argparse.SUPPRESS, help="the daemon's state folder")
    ls = t_sub.add_parser("list", help="operators that have a token")
    ls.add_argument("--state", type=Path, default=argparse.SUPPRESS, help="the daemon's state folder")
    t.set_defaults(func=run_token)


def _state(args) -> Path:
    if args.state is None:
        raise ConfigError("--state DIR is required: the daemon's state folder (where journal.sqlite3 is)")
    return Path(args.state)


def run_token(args) -> int:
    from ..console.security import TokenStore

    store = TokenStore(_state(args))
    if args.token_command == "add":
        token = store.add(args.name)
        print(f"token for {args.name} (shown once; only its hash is kept in {store.path}):")
        print(token)
    elif args.token_command == "remove":
        if not store.remove(args.name):
            print(f"nanoaid console: no token for {args.name}")
            return EXIT_FAIL
        print(f"removed the token of {args.name}")
    else:
        for name in store.names():
            print(name)
    return EXIT_OK


def run(args) -> int:
    import uvicorn

    from ..console.app import ConsoleConfig, create_app
    from ..console.security import TokenStore, check_bind

    state = _state(args)
    if (args.tls_cert is None) != (args.tls_key is None):
        raise ConfigError("give both --tls-cert and --tls-key, or neither")
    for path in (args.tls_cert, args.tls_key):
        if path is not None and not path.is_file():
            raise ConfigError(f"TLS file {path} does not exist")
    tls = args.tls_cert is not None
    login = check_bind(args.bind, tokens=TokenStore(state), tls=tls, insecure_http=args.insecure_http)
    config = ConsoleConfig(state_dir=state, login_required=login, tls=tls,
                           operator=args.operator or getpass.getuser(), catalogue=args.catalogue,
                           upload_state=args.upload_state)
    app = create_app(config)
    scheme = "https" if tls else "http"
    log.warning("nanoaid console on %s://%s:%s (state %s)", scheme, args.bind, args.port, state)
    server = uvicorn.Server(uvicorn.Config(
        app, host=args.bind, port=args.port, log_level="warning", access_log=False, proxy_headers=False,
        ssl_certfile=str(args.tls_cert) if tls else None, ssl_keyfile=str(args.tls_key) if tls else None,
        timeout_graceful_shutdown=2, server_header=False))
    server.run()
    return EXIT_OK if server.started else EXIT_USAGE
