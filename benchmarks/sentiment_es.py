"""The Spanish tweets of ../shared/data/real/sentiment_es as chat JSONL that a recipe can read.

The data comes as two line-aligned files per split (``*_text.txt``, one tweet a line, and
``*_labels.txt``, 0/1/2 on the same line). This writes one conversation per tweet (the tweet as
the user turn, its label as the reply) to ``runs/data/sentiment_es/{train,validation}.jsonl``, with
the source file and line in metadata; the shared folder is read in place, never copied into the
repository. ``recipes/real/sentiment_es*.yaml`` read the result.

    python -m benchmarks.sentiment_es [--source ../shared/data/real/sentiment_es] [--out runs/data/sentiment_es]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO.parent / "shared" / "data" / "real" / "sentiment_es"
OUT = REPO / "runs" / "data" / "sentiment_es"
SPLITS = {"train": "train", "validation": "val"}  # output name -> file prefix; the test split is withheld


def convert(source: Path, out: Path) -> dict[str, int]:
    """Write each split; returns the number of tweets per split. Misaligned files are an error."""
    out.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    for name, prefix in SPLITS.items():
        texts = (source / f"{prefix}_text.txt").read_text(encoding="utf-8").splitlines()
        labels = (source / f"{prefix}_labels.txt").read_text(encoding="utf-8").splitlines()
        if len(texts) != len(labels):
            raise ValueError(f"{source}: {prefix}_text.txt has {len(texts)} lines, {prefix}_labels.txt {len(labels)}")
        with open(out / f"{name}.jsonl", "w", encoding="utf-8") as handle:
            for line, (text, label) in enumerate(zip(texts, labels, strict=True), 1):
                record = {
                    "messages": [{"role": "user", "content": text}, {"role": "assistant", "content": label.strip()}],
                    "metadata": {"id": f"{prefix}-{line}", "tweet_file": f"{prefix}_text.txt", "tweet_line": line},
                }
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        counts[name] = len(texts)
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.sentiment_es", description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=SOURCE)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    counts = convert(args.source, args.out)
    print(", ".join(f"{n} {name}" for name, n in counts.items()) + f" tweets written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
