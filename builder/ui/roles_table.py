"""``python -m builder.ui.roles_table``: every event handler of the web app and the role it needs, and every
HTTP route with whether a reviewer may fetch it, as Markdown.

The tables come from the app itself (``build_app`` with a team, in a throwaway runs folder; Gradio's own
routes from ``App.create_app``), through the same ``handler_roles`` and ``reviewer_may_fetch`` the server
uses, so they cannot drift from what it checks. One row per handler key; a key registered for several
events lists them all.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

ROLE_ORDER = {"reviewer": 0, "trainer": 1, "admin": 2}


def team_app(runs_dir: Path) -> Any:
    """The app's Blocks as served with accounts (the team's handlers and the guard included)."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    from builder.ui import build_app
    from builder.ui.team import Team
    from builder.users import AccountStore

    demo, _ = build_app(runs_dir, team=Team(AccountStore(runs_dir / ".team" / "accounts.db")))
    return demo


def role_rows(runs_dir: Path, demo: Any | None = None) -> list[tuple[str, str, list[str]]]:
    """(handler key, role, triggers) for each handler key of an app built on ``runs_dir``."""
    from builder.ui.access import handler_roles

    demo = demo or team_app(runs_dir)
    merged: dict[str, tuple[str, list[str]]] = {}
    for key, role, trigger in handler_roles(demo):
        triggers = merged.setdefault(key, (role, []))[1]
        triggers += [t for t in trigger.split(", ") if t and t not in triggers]
    return [(key, role, triggers) for key, (role, triggers) in merged.items()]


def app_routes(demo: Any) -> list[tuple[str, str]]:
    """(method, path) of every HTTP route Gradio serves for ``demo``, path parameters filled with ``x``."""
    from gradio.routes import App

    found: list[tuple[str, str]] = []

    def walk(routes: list[Any], prefix: str) -> None:
        for route in routes:
            included = getattr(route, "original_router", None)  # an APIRouter included with its prefix
            if included is not None:
                walk(included.routes, prefix + (route.include_context.prefix or ""))
                continue
            path = prefix + re.sub(r"\{[^}]+\}", "x", getattr(route, "path", ""))
            methods = getattr(route, "methods", None)
            if methods is None and hasattr(route, "routes"):  # a mounted folder or app
                found.append(("GET", path.rstrip("/") + "/x"))
            for method in sorted(methods or ["WEBSOCKET"]):
                if method != "HEAD":
                    found.append((method, path))

    walk(App.create_app(demo).routes, "")
    return list(dict.fromkeys(found))


def markdown(rows: list[tuple[str, str, list[str]]]) -> str:
    ordered = sorted(rows, key=lambda row: (ROLE_ORDER[row[1]], row[0]))
    counts = {role: sum(1 for _, r, _ in rows if r == role) for role in ROLE_ORDER}
    lines = [
        f"{len(rows)} handlers: " + ", ".join(f"{n} {role}" for role, n in counts.items()),
        "",
        "| handler | least role | triggered by |",
        "|---|---|---|",
    ]
    lines += [f"| `{key}` | {role} | {', '.join(triggers)} |" for key, role, triggers in ordered]
    return "\n".join(lines)


def routes_markdown(routes: list[tuple[str, str]]) -> str:
    """The routes a reviewer may fetch (the page, its assets, the event queue: every event runs through the
    handlers' guard above) and those that answer them 403. Admins and trainers may fetch all of them."""
    from builder.ui.team import reviewer_may_fetch

    allowed = [f"{m} `{p}`" for m, p in routes if reviewer_may_fetch(p)]
    refused = [f"{m} `{p}`" for m, p in routes if not reviewer_may_fetch(p)]
    return "\n".join(
        [
            f"{len(routes)} routes; a reviewer may fetch {len(allowed)}, the other {len(refused)} answer them 403.",
            "",
            "Reviewer may fetch: " + ", ".join(allowed),
            "",
            "Refused to reviewers (403): " + ", ".join(refused),
        ]
    )


def main() -> int:
    with tempfile.TemporaryDirectory() as folder:
        demo = team_app(Path(folder))
        print(markdown(role_rows(Path(folder), demo)))
        print()
        print(routes_markdown(app_routes(demo)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
