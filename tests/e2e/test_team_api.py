"""Accounts and roles against a running ``app.py``, through its API (``gradio_client``) and its routes.

The app serves a runs folder with a tiny trained run shared with two reviewers and another run shared
with nobody. Every handler the app registers (the list comes from the app itself) is called by a
reviewer and by a trainer: each one above the caller's role is refused, saying which role it needs,
and the runs folder is byte for byte the same afterwards. Then two reviewers chat and vote at the
same time (every vote kept and attributed), an admin starts a DPO round that leaves one of them out,
sessions end on a password change, and no password appears in the log, the run files or the database.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from builder.users import ROLE_LEVEL, AccountStore
from tests.conftest import train_tiny_run_in
from tests.e2e.conftest import end_jobs, free_port, wait_http

pytestmark = [pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]
PASSWORDS = {"boss": "boss-pass-7781", "tess": "tess-pass-5519", "rita": "rita-pass-3307", "ruth": "ruth-pass-9024"}
ROLES = {"boss": "admin", "tess": "trainer", "rita": "reviewer", "ruth": "reviewer"}
PARENT = "tiny-parent"
SECRET_RUN = "secret-run"
CHAT_SETTINGS = ("", 0.7, 0.9, 8, 1.1, 1, "en")  # system prompt, temperature, top_p, new tokens, penalty, seed, lang


@contextlib.contextmanager
def served(runs: Path, log_path: Path) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "BUILDER_RUNS_DIR": str(runs), "GRADIO_ANALYTICS_ENABLED": "False"}
    env.pop("BUILDER_ACCOUNTS_DB", None)
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "app.py", "--port", str(port)], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            wait_http(f"http://127.0.0.1:{port}/", 90)
            yield f"http://127.0.0.1:{port}/"
        finally:
            proc.terminate()
            proc.wait(timeout=20)
            end_jobs(runs)


@pytest.fixture(scope="module")
def team_app(tmp_path_factory, tiny_model_dir):
    """The runs folder (a trained tiny run, a run shared with nobody), its accounts, and the app serving it."""
    runs = tmp_path_factory.mktemp("team-runs")
    train_tiny_run_in(runs, tiny_model_dir, PARENT)
    secret = runs / SECRET_RUN
    secret.mkdir()
    (secret / "run.json").write_text(json.dumps({"status": "completed"}))
    (secret / "recipe.yaml").write_text("name: secret\n")
    (secret / "train.jsonl").write_text('{"messages": [{"role": "user", "content": "confidential"}]}\n')
    store = AccountStore(runs / ".team" / "accounts.db")
    for name, role in ROLES.items():
        store.add(name, role, PASSWORDS[name], actor="test")
    for reviewer in ("rita", "ruth"):
        store.share(PARENT, reviewer, actor="boss")
    log = runs.parent / "team-app.log"
    with served(runs, log) as url:
        yield url, runs, store, log


def client(url: str, name: str):
    from gradio_client import Client

    return Client(url, auth=(name, PASSWORDS[name]), verbose=False)


def registered_handlers(runs: Path, store: AccountStore) -> list[tuple[str, str, str, str]]:
    """(key, role, api name, trigger) of every handler: the same app built here, so the names match the server's."""
    from builder.ui import build_app
    from builder.ui.access import handler_key, required_role
    from builder.ui.team import Team

    demo, _ = build_app(runs, team=Team(store))
    rows = []
    for block_fn in demo.fns.values():
        if block_fn.fn is not None:
            key = handler_key(block_fn.fn)
            targets = ",".join(f"{getattr(demo.blocks.get(b), 'elem_id', None)}.{e}" for b, e in block_fn.targets)
            rows.append((key, required_role(key), block_fn.api_name, targets))
    demo.close()
    return rows


def snapshot(runs: Path) -> dict[str, str]:
    """Every file of the runs folder and its sha256; the job queue's lock file (touched by the app's scheduler
    every two seconds, whoever calls) and SQLite's shared-memory index are left out."""
    files = {}
    for path in sorted(runs.rglob("*")):
        if path.is_file() and path.name != ".lock" and not path.name.endswith("-shm"):
            files[str(path.relative_to(runs))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return files


def plausible_inputs(parameters: list[dict]) -> list[object]:
    """What the page would send: each input's own default, else the API's example value. Gradio checks the
    values before the handler (and its guard) runs, so an empty value would be turned away before the guard.
    Files are left empty: the examples point at files on the internet."""
    values = []
    for parameter in parameters:
        value = parameter["parameter_default"] if parameter.get("parameter_has_default") else None
        if value is None:
            value = parameter.get("example_input")
        if holds_a_file(value):
            value = None
        values.append(value)
    return values


def holds_a_file(value: object) -> bool:
    if isinstance(value, dict):
        return "url" in value or "path" in value
    return isinstance(value, list) and any(holds_a_file(item) for item in value)


def call(gradio_client, api_name: str) -> tuple[bool, str]:
    """Call an endpoint with plausible values for its inputs: (refused by role, what it said)."""
    parameters = gradio_client.view_api(print_info=False, return_format="dict")["named_endpoints"][f"/{api_name}"]
    try:
        gradio_client.predict(*plausible_inputs(parameters["parameters"]), api_name=f"/{api_name}")
    except Exception as err:  # the client raises the app's gr.Error as an AppError
        return "Refused:" in str(err), str(err)
    return False, ""


def test_every_handler_above_a_callers_role_is_refused_and_changes_nothing(team_app) -> None:
    url, runs, store, _ = team_app
    rows = registered_handlers(runs, store)
    assert len(rows) > 60
    served_names = set(client(url, "boss").view_api(print_info=False, return_format="dict")["named_endpoints"])
    assert {f"/{api}" for _, _, api, _ in rows} <= served_names  # the list is the running app's
    before, audit_before = snapshot(runs), len(store.audit_entries(10_000))
    checked = {"reviewer": 0, "trainer": 0}
    for name in ("rita", "tess"):
        caller = client(url, name)
        caller.predict(None, api_name="/refresh_choices")
        for key, role, api, trigger in rows:
            if ROLE_LEVEL[ROLES[name]] >= ROLE_LEVEL[role]:
                continue
            refused, said = call(caller, api)
            assert refused, f"{name} ({ROLES[name]}) was not refused {key} [{trigger}], which needs {role}: {said}"
            assert f"needs the {role} role (you are {name}, {ROLES[name]})" in said, said
            checked[ROLES[name]] += 1
    assert checked["reviewer"] > 50 and checked["trainer"] >= 7, checked
    assert snapshot(runs) == before
    assert len(store.audit_entries(10_000)) == audit_before


def test_a_reviewer_sees_only_the_runs_shared_with_them_and_no_file_route(team_app) -> None:
    url, runs, _, _ = team_app
    rita = client(url, "rita")
    assert rita.predict(None, api_name="/refresh_choices")["choices"] == [[PARENT, PARENT]]
    with pytest.raises(Exception, match=SECRET_RUN):  # not among her choices: refused before any handler
        rita.predict(SECRET_RUN, True, "en", api_name="/on_run")
    tess = client(url, "tess")
    assert {c[0] for c in tess.predict(None, api_name="/refresh_choices")["choices"]} >= {PARENT, SECRET_RUN}
    sessions = {}
    for name in ("rita", "tess"):
        session = httpx.Client(base_url=url)
        assert session.post("/login", data={"username": name, "password": PASSWORDS[name]}).status_code == 200
        sessions[name] = session
    recipe = f"/gradio_api/file={runs / SECRET_RUN / 'recipe.yaml'}"
    assert sessions["rita"].get(recipe).status_code == 403
    assert sessions["rita"].get(f"/gradio_api/file={runs / PARENT / 'train.jsonl'}").status_code == 403
    upload = sessions["rita"].post("/gradio_api/upload", files={"files": ("x.jsonl", b"{}\n")})
    assert upload.status_code == 403
    assert sessions["rita"].get("/config").status_code == 200  # the page itself still loads
    assert sessions["tess"].get(recipe).status_code == 200
    for name, session in sessions.items():  # the accounts database is served to nobody
        assert session.get(f"/gradio_api/file={runs / '.team' / 'accounts.db'}").status_code == 403, name


def logged_in(url: str, name: str) -> httpx.Client:
    session = httpx.Client(base_url=url, timeout=60)
    assert session.post("/login", data={"username": name, "password": PASSWORDS[name]}).status_code == 200
    return session


def test_every_route_a_reviewer_may_not_fetch_answers_403_and_changes_nothing(team_app) -> None:
    """Generated from the app's HTTP routes, Gradio's own included: a route Gradio adds one day is refused to
    reviewers unless ``builder.ui.team.reviewer_may_fetch`` lets them have it."""
    from builder.ui.roles_table import app_routes
    from builder.ui.roles_table import team_app as built_app
    from builder.ui.team import reviewer_may_fetch

    url, runs, store, _ = team_app
    demo = built_app(runs)
    routes = app_routes(demo)
    demo.close()
    refused = [(method, path) for method, path in routes if not reviewer_may_fetch(path)]
    assert {("GET", "/gradio_api/file=x"), ("POST", "/gradio_api/upload")} <= set(refused)
    assert len(refused) > 20 and all(method != "WEBSOCKET" for method, _ in refused)
    rita, tess = logged_in(url, "rita"), logged_in(url, "tess")
    before, audit_before = snapshot(runs), len(store.audit_entries(10_000))
    for method, path in refused:
        answer = rita.request(method, path)
        assert answer.status_code == 403 and "playground only" in answer.text, (method, path, answer.status_code)
    # The guard is about reviewers: a trainer's request reaches Gradio (here a file of the runs folder).
    assert tess.get(f"/gradio_api/file={runs / PARENT / 'recipe.yaml'}").status_code == 200
    assert snapshot(runs) == before
    assert len(store.audit_entries(10_000)) == audit_before


def chat_and_vote(gradio_client, vote_api: dict[str, str], message: str, choice: str) -> None:
    reply = gradio_client.predict(message, PARENT, *CHAT_SETTINGS, api_name="/chat")
    assert "Done." in reply, reply  # the status once both sides have answered
    said = gradio_client.predict(PARENT, "en", api_name=f"/{vote_api[choice]}")
    assert "Vote saved" in said[0], said


def vote_endpoints(runs: Path, store: AccountStore) -> dict[str, str]:
    rows = registered_handlers(runs, store)
    return {
        trigger.split(".")[0].removeprefix("play-vote-"): api
        for key, _, api, trigger in rows
        if key == "playground_tab:build.<lambda>(vote)"
    }


def test_two_reviewers_voting_at_the_same_time_lose_no_vote(team_app) -> None:
    url, runs, store, _ = team_app
    votes_api = vote_endpoints(runs, store)
    rounds = 4
    failures: list[BaseException] = []

    def review(name: str) -> None:
        try:
            reviewer = client(url, name)
            reviewer.predict(None, api_name="/refresh_choices")
            reviewer.predict(PARENT, True, "en", api_name="/on_run")
            reviewer.predict(True, "en", api_name="/on_blind")
            for n in range(rounds):
                chat_and_vote(reviewer, votes_api, f"{name} asks about order {n}", "a" if n % 2 else "b")
            if name == "rita":  # a second vote on the same answers replaces her first
                reviewer.predict(PARENT, "en", api_name=f"/{votes_api['tie']}")
            said = reviewer.predict("Could you give me your order number?", PARENT, "en", api_name="/correct")
            assert "Correction saved" in said[1], said
        except BaseException as err:
            failures.append(err)

    threads = [threading.Thread(target=review, args=(name,)) for name in ("rita", "ruth")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    assert not failures, failures
    lines = [json.loads(line) for line in (runs / PARENT / "votes.jsonl").read_text().splitlines()]
    assert len(lines) == 2 * rounds + 1 and all(v["blind"] for v in lines)
    from builder.cli import feedback

    summary = feedback.summarize(runs / PARENT)
    assert summary.by_author == {"rita": rounds, "ruth": rounds}
    assert summary.tie == 1  # rita's last vote replaced the one before it
    corrections = feedback.read_corrections([runs / PARENT / "corrections.jsonl"])
    assert sorted(c["metadata"]["author"] for c in corrections) == ["rita", "ruth"]


def test_an_admin_starts_a_round_that_leaves_a_reviewer_out_and_it_is_audited(team_app) -> None:
    url, runs, store, _ = team_app
    if not (runs / PARENT / "votes.jsonl").is_file():
        pytest.skip("needs the votes of the test before")
    api = {key: name for key, _, name, _ in registered_handlers(runs, store)}  # Gradio numbers repeated names
    boss = client(url, "boss")
    boss.predict(None, api_name="/refresh_choices")
    # The leave-out list offers the run's authors once the run is chosen (as the page does on a run change).
    boss.predict(PARENT, [], api_name=f"/{api['feedback_ui:build_next_round.authors']}")
    counts = boss.predict(PARENT, "dpo", "en", api_name=f"/{api['feedback_ui:build_next_round.show']}")
    assert any(f"Votes by author: {order}" in counts for order in ("rita 4, ruth 4", "ruth 4, rita 4")), counts
    overrides = "training.max_steps=1\ntraining.batch_size=2\neval.enabled=false"
    said = boss.predict(
        PARENT, "dpo", overrides, "en", ["ruth"], api_name=f"/{api['feedback_ui:build_next_round.do_start']}"
    )
    chosen = said[-1]  # the run selector moves to the new run (the state between is not returned)
    run_id = chosen.get("value") if isinstance(chosen, dict) else chosen
    assert run_id and run_id.startswith("tiny-dpo-"), said
    info_path = runs / run_id / "run.json"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        info = json.loads(info_path.read_text()) if info_path.is_file() else {}
        if info.get("status") in ("completed", "failed"):
            break
        time.sleep(2)
    assert info.get("status") == "completed", info
    assert info["lineage"]["excluded_authors"] == ["ruth"]
    pairs = [json.loads(line) for line in (runs / run_id / "pairs.jsonl").read_text().splitlines()]
    assert pairs and all("rita asks" in p["prompt"][-1]["content"] for p in pairs)
    entries = [(e.actor, e.action, e.target) for e in store.audit_entries()]
    assert ("boss", "started", run_id) in entries
    listed = subprocess.run(
        [sys.executable, "-m", "builder.users", "--runs-dir", str(runs), "audit"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    ).stdout
    assert f"boss\tstarted\t{run_id}" in listed


def test_a_new_password_or_a_removal_ends_open_sessions_and_logout_ends_one(team_app) -> None:
    url, _, store, _ = team_app
    store.add("temp", "reviewer", "temp-pass-1111", actor="boss")
    first, second = httpx.Client(base_url=url), httpx.Client(base_url=url)
    for session in (first, second):
        assert session.post("/login", data={"username": "temp", "password": "temp-pass-1111"}).status_code == 200
        assert session.get("/config").status_code == 200
    first.get("/logout", params={"all_session": "false"})
    assert first.get("/config").status_code == 401 and second.get("/config").status_code == 200
    changed = subprocess.run(
        [sys.executable, "-m", "builder.users", "--db", str(store.path), "passwd", "temp"],
        input="temp-pass-2222\n",
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert changed.returncode == 0, changed.stderr
    assert second.get("/config").status_code == 401  # ended by the command line, in another process
    assert second.post("/login", data={"username": "temp", "password": "temp-pass-1111"}).status_code == 400
    assert second.post("/login", data={"username": "temp", "password": "temp-pass-2222"}).status_code == 200
    assert second.get("/config").status_code == 200
    store.remove("temp", actor="boss")
    assert second.get("/config").status_code == 401


def test_passwords_appear_nowhere_in_clear(team_app) -> None:
    url, runs, _, log = team_app
    # Nor in a browser: Gradio's run history (each call's inputs kept in the browser) is off.
    assert logged_in(url, "boss").get("/config").json()["run_history"] is False
    everything = log.read_bytes() + b"".join(p.read_bytes() for p in runs.rglob("*") if p.is_file())
    for password in [*PASSWORDS.values(), "temp-pass-1111", "temp-pass-2222"]:
        assert password.encode() not in everything, password
