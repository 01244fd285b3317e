"""Import memory of large chat exports: a Slack workspace zip and a Messenger inbox folder of hundreds of MB.

Issue 26: "a 1 GB Slack zip or a 500 MB Messenger folder imports with flat memory". Each export is generated
(seeded) in a temporary folder at two sizes, a small one and a large one, and imported in a fresh child process;
the figure is the child's peak resident memory (``VmHWM``, which a new program starts afresh) and the ratio
large / small. Flat memory: the ratio stays near 1 while the input grows 50 times or more.

Two ways of importing, each in its own child:

- ``reader``: the format's reader alone (``builder.importers.read_file``), every conversation read and dropped;
- ``cli``: the real ``python -m builder.data import`` (cleaning, redaction, deduplication, the report; language
  detection off, as it costs time, not memory), which also holds a few numbers per kept conversation.

    python -m benchmarks.import_memory [--mb 300] [--small-mb 5] [--json OUT.json]
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

from benchmarks import report_json
from benchmarks.import_bench import _agent, _customer

ROOT = Path(__file__).resolve().parents[1]
START_MS = 1_600_000_000_000
DAY_MS = 86_400_000
TURNS = 8  # messages per conversation
OWNER = "Tienda Acme"


def _conversation(rng: random.Random, customer: str, agent: str) -> list[tuple[str, str]]:
    """One support conversation (English or Spanish) between ``customer`` and ``agent``: (speaker, text)."""
    spanish = rng.random() < 0.5
    return [(customer, _customer(spanish, rng)) if k % 2 == 0 else (agent, _agent(spanish, rng)) for k in range(TURNS)]


def write_slack_zip(path: Path, megabytes: float, seed: int = 7) -> dict[str, Any]:
    """A workspace of channels with one day file per day: a thread of two people and channel chatter each day."""
    rng = random.Random(seed)
    users = [{"id": f"U{n:04d}", "name": f"user{n}", "real_name": f"Cliente {n}"} for n in range(200)]
    users.append({"id": "UAGENT", "name": "soporte", "real_name": "Acme Support"})
    channels = [{"id": f"C{n:03d}", "name": f"help-{n:03d}"} for n in range(20)]
    raw = days = 0
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        zf.writestr("users.json", json.dumps(users))
        zf.writestr("channels.json", json.dumps(channels))
        day = 0
        while raw < megabytes * 2**20:
            for channel in channels:
                messages = []
                base = (START_MS + day * DAY_MS) / 1000
                for c in range(12):  # 12 threads a day, each a conversation
                    customer = f"U{rng.randrange(200):04d}"
                    parent = f"{base + c * 3600:.6f}"
                    conv = _conversation(rng, customer, "UAGENT")
                    for k, (who, text) in enumerate(conv):
                        ts = f"{base + c * 3600 + k * 90:.6f}"
                        message = {"type": "message", "user": who, "text": text, "ts": ts, "thread_ts": parent}
                        if k == 0:
                            message["reply_count"] = TURNS - 1
                        messages.append(message)
                data = json.dumps(messages, indent=2, ensure_ascii=False)
                raw += len(data.encode())
                date = time.strftime("%Y-%m-%d", time.gmtime(base))
                zf.writestr(f"{channel['name']}/{date}.json", data)
                days += 1
            day += 1
    return {"input_mb": round(raw / 2**20, 1), "zip_mb": round(path.stat().st_size / 2**20, 1), "day_files": days}


def _mojibake(text: str) -> str:
    """As Messenger writes it: each UTF-8 byte a code point."""
    return text.encode("utf-8").decode("latin-1")


def write_messenger_folder(folder: Path, megabytes: float, seed: int = 11) -> dict[str, Any]:
    """An inbox of threads, each with the owner; a thread's files newest first, 2,000 messages a file."""
    rng = random.Random(seed)
    raw = threads = files = 0
    per_file = 2_000
    while raw < megabytes * 2**20:
        customer = f"Cliente Núñez {threads}"
        thread = folder / "messages" / "inbox" / f"cliente{threads}_{1000 + threads}"
        thread.mkdir(parents=True)
        messages = []
        for c in range(3 * per_file // TURNS):  # three files' worth, one conversation a day
            for k, (who, text) in enumerate(_conversation(rng, customer, OWNER)):
                stamp = START_MS + c * DAY_MS + k * 120_000
                messages.append({"sender_name": _mojibake(who), "timestamp_ms": stamp, "content": _mojibake(text)})
        messages.reverse()  # newest first
        for number in range(1, 4):
            chunk = messages[(number - 1) * per_file : number * per_file]
            doc = {"participants": [{"name": _mojibake(customer)}, {"name": OWNER}], "messages": chunk}
            data = json.dumps(doc, indent=2)
            (thread / f"message_{number}.json").write_text(data, encoding="utf-8")
            raw += len(data)
            files += 1
        threads += 1
    return {"input_mb": round(raw / 2**20, 1), "threads": threads, "files": files}


def _peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child(mode: str, source: Path, out: Path) -> dict[str, Any]:
    """Run in the child process: import ``source`` one way and say the peak memory."""
    start = time.perf_counter()
    if mode == "reader":
        from builder.config.recipe import FieldMapping
        from builder.importers import read_file

        conversations = messages = 0
        for item in read_file(source, FieldMapping()):
            conversations += item.conversation is not None
            messages += (item.counts or {}).get("messages", 0)
        result: dict[str, Any] = {"conversations": conversations, "messages": messages}
    else:
        from builder.data.cli import main

        code = main(["import", str(source), "--out", str(out), "--min-turns", "1", "--no-language"])
        report = json.loads(out.with_suffix(".report.json").read_text(encoding="utf-8"))
        result = {"exit": code, "kept": report["kept"], "set_aside": report.get("quarantine_reasons")}
    return {**result, "seconds": round(time.perf_counter() - start, 1), "peak_rss_mb": round(_peak_mb(), 1)}


def _measure(mode: str, source: Path, out: Path) -> dict[str, Any]:
    command = [sys.executable, "-m", "benchmarks.import_memory", "--child", mode, str(source), str(out)]
    proc = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        raise RuntimeError(f"{mode} import of {source} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run(megabytes: float = 300, small_megabytes: float = 5, modes: tuple[str, ...] = ("reader", "cli")) -> dict:
    result: dict[str, Any] = {"large_mb_asked": megabytes, "small_mb_asked": small_megabytes}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for fmt in ("slack", "messenger"):
            entry: dict[str, Any] = {}
            for size, mb in (("small", small_megabytes), ("large", megabytes)):
                path = folder / f"{fmt}-{size}" / ("export.zip" if fmt == "slack" else "facebook")
                path.parent.mkdir()
                started = time.perf_counter()
                made = write_slack_zip(path, mb) if fmt == "slack" else write_messenger_folder(path, mb)
                entry[size] = {**made, "generated_s": round(time.perf_counter() - started, 1)}
                for mode in modes:
                    entry[size][mode] = _measure(mode, path, folder / f"{fmt}-{size}" / f"out-{mode}.jsonl")
            for mode in modes:
                small, large = entry["small"][mode]["peak_rss_mb"], entry["large"][mode]["peak_rss_mb"]
                entry[f"{mode}_peak_ratio_large_to_small"] = round(large / small, 2)
            entry["input_ratio_large_to_small"] = round(entry["large"]["input_mb"] / entry["small"]["input_mb"], 1)
            result[fmt] = entry
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=300, help="uncompressed size of each large export")
    parser.add_argument("--small-mb", type=float, default=5, help="size of each small export")
    parser.add_argument("--mode", action="append", choices=("reader", "cli"), help="only this way (repeatable)")
    parser.add_argument("--json", type=Path, help="also write the result here")
    parser.add_argument("--child", nargs=3, metavar=("MODE", "SOURCE", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        mode, source, out = args.child
        print(json.dumps(child(mode, Path(source), Path(out))))
        return 0
    report_json(run(args.mb, args.small_mb, tuple(args.mode or ("reader", "cli"))), args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
