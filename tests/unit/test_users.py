"""The accounts database: argon2 hashes with the library's parameters, roles, shares, sessions, the append-only
audit trail, and the ``python -m builder.users`` command line (passwords from a prompt or stdin, never argv)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import argon2
import pytest
from argon2.profiles import RFC_9106_LOW_MEMORY

from builder.users import AccountError, AccountStore, accounts_db_path, default_db_path
from builder.users.store import _HASHER

REPO = Path(__file__).resolve().parents[2]
SECRET = "correct horse battery"


@pytest.fixture
def store(tmp_path: Path) -> AccountStore:
    store = AccountStore(tmp_path / "accounts.db")
    store.add("lead", "admin", SECRET, actor="test")
    return store


def test_a_password_is_an_argon2id_hash_with_the_librarys_recommended_parameters(store: AccountStore) -> None:
    (stored,) = sqlite3.connect(store.path).execute("SELECT hash FROM accounts WHERE name = 'lead'").fetchone()
    assert stored.startswith("$argon2id$") and SECRET not in stored
    parameters = argon2.extract_parameters(stored)
    # argon2-cffi's PasswordHasher() defaults are RFC 9106's low-memory profile; nothing of our own.
    assert parameters == RFC_9106_LOW_MEMORY
    assert (_HASHER.time_cost, _HASHER.memory_cost, _HASHER.parallelism) == (3, 65536, 4)
    for path in store.path.parent.iterdir():  # the database and its journal files
        assert SECRET.encode() not in path.read_bytes(), path


def test_verify_accepts_the_password_only(store: AccountStore) -> None:
    assert store.verify("lead", SECRET).role == "admin"
    assert store.verify("lead", SECRET + "!") is None
    assert store.verify("nobody", SECRET) is None


def test_a_hash_made_with_older_parameters_is_renewed_at_the_next_good_login(store: AccountStore) -> None:
    weak = argon2.PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(SECRET)
    with sqlite3.connect(store.path) as db:
        db.execute("UPDATE accounts SET hash = ? WHERE name = 'lead'", (weak,))
    assert store.verify("lead", SECRET) is not None
    (renewed,) = sqlite3.connect(store.path).execute("SELECT hash FROM accounts WHERE name = 'lead'").fetchone()
    assert argon2.extract_parameters(renewed) == RFC_9106_LOW_MEMORY


def test_bad_names_roles_passwords_and_the_last_admin_are_refused(store: AccountStore) -> None:
    with pytest.raises(AccountError, match="user name"):
        store.add("two words", "reviewer", SECRET, actor=None)
    with pytest.raises(AccountError, match="role 'boss'"):
        store.add("ana", "boss", SECRET, actor=None)
    with pytest.raises(AccountError, match="at least 8"):
        store.add("ana", "reviewer", "short", actor=None)
    with pytest.raises(AccountError, match="exists already"):
        store.add("lead", "reviewer", SECRET, actor=None)
    with pytest.raises(AccountError, match="last admin"):
        store.set_role("lead", "trainer", actor=None)
    with pytest.raises(AccountError, match="last admin"):
        store.remove("lead", actor=None)
    store.add("second", "admin", SECRET, actor=None)
    store.set_role("lead", "trainer", actor="second")
    assert store.get("lead").role == "trainer"


def test_shares_go_to_reviewers_and_leave_with_them(store: AccountStore) -> None:
    store.add("ana", "reviewer", SECRET, actor="lead")
    store.add("tom", "trainer", SECRET, actor="lead")
    store.share("run-1", "ana", actor="lead")
    with pytest.raises(AccountError, match="not a reviewer"):
        store.share("run-1", "tom", actor="lead")
    assert store.shared_runs("ana") == {"run-1"} and store.shared_with("run-1") == ["ana"]
    store.set_role("ana", "trainer", actor="lead")  # a trainer sees every run: the shares go
    assert store.shared_runs("ana") == set()
    store.set_role("ana", "reviewer", actor="lead")
    store.share("run-2", "ana", actor="lead")
    store.remove("ana", actor="lead")
    assert store.shared_with("run-2") == []


def test_a_new_password_ends_the_sessions_that_began_before_it(store: AccountStore) -> None:
    assert store.get("lead").sessions_after == 0
    before = time.time()
    store.set_password("lead", SECRET + "2", actor="lead")
    assert store.get("lead").sessions_after >= before
    assert store.verify("lead", SECRET) is None and store.verify("lead", SECRET + "2") is not None


def test_the_audit_trail_is_append_only_for_everyone(store: AccountStore) -> None:
    store.audit("lead", "exported", "run-1", "adapter zip")
    entries = store.audit_entries()
    assert [(e.actor, e.action, e.target) for e in entries[:2]] == [
        ("lead", "exported", "run-1"),
        ("test", "user_added", "lead"),
    ]
    with sqlite3.connect(store.path) as db:
        for statement in ("UPDATE audit SET actor = 'someone else'", "DELETE FROM audit"):
            with pytest.raises(sqlite3.DatabaseError, match="append-only"):
                db.execute(statement)
    assert len(store.audit_entries()) == len(entries)


def test_the_database_lives_in_the_runs_folder_unless_told_otherwise(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("BUILDER_ACCOUNTS_DB", raising=False)
    assert accounts_db_path(runs_dir=tmp_path) == tmp_path / ".team" / "accounts.db" == default_db_path(tmp_path)
    monkeypatch.setenv("BUILDER_ACCOUNTS_DB", str(tmp_path / "elsewhere.db"))
    assert accounts_db_path(runs_dir=tmp_path) == tmp_path / "elsewhere.db"
    assert accounts_db_path(tmp_path / "flag.db", tmp_path) == tmp_path / "flag.db"


def users_cli(db: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "builder.users", "--db", str(db), *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )


def test_the_command_line_manages_accounts_and_never_takes_a_password_from_argv(tmp_path: Path) -> None:
    db = tmp_path / "team.db"
    done = users_cli(db, "add", "lead", "--role", "admin", stdin=SECRET + "\n")
    assert done.returncode == 0 and "added lead (admin)" in done.stdout
    assert users_cli(db, "add", "ana", "--role", "reviewer", "--password", SECRET).returncode == 2  # no such option
    assert users_cli(db, "add", "ana", "--role", "reviewer", stdin="short\n").returncode == 2
    assert users_cli(db, "add", "ana", "--role", "reviewer", stdin="another secret\n").returncode == 0
    assert users_cli(db, "role", "ana", "trainer").returncode == 0
    assert users_cli(db, "passwd", "ana", stdin="a third secret\n").returncode == 0
    removed = users_cli(db, "remove", "lead")
    assert removed.returncode == 2 and "last admin" in removed.stderr
    listed = users_cli(db, "list").stdout
    assert "lead\tadmin" in listed and "ana\ttrainer" in listed
    audit = users_cli(db, "audit").stdout.splitlines()
    assert [line.split("\t")[2] for line in audit] == ["password_changed", "role_changed", "user_added", "user_added"]
    assert all(line.split("\t")[1].startswith("cli") for line in audit)
    store = AccountStore(db)
    assert store.verify("ana", "a third secret") is not None
    everything = db.read_bytes() + "".join(p.read_text(errors="replace") for p in tmp_path.iterdir()).encode()
    for secret in (SECRET, "another secret", "a third secret"):
        assert secret.encode() not in everything


def test_a_backup_is_a_whole_consistent_copy_and_never_replaces_a_file(tmp_path: Path) -> None:
    db = tmp_path / "team.db"
    assert users_cli(db, "backup", str(tmp_path / "none.db")).returncode == 2  # no database yet: nothing copied
    assert not (tmp_path / "none.db").exists()
    assert users_cli(db, "add", "lead", "--role", "admin", stdin=SECRET + "\n").returncode == 0
    store = AccountStore(db)
    store.add("ana", "reviewer", "another secret", actor="lead")
    store.share("run-1", "ana", actor="lead")
    target = tmp_path / "backups" / "team-copy.db"
    done = users_cli(db, "backup", str(target))
    assert done.returncode == 0 and str(target) in done.stdout, done.stderr
    copy = AccountStore(target)
    assert [(a.name, a.role) for a in copy.accounts()] == [("ana", "reviewer"), ("lead", "admin")]
    assert copy.verify("ana", "another secret") is not None and copy.shared_runs("ana") == {"run-1"}
    assert [e.action for e in copy.audit_entries()] == [e.action for e in store.audit_entries()]
    again = users_cli(db, "backup", str(target))
    assert again.returncode == 2 and "exists already" in again.stderr
    assert SECRET.encode() not in target.read_bytes()
