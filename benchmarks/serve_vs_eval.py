"""Does the API server answer as well as the evaluation says? chrF via ``builder.serve.server`` vs ``eval.json``.

A tuned, evaluated translation run is served by ``python -m builder.serve`` (started from ``--repo``, so
that an older checkout of the project, a ``git worktree``, can be measured the same way) and each dev
example's source text is sent RAW, as a client sends it: one user message with the text alone, no system
message, no instruction, through the official ``openai`` client, greedy (temperature 0), at most the
evaluation's ``max_new_tokens``. The answers are scored as the evaluation scores the tuned model
(``UseCase.score``: corpus chrF, only as many lines as the reference has) and set against ``eval.json``.

    python -m benchmarks.serve_vs_eval RUN_DIR [--repo PATH] [--port 8765] [--json OUT]

The raw text of a dev example is its user turn after the instruction's blank line (the translation
instructions, old and new, are ``...:\\n\\n{text}``). ``--repetition-penalty`` sends vLLM's extension field
of that name (servers that do not know it ignore it).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def raw_text(user_turn: str) -> str:
    """The text a client would send: the dev prompt's user turn without the instruction above it."""
    return user_turn.split("\n\n", 1)[1] if "\n\n" in user_turn else user_turn


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for(url: str, proc: subprocess.Popen[bytes], seconds: float = 300) -> None:
    import urllib.request

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode} before serving")
        try:
            with urllib.request.urlopen(f"{url}/models", timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"the server did not answer at {url} within {seconds:.0f} s")


def measure(
    run_dir: Path, repo: Path, port: int | None = None, repetition_penalty: float | None = None
) -> dict[str, Any]:
    import openai

    from builder.config.recipe import load_recipe
    from builder.evaluate.runner import read_examples
    from builder.run.rundir import RunDir
    from builder.usecases import get_usecase

    run = RunDir(run_dir.resolve())
    result = json.loads(run.eval_json.read_text(encoding="utf-8"))
    recipe = load_recipe(run.recipe_file)
    usecase = get_usecase(recipe.use_case)
    dev = read_examples(run.examples("dev"))[: result["n_examples"]]
    sources = [raw_text(e.prompt_messages[-1]["content"]) for e in dev]

    port = port or _free_port()
    url = f"http://127.0.0.1:{port}/v1"
    env = {**os.environ, "PYTHONPATH": str(repo)}
    command = [sys.executable, "-m", "builder.serve.server", str(run.path), "--port", str(port)]
    proc = subprocess.Popen(command, cwd=repo, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_for(url, proc)
        client = openai.OpenAI(base_url=url, api_key="unused", max_retries=0, timeout=600)
        extra = {} if repetition_penalty is None else {"repetition_penalty": repetition_penalty}
        started = time.perf_counter()
        answers = []
        for text in sources:
            reply = client.chat.completions.create(
                model=run.name,
                messages=[{"role": "user", "content": text}],
                temperature=0,
                max_tokens=result["max_new_tokens"],
                extra_body=extra or None,
            )
            answers.append(reply.choices[0].message.content or "")
        seconds = time.perf_counter() - started
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
    metric = usecase.main_metric
    served = usecase.score(answers, dev, recipe)[metric]
    evaluated = result["systems"]["tuned"]["metrics"][metric]
    same = sum(a.strip() == e["tuned"].strip() for a, e in zip(answers, result["examples"], strict=True))
    return {
        "run_dir": str(run.path),
        "repo": str(repo),
        "metric": metric,
        "n_examples": len(dev),
        "eval_json": round(evaluated, 2),
        "served": round(served, 2),
        "difference": round(served - evaluated, 2),
        "identical_answers": same,
        "repetition_penalty": repetition_penalty,
        "seconds": round(seconds, 1),
        "examples": [
            {"sent": s, "served": a, "evaluated": e["tuned"], "reference": e["reference"]}
            for s, a, e in zip(sources, answers, result["examples"], strict=True)
        ],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.serve_vs_eval", description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path, help="a tuned run with eval.json (a translation run)")
    parser.add_argument("--repo", type=Path, default=REPO, help="the checkout whose builder.serve.server answers")
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("--repetition-penalty", type=float, default=None)
    parser.add_argument("--json", type=Path, default=None, help="write the figures and every answer here")
    args = parser.parse_args(argv)
    found = measure(args.run_dir, args.repo.resolve(), args.port, args.repetition_penalty)
    if args.json:
        args.json.write_text(json.dumps(found, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    summary = {k: v for k, v in found.items() if k != "examples"}
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
