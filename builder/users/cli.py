"""``python -m builder.users``: manage the web app's accounts and read its audit trail.

A password is never taken from the command line (shell history and process lists keep it):
it is asked for twice at a terminal, or read as the first line of standard input.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from builder.users import DB_ENV, ROLES, AccountError, AccountStore, accounts_db_path, command_line_actor

HELP_EPILOG = f"""\
examples:
  python -m builder.users add lead --role admin           # asks for the password twice
  echo "$PASSWORD" | python -m builder.users add ana --role reviewer
  python -m builder.users role ana trainer
  python -m builder.users passwd ana                      # ends ana's open sessions too
  python -m builder.users remove ana
  python -m builder.users list
  python -m builder.users audit --limit 50
  python -m builder.users backup /safe/place/accounts-2025-01-31.db   # safe while the app runs

The database is --db, else ${DB_ENV}, else RUNS/.team/accounts.db (RUNS: --runs-dir, $BUILDER_RUNS_DIR or ./runs).
"""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m builder.users",
        description="Accounts, roles and the audit trail of the web app.",
        epilog=HELP_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--db", type=Path, help=f"the accounts database (default: ${DB_ENV} or RUNS/.team/accounts.db)")
    parser.add_argument("--runs-dir", type=Path, help="the app's runs folder (default: $BUILDER_RUNS_DIR or ./runs)")
    commands = parser.add_subparsers(dest="command", required=True)
    add = commands.add_parser("add", help="create an account (the password is asked for)")
    add.add_argument("name")
    add.add_argument("--role", choices=ROLES, required=True)
    passwd = commands.add_parser("passwd", help="set a new password; the user's open sessions end")
    passwd.add_argument("name")
    role = commands.add_parser("role", help="change a user's role")
    role.add_argument("name")
    role.add_argument("role", choices=ROLES)
    remove = commands.add_parser("remove", help="delete an account; its open sessions end")
    remove.add_argument("name")
    commands.add_parser("list", help="the accounts and their roles")
    audit = commands.add_parser("audit", help="the audit trail, newest first")
    audit.add_argument("--limit", type=int, default=100)
    backup = commands.add_parser("backup", help="copy the whole database (accounts, shares, audit) to a new file")
    backup.add_argument("target", type=Path)
    return parser.parse_args(argv)


def read_password(name: str) -> str:
    """Twice at a terminal (they must match); else the first line of standard input."""
    if sys.stdin.isatty():
        first = getpass.getpass(f"Password for {name}: ")
        if getpass.getpass("Again: ") != first:
            raise AccountError("passwords_differ")
        return first
    return sys.stdin.readline().rstrip("\r\n")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    path = accounts_db_path(args.db, args.runs_dir)
    if args.command == "backup" and not path.is_file():
        print(f"error: nothing to back up: {path} does not exist", file=sys.stderr)
        return 2
    if args.command in ("list", "audit") and not path.is_file():
        print(f"no accounts yet ({path} does not exist)")
        return 0
    try:
        store = AccountStore(path)
        if args.command == "add":
            account = store.add(args.name, args.role, read_password(args.name), actor=command_line_actor())
            print(f"added {account.name} ({account.role}) to {path}")
        elif args.command == "passwd":
            store.set_password(args.name, read_password(args.name), actor=command_line_actor())
            print(f"new password set for {args.name}; their open sessions have ended")
        elif args.command == "role":
            store.set_role(args.name, args.role, actor=command_line_actor())
            print(f"{args.name} is now {args.role}")
        elif args.command == "remove":
            store.remove(args.name, actor=command_line_actor())
            print(f"removed {args.name}; their open sessions have ended")
        elif args.command == "backup":
            print(f"copied {path} to {store.backup(args.target)} (it holds the password hashes: keep it private)")
        elif args.command == "list":
            for account in store.accounts():
                shared = sorted(store.shared_runs(account.name)) if account.role == "reviewer" else []
                runs = f"  shared: {', '.join(shared)}" if shared else ""
                print(f"{account.name}\t{account.role}\tsince {account.created}{runs}")
        else:
            for entry in store.audit_entries(args.limit):
                fields = [entry.time, entry.actor or "-", entry.action, entry.target or "", entry.detail or ""]
                print("\t".join(fields).rstrip())
    except AccountError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0
