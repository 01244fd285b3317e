"""The API server under concurrent clients: aggregate generated tokens/s and time to first token at 1, 4, 8.

A real ``python -m builder.serve`` (a child process, on a free loopback port) serves a run directory of the
bundled model with an untrained LoRA adapter (``benchmarks.playground.make_run_dir``: the support recipe's
LoRA, whose compute is a trained one's). For each number of clients, that many threads, started together,
each send ``requests`` streamed chat completions one after the other through the official ``openai``
client (greedy, ``max_tokens`` each, a different support question per request, the tuned model, and for
every other request the base model: both sides share the server's batches). Figures per level:

- ``aggregate_tokens_per_s``: completion tokens (the server's usage) of all requests over the level's wall
  time, from the first request sent to the last answer ended;
- ``ttft_*_s``: from a request sent to its first content chunk, median / mean / 90th percentile over all
  requests of the level (the first wave included);
- ``load_average_1min``: the machine's load before and after the level (other processes on the same cores
  slow the server; the server leaves one core to the HTTP side and the clients, ``--threads``).

Goals (issue 30): aggregate throughput at 8 clients >= 4x one client; median time to first token at 8
clients <= 1.5x one client's.

The run is in full precision by default, what ``quantization: auto`` gives the bundled model on a CPU.

    python -m benchmarks.serve_batching [--quick] [--quantization none|4bit] [--json OUT]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from benchmarks import report_json

REPO = Path(__file__).resolve().parents[1]
GOAL_THROUGHPUT_RATIO = 4.0
GOAL_TTFT_RATIO = 1.5
CLIENTS = (1, 4, 8)
QUESTIONS = [
    "Hola, mi pedido no ha llegado todavía. ¿Qué puedo hacer?",
    "How do I return a chair that arrived scratched?",
    "¿Cuánto tarda un envío a Canarias?",
    "Can I change the delivery address of my order?",
    "Me cobraron dos veces el mismo pedido, ¿me lo devolvéis?",
    "Do you ship to Portugal, and how much does it cost?",
    "¿Puedo pagar a plazos con tarjeta?",
    "My discount code does not work at checkout.",
    "El paquete llegó abierto y falta una pieza.",
    "How long is the warranty on a sofa?",
    "¿Tenéis tienda física en Madrid?",
    "I want to cancel my order, it has not shipped yet.",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "CPU"


def start_server(run_dir: Path, port: int, log: Path) -> subprocess.Popen:
    """``python -m builder.serve`` on 127.0.0.1:``port``, ready (its model loaded) when this returns."""
    import httpx

    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, "-m", "builder.serve.server", str(run_dir), "--port", str(port)]
    handle = open(log, "wb")  # noqa: SIM115 (closed with the process)
    proc = subprocess.Popen(command, cwd=REPO, env=env, stdout=handle, stderr=subprocess.STDOUT)
    deadline = time.time() + 600
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"builder.serve.server exited ({proc.returncode}): {log.read_text()[-3000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    proc.kill()
    raise RuntimeError(f"builder.serve.server did not answer within 600 s: {log.read_text()[-3000:]}")


def ask(client: Any, model: str, question: str, max_tokens: int) -> dict[str, float]:
    """One streamed greedy answer: time to first content chunk, completion tokens, end time."""
    sent = time.perf_counter()
    first = None
    tokens = 0
    stream = client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": question}],
        temperature=0,
        max_tokens=max_tokens,
        stream=True,
        stream_options={"include_usage": True},
    )
    for chunk in stream:
        if first is None and chunk.choices and chunk.choices[0].delta.content:
            first = time.perf_counter()
        if chunk.usage is not None:
            tokens = chunk.usage.completion_tokens
    ended = time.perf_counter()
    return {"sent": sent, "ttft": (first or ended) - sent, "tokens": tokens, "ended": ended}


def level(url: str, models: list[str], clients: int, requests: int, max_tokens: int) -> dict[str, Any]:
    """``clients`` threads at once, each ``requests`` answers in a row."""
    import openai

    results: list[dict[str, float]] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(clients)

    def client_loop(index: int) -> None:
        client = openai.OpenAI(base_url=url, api_key="unused", max_retries=0, timeout=600)
        barrier.wait()
        for r in range(requests):
            n = index * requests + r
            try:
                results.append(ask(client, models[n % 2], QUESTIONS[n % len(QUESTIONS)], max_tokens))
            except Exception as err:  # reported, never hidden behind a lower figure
                errors.append(err)

    load_before = os.getloadavg()[0]  # the 2 cores are shared: a busy neighbour shows here
    threads = [threading.Thread(target=client_loop, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError(f"{len(errors)} of {clients * requests} requests failed: {errors[0]}")
    wall = max(r["ended"] for r in results) - min(r["sent"] for r in results)
    tokens = sum(int(r["tokens"]) for r in results)
    ttfts = sorted(r["ttft"] for r in results)
    return {
        "clients": clients,
        "requests": len(results),
        "completion_tokens": tokens,
        "wall_s": round(wall, 2),
        "aggregate_tokens_per_s": round(tokens / wall, 2),
        "ttft_median_s": round(statistics.median(ttfts), 3),
        "ttft_mean_s": round(statistics.fmean(ttfts), 3),
        "ttft_p90_s": round(ttfts[min(len(ttfts) - 1, int(0.9 * len(ttfts)))], 3),
        "load_average_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],  # before, after
    }


def run(
    *,
    quick: bool = False,
    base_model: str | None = None,
    quantization: str = "none",
    max_tokens: int | None = None,
    requests: int | None = None,
    workdir: Path | None = None,
) -> dict[str, Any]:
    from benchmarks.playground import make_run_dir
    from builder.config.recipe import BUNDLED_MODEL

    base_model = base_model or BUNDLED_MODEL
    max_tokens = max_tokens or (32 if quick else 64)
    requests = requests or (2 if quick else 4)
    with tempfile.TemporaryDirectory(prefix="bench-serve-", dir=workdir) as tmp:
        run_dir = make_run_dir(Path(tmp), base_model, quantization)
        port = _free_port()
        server = start_server(run_dir, port, Path(tmp) / "serve.log")
        try:
            url = f"http://127.0.0.1:{port}/v1"
            models = [run_dir.name, f"{run_dir.name}-base"]
            level(url, models, 2, 1, 4)  # warm-up: both sides, a batch of two
            levels = {str(n): level(url, models, n, requests, max_tokens) for n in CLIENTS}
        finally:
            server.terminate()
            server.wait(timeout=60)
    one, eight = levels["1"], levels["8"]
    throughput = eight["aggregate_tokens_per_s"] / one["aggregate_tokens_per_s"]
    ttft = eight["ttft_median_s"] / one["ttft_median_s"]
    return {
        "cpu": f"{_cpu_name()}, {os.cpu_count()} cores",
        "base_model": base_model,
        "quantization": quantization,
        "max_tokens": max_tokens,
        "requests_per_client": requests,
        "levels": levels,
        "throughput_ratio_8_vs_1": round(throughput, 2),
        "ttft_ratio_8_vs_1": round(ttft, 2),
        "goal_throughput_ratio": GOAL_THROUGHPUT_RATIO,
        "goal_ttft_ratio": GOAL_TTFT_RATIO,
        "meets_goal": throughput >= GOAL_THROUGHPUT_RATIO and ttft <= GOAL_TTFT_RATIO,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="32 tokens per answer, 2 answers per client")
    parser.add_argument(
        "--quantization", default="none", choices=["4bit", "8bit", "none"], help="none: what auto picks for it on a CPU"
    )
    parser.add_argument("--base-model", default=None, help="default: the bundled SmolLM2-135M-Instruct")
    parser.add_argument("--max-tokens", type=int, default=None)
    parser.add_argument("--requests", type=int, default=None, help="answers per client at each level")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    result = run(
        quick=args.quick,
        base_model=args.base_model,
        quantization=args.quantization,
        max_tokens=args.max_tokens,
        requests=args.requests,
    )
    report_json(result, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
