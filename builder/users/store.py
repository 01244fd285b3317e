"""The team's accounts, the runs shared with reviewers, and the audit trail: one SQLite file.

Passwords are stored as argon2id hashes made by argon2-cffi's ``PasswordHasher`` with its own
recommended parameters (RFC 9106's low-memory profile); a hash made with older parameters is
renewed at the next good login. The audit table is append-only: SQLite triggers refuse any
UPDATE or DELETE on it, whoever asks.

Every call opens its own connection (WAL mode, a busy timeout): the web app's worker threads,
several app processes and the command line may all use the file at once.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from builder.core.messages import Message, MessageError

ROLES = ("admin", "trainer", "reviewer")
ROLE_LEVEL = {"reviewer": 1, "trainer": 2, "admin": 3}
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
MIN_PASSWORD = 8
DB_NAME = "accounts.db"
DB_FOLDER = ".team"  # inside the runs folder by default; the web app never serves it

_HASHER = PasswordHasher()  # the library's recommended parameters
# Verified against when the name is unknown, so that a wrong name takes as long as a wrong password.
_DUMMY_HASH = _HASHER.hash("not a password of anyone")

SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL CHECK (role IN ('admin', 'trainer', 'reviewer')),
    hash TEXT NOT NULL,
    created TEXT NOT NULL,
    sessions_after REAL NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS shares (
    run TEXT NOT NULL,
    account TEXT NOT NULL,
    shared_by TEXT,
    time TEXT NOT NULL,
    PRIMARY KEY (run, account)
);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time TEXT NOT NULL,
    actor TEXT,
    action TEXT NOT NULL,
    target TEXT,
    detail TEXT
);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
"""


# What the store refuses, by key (the web app says them in Spanish too: builder/ui/team_text.py).
ACCOUNT_PROBLEMS = {
    "bad_role": "role {role!r}: expected one of {roles}",
    "bad_name": "user name {name!r}: 1-64 letters, digits, dots, dashes, underscores or @, "
    "starting with a letter or digit",
    "short_password": "a password needs at least {minimum} characters",
    "taken": "user {name!r} exists already",
    "unknown": "no user {name!r}",
    "last_admin": "{name!r} is the last admin: make another admin first",
    "not_reviewer": "{name!r} is not a reviewer: admins and trainers see every run already",
    "passwords_differ": "the two passwords differ",
    "backup_exists": "{path} exists already: name a new file for the backup",
}


@dataclass(frozen=True)
class AccountProblem(Message):
    templates: ClassVar[dict[str, str]] = ACCOUNT_PROBLEMS
    prefix: ClassVar[str] = "acct_"


class AccountError(MessageError):
    """A request the store refuses (an unknown role, a taken name, the last admin...)."""

    def __init__(self, key: str, **values: object) -> None:
        super().__init__(AccountProblem(key, values))


@dataclass(frozen=True)
class Account:
    name: str
    role: str
    created: str
    sessions_after: float = 0.0  # sessions that began before this moment (epoch seconds) are over


@dataclass(frozen=True)
class AuditEntry:
    id: int
    time: str
    actor: str | None
    action: str
    target: str | None
    detail: str | None


def default_db_path(runs_dir: Path | str) -> Path:
    return Path(runs_dir).resolve() / DB_FOLDER / DB_NAME


def db_files(path: Path | str) -> list[Path]:
    """The database file and the journal files SQLite keeps beside it."""
    path = Path(path).resolve()
    return [path, *(path.with_name(path.name + suffix) for suffix in ("-wal", "-shm", "-journal"))]


def now_text() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S")


def check_role(role: str) -> str:
    if role not in ROLES:
        raise AccountError("bad_role", role=role, roles=", ".join(ROLES))
    return role


def check_name(name: str) -> str:
    if not NAME_PATTERN.match(name or ""):
        raise AccountError("bad_name", name=name)
    return name


def check_password(password: str) -> str:
    if len(password or "") < MIN_PASSWORD:
        raise AccountError("short_password", minimum=MIN_PASSWORD)
    return password


class AccountStore:
    """Accounts, shares and the audit trail in the SQLite file at ``path`` (created on first use)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path).resolve()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.executescript(SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """One connection, one transaction: committed when the block ends, rolled back on an error."""
        with closing(sqlite3.connect(self.path, timeout=10.0)) as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA busy_timeout=10000")
            with db:
                yield db

    def backup(self, target: Path | str) -> Path:
        """A consistent copy of the whole file (accounts, shares, audit) through SQLite's online backup, so
        the app may go on writing meanwhile. Written beside ``target`` and renamed: never a half copy."""
        target = Path(target).resolve()
        if target.exists():
            raise AccountError("backup_exists", path=str(target))
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".partial")
        partial.unlink(missing_ok=True)
        with closing(sqlite3.connect(self.path, timeout=10.0)) as db, closing(sqlite3.connect(partial)) as copy:
            db.backup(copy)
        partial.replace(target)
        return target

    # -- accounts

    def accounts(self) -> list[Account]:
        with self._connect() as db:
            rows = db.execute("SELECT name, role, created, sessions_after FROM accounts ORDER BY name").fetchall()
        return [Account(*row) for row in rows]

    def count(self) -> int:
        with self._connect() as db:
            return int(db.execute("SELECT COUNT(*) FROM accounts").fetchone()[0])

    def get(self, name: str) -> Account | None:
        with self._connect() as db:
            row = db.execute(
                "SELECT name, role, created, sessions_after FROM accounts WHERE name = ?", (name,)
            ).fetchone()
        return Account(*row) if row else None

    def add(self, name: str, role: str, password: str, *, actor: str | None) -> Account:
        check_name(name)
        check_role(role)
        hashed = _HASHER.hash(check_password(password))
        with self._connect() as db:
            if db.execute("SELECT 1 FROM accounts WHERE name = ?", (name,)).fetchone():
                raise AccountError("taken", name=name)
            db.execute(
                "INSERT INTO accounts (name, role, hash, created) VALUES (?, ?, ?, ?)", (name, role, hashed, now_text())
            )
            self._audit(db, actor, "user_added", name, role)
        account = self.get(name)
        assert account is not None, name  # inserted above, in this call
        return account

    def set_password(self, name: str, password: str, *, actor: str | None) -> None:
        """A new password; every session the user has open ends."""
        hashed = _HASHER.hash(check_password(password))
        with self._connect() as db:
            self._require(db, name)
            db.execute("UPDATE accounts SET hash = ?, sessions_after = ? WHERE name = ?", (hashed, time.time(), name))
            self._audit(db, actor, "password_changed", name, None)

    def set_role(self, name: str, role: str, *, actor: str | None) -> None:
        check_role(role)
        with self._connect() as db:
            old = self._require(db, name)
            if old == role:
                return
            if old == "admin":
                self._keep_an_admin(db, name)
            db.execute("UPDATE accounts SET role = ? WHERE name = ?", (role, name))
            if role != "reviewer":
                db.execute("DELETE FROM shares WHERE account = ?", (name,))  # they see every run now
            self._audit(db, actor, "role_changed", name, f"{old} -> {role}")

    def remove(self, name: str, *, actor: str | None) -> None:
        with self._connect() as db:
            if self._require(db, name) == "admin":
                self._keep_an_admin(db, name)
            db.execute("DELETE FROM accounts WHERE name = ?", (name,))
            db.execute("DELETE FROM shares WHERE account = ?", (name,))
            self._audit(db, actor, "user_removed", name, None)

    def end_sessions(self, name: str) -> None:
        with self._connect() as db:
            db.execute("UPDATE accounts SET sessions_after = ? WHERE name = ?", (time.time(), name))

    def verify(self, name: str, password: str) -> Account | None:
        """The account when ``password`` is its password, else None (as slow for an unknown name)."""
        with self._connect() as db:
            row = db.execute("SELECT hash FROM accounts WHERE name = ?", (name,)).fetchone()
        try:
            _HASHER.verify(row[0] if row else _DUMMY_HASH, password or "")
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return None
        if row is None:
            return None
        if _HASHER.check_needs_rehash(row[0]):  # made with older parameters: renew it now that we have the password
            with self._connect() as db:
                db.execute("UPDATE accounts SET hash = ? WHERE name = ?", (_HASHER.hash(password), name))
        return self.get(name)

    def _require(self, db: sqlite3.Connection, name: str) -> str:
        row = db.execute("SELECT role FROM accounts WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise AccountError("unknown", name=name)
        return str(row[0])

    @staticmethod
    def _keep_an_admin(db: sqlite3.Connection, name: str) -> None:
        others = db.execute("SELECT COUNT(*) FROM accounts WHERE role = 'admin' AND name != ?", (name,)).fetchone()[0]
        if not others:
            raise AccountError("last_admin", name=name)

    # -- runs shared with reviewers

    def share(self, run: str, name: str, *, actor: str | None) -> None:
        with self._connect() as db:
            if self._require(db, name) != "reviewer":
                raise AccountError("not_reviewer", name=name)
            db.execute(
                "INSERT OR REPLACE INTO shares (run, account, shared_by, time) VALUES (?, ?, ?, ?)",
                (run, name, actor, now_text()),
            )
            self._audit(db, actor, "run_shared", run, name)

    def unshare(self, run: str, name: str, *, actor: str | None) -> None:
        with self._connect() as db:
            if db.execute("DELETE FROM shares WHERE run = ? AND account = ?", (run, name)).rowcount:
                self._audit(db, actor, "run_unshared", run, name)

    def shared_runs(self, name: str) -> set[str]:
        with self._connect() as db:
            return {row[0] for row in db.execute("SELECT run FROM shares WHERE account = ?", (name,))}

    def shared_with(self, run: str) -> list[str]:
        with self._connect() as db:
            return [row[0] for row in db.execute("SELECT account FROM shares WHERE run = ? ORDER BY account", (run,))]

    # -- the audit trail

    def audit(self, actor: str | None, action: str, target: str | None = None, detail: str | None = None) -> None:
        with self._connect() as db:
            self._audit(db, actor, action, target, detail)

    @staticmethod
    def _audit(db: sqlite3.Connection, actor: str | None, action: str, target: str | None, detail: str | None) -> None:
        db.execute(
            "INSERT INTO audit (time, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)",
            (now_text(), actor, action, target, detail),
        )

    def audit_entries(self, limit: int = 200) -> list[AuditEntry]:
        """The newest ``limit`` entries, newest first."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT id, time, actor, action, target, detail FROM audit ORDER BY id DESC LIMIT ?", (int(limit),)
            ).fetchall()
        return [AuditEntry(*row) for row in rows]
