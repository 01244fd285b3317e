"""The web app: ``python app.py [--host 127.0.0.1] [--port 7860] [--share] [--auth USER:PASS] [--accounts-db PATH]``.

It listens on the loopback interface unless told otherwise. ``--share`` asks Gradio for a
public link, which needs the internet; when none can be made the app says so and keeps
serving locally. A public link (or a non-loopback host) without a login gets a warning.

Logins come from the team's accounts (``python -m builder.users``; a SQLite file in the runs
folder unless ``--accounts-db`` or $BUILDER_ACCOUNTS_DB says otherwise) and ``--auth USER:PASS``,
a one-admin shortcut. With neither, the app asks for no login and says how to create the first admin.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

AUTH_ENV = "BUILDER_APP_AUTH"
ACCOUNTS_ENV = "BUILDER_ACCOUNTS_DB"
RUNS_ENV = "BUILDER_RUNS_DIR"
REPO_ROOT = Path(__file__).resolve().parent
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python app.py",
        description="The domain assistant builder's web app: data, recipe, training, playground, evaluation, export.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: loopback only)")
    parser.add_argument("--port", type=int, default=7860, help="port (default: 7860)")
    parser.add_argument("--share", action="store_true", help="also make a public Gradio link (needs the internet)")
    parser.add_argument(
        "--auth", default=None, metavar="USER:PASS", help=f"require a login (or set {AUTH_ENV}=USER:PASS)"
    )
    parser.add_argument(
        "--runs-dir",
        type=Path,
        default=Path(os.environ.get(RUNS_ENV) or REPO_ROOT / "runs"),
        help=f"where runs, saved recipes and uploads go (default: ./runs, or {RUNS_ENV})",
    )
    parser.add_argument(
        "--accounts-db",
        type=Path,
        default=None,
        metavar="PATH",
        help=f"the team's accounts and audit trail (default: {ACCOUNTS_ENV}, or RUNS_DIR/.team/accounts.db)",
    )
    return parser.parse_args(argv)


def parse_auth(value: str | None) -> tuple[str, str] | None:
    if not value:
        return None
    user, sep, password = value.partition(":")
    if not sep or not user or not password:
        # The value is not repeated: it may hold a password, and logs and terminals keep it.
        raise SystemExit(f"--auth / {AUTH_ENV}: expected USER:PASS (a user name, a colon, a password)")
    return user, password


def port_taken_message(host: str, port: int) -> str:
    return (
        f"Cannot serve on {host}:{port}: the port is in use (is the app already running?). "
        f"Pick another one with --port, e.g. --port {port + 1}."
    )


def first_admin_hint(db: Path) -> str:
    return (
        f"No accounts yet in {db}: this app asks for no login, and whoever reaches it may do anything.\n"
        "Create the first admin (the password is asked for), then restart the app:\n"
        f"    python -m builder.users --db {db} add NAME --role admin"
    )


def exposure_warnings(host: str, share: bool, auth: tuple[str, str] | bool | None) -> list[str]:
    """``auth``: whether the app asks for a login (the --auth pair, or True when accounts exist)."""
    warnings = []
    if auth in (None, False):
        auth = None
    if share and auth is None:
        warnings.append(
            f"WARNING: --share without --auth: anyone with the link can use this app, its data and its models. "
            f"Add --auth USER:PASS (or set {AUTH_ENV})."
        )
    if host not in LOOPBACK and auth is None:
        warnings.append(f"WARNING: listening on {host} without --auth: other machines on the network can use this app.")
    return warnings


def main(argv: list[str] | None = None, *, block: bool = True):
    args = parse_args(argv)
    auth = parse_auth(args.auth or os.environ.get(AUTH_ENV))
    # No usage reports to the internet (there is none here, and users' data stays private).
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    from starlette.middleware import Middleware

    from builder.ui import CSS, build_app
    from builder.ui.login_guard import LoginThrottle
    from builder.ui.team import SessionGuard, Team
    from builder.users import AccountStore, accounts_db_path, db_files

    runs_dir = args.runs_dir.resolve()
    runs_dir.mkdir(parents=True, exist_ok=True)
    db = accounts_db_path(args.accounts_db, runs_dir)
    team = Team(AccountStore(db), shortcut=auth)
    demo, ctx = build_app(runs_dir, team=team)
    # Chats stream concurrently (the engine serialises the model itself); other handlers are light.
    demo.queue(default_concurrency_limit=4)
    try:
        _, local_url, share_url = demo.launch(
            server_name=args.host,
            server_port=args.port,
            share=args.share,
            auth=team.authenticate if team.logins else None,
            prevent_thread_lock=True,
            allowed_paths=[str(runs_dir)],
            blocked_paths=[str(path) for path in db_files(db)],  # hashes and the audit trail: never served
            max_file_size="200mb",
            show_error=True,
            css=CSS,
            footer_links=[],
            # Gradio keeps each call's inputs in the browser for its run history page: a password typed in the
            # Users panel, a customer's message. None of it is to be kept there.
            run_history=False,
            quiet=True,
            app_kwargs={"middleware": [Middleware(LoginThrottle), Middleware(SessionGuard, team=team)]},
        )
    except OSError as err:
        if "Cannot find empty port" not in str(err):
            raise
        raise SystemExit(port_taken_message(args.host, args.port)) from None
    ctx.jobs.start_background()
    # Said once the app serves: a busy port is then one line, not warnings about an app that never ran.
    for warning in exposure_warnings(args.host, args.share, team.logins):
        print(warning, file=sys.stderr, flush=True)
    if not team.logins:
        print(first_admin_hint(db), file=sys.stderr, flush=True)
    print(f"Serving on {local_url} (runs in {runs_dir})", flush=True)
    if args.share:
        if share_url:
            print(f"Public link: {share_url}", flush=True)
        else:
            print(
                "Could not create the public share link (it needs the internet to reach Gradio's share server). "
                f"Still serving locally at {local_url}.",
                flush=True,
            )
    if block:
        demo.block_thread()
    return demo


if __name__ == "__main__":
    main()
