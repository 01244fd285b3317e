"""Team accounts: roles, the runs shared with reviewers and the audit trail (``builder.users.store``),
and the command line that manages them (``python -m builder.users``)."""

from __future__ import annotations

import getpass
import os
from pathlib import Path

from builder.users.store import (
    ROLE_LEVEL,
    ROLES,
    Account,
    AccountError,
    AccountProblem,
    AccountStore,
    AuditEntry,
    db_files,
    default_db_path,
)

DB_ENV = "BUILDER_ACCOUNTS_DB"
RUNS_ENV = "BUILDER_RUNS_DIR"
REPO_ROOT = Path(__file__).resolve().parents[2]


def accounts_db_path(db: Path | str | None = None, runs_dir: Path | str | None = None) -> Path:
    """Where the accounts live: ``db``, else $BUILDER_ACCOUNTS_DB, else ``<runs folder>/.team/accounts.db``."""
    chosen = db or os.environ.get(DB_ENV)
    if chosen:
        return Path(chosen).expanduser().resolve()
    return default_db_path(runs_dir or os.environ.get(RUNS_ENV) or REPO_ROOT / "runs")


def command_line_actor() -> str:
    """Who acts from the command line, for the audit trail: the operating system's user."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def record_command_line(action: str, run_dir: Path | str, detail: str | None = None) -> None:
    """An audit entry for a command (``python -m builder.serve`` serving a run), when the run's team has accounts.

    The database is $BUILDER_ACCOUNTS_DB, else the one in the run's runs folder; none is created here.
    """
    run = Path(run_dir).resolve()
    path = accounts_db_path(runs_dir=run.parent)
    if path.is_file():
        AccountStore(path).audit(command_line_actor(), action, run.name, detail)


__all__ = [
    "DB_ENV",
    "ROLES",
    "ROLE_LEVEL",
    "Account",
    "AccountError",
    "AccountProblem",
    "AccountStore",
    "AuditEntry",
    "accounts_db_path",
    "command_line_actor",
    "db_files",
    "default_db_path",
    "record_command_line",
]
