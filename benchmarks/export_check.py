"""GGUF export against the real runtime: llama.cpp (llama-cpp-python) answers as the merged model does.

    python -m benchmarks.export_check [RUN_DIR] [--steps 8] [--prompts 16] [--max-new-tokens 48]
                                      [--quants f16,q8_0,q4_0] [--no-speed] [--json OUT]

Without RUN_DIR it first trains a short run of ``recipes/support.yaml`` on the bundled SmolLM2
(full-precision LoRA, ``--steps`` steps). Then, on the run's dev prompts (system prompt and
conversation up to the last customer turn):

1. the merged model in transformers (float32) answers greedily: the reference token ids;
2. each quantization is exported with ``builder.export.gguf`` and loaded in llama.cpp, which
   - tokenizes the rendered chat prompt: the same ids as the transformers tokenizer?
   - answers greedily from the same prompt ids: the same tokens (identical answers, and the mean
     share of tokens before the first difference)?
   - teacher-forced on the reference answer: at how many positions is its top token the reference
     token (the agreement measure that does not compound after a first difference)?
   - answers through its own chat API (``create_chat_completion``, which renders the GGUF's Jinja
     template and stops at its stop tokens): the same text as transformers, and stops where it stops?
3. speed (unless --no-speed): decode tokens per second of the merged model in transformers and of
   each GGUF in llama.cpp on the same prompt, forced to the same number of tokens, as ratios; and the
   OpenAI-compatible server (``builder.serve.server``) against the playground engine it wraps, per token.

llama-cpp-python is not a dependency of the project (its source build takes 10 to 20 minutes):
install it first, with portable CPU flags on machines whose CPU advertises more than it runs:

    CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON" pip install llama-cpp-python

Speed figures need an idle machine: llama.cpp's threads spin while they wait.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SPEED_PROMPT = [{"role": "user", "content": "Hola, mi pedido no ha llegado todavía. ¿Qué puedo hacer?"}]


def train_short_run(root: Path, steps: int) -> Path:
    from builder.cli.sft import train
    from builder.config.recipe import load_recipe

    overrides = [
        f"training.max_steps={steps}",
        "quantization=none",
        "eval.enabled=false",
        "training.save_steps=1000",
        "training.eval_steps=1000",
    ]
    recipe = load_recipe(REPO / "recipes" / "support.yaml", overrides)
    return train(recipe, root / "support-short")


def dev_prompts(run_dir: Path, count: int) -> list[list[dict[str, str]]]:
    from builder.run.rundir import read_jsonl

    prompts = []
    for split in ("dev.jsonl", "train.jsonl"):
        for example in read_jsonl(run_dir / split):
            messages = example["messages"]
            last = max(i for i, m in enumerate(messages) if m["role"] == "assistant")
            prompts.append(messages[:last])
            if len(prompts) == count:
                return prompts
    if not prompts:
        raise SystemExit(f"{run_dir}: no dev.jsonl or train.jsonl examples to prompt with")
    return prompts


def reference_answers(model: Any, tokenizer: Any, prompts: list, max_new: int) -> list[dict[str, Any]]:
    import torch

    stops = _stop_ids(tokenizer)
    answers = []
    for messages in prompts:
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        with torch.inference_mode():
            out = model.generate(
                torch.tensor([ids]),
                max_new_tokens=max_new,
                do_sample=False,
                repetition_penalty=1.0,
                eos_token_id=sorted(stops),
                pad_token_id=tokenizer.pad_token_id,
            )
        new = out[0, len(ids) :].tolist()
        stopped = bool(new) and new[-1] in stops
        answers.append(
            {
                "messages": messages,
                "text": text,
                "prompt_ids": ids,
                "ids": new[:-1] if stopped else new,
                "stopped": stopped,
            }
        )
    return answers


def _stop_ids(tokenizer: Any) -> set[int]:
    from builder.export.gguf_vocab import end_of_turn_token

    eot = end_of_turn_token(tokenizer)
    ids = {tokenizer.eos_token_id}
    if eot:
        ids.add(tokenizer.convert_tokens_to_ids(eot))
    return {i for i in ids if i is not None}


def _prefix(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def check_quant(path: Path, answers: list[dict[str, Any]], tokenizer: Any, max_new: int) -> dict[str, Any]:
    import numpy as np
    from llama_cpp import Llama

    stops = _stop_ids(tokenizer)
    llm = Llama(str(path), n_ctx=2048, n_threads=os.cpu_count() or 2, logits_all=True, verbose=False)
    same_prompt = identical = same_chat = stopped_alike = 0
    prefix_shares, forced_hits, forced_total = [], 0, 0
    for answer in answers:
        cpp_prompt = llm.tokenize(answer["text"].encode("utf-8"), add_bos=False, special=True)
        same_prompt += cpp_prompt == answer["prompt_ids"]
        # free-running greedy answer from the same prompt ids
        llm.reset()
        got: list[int] = []
        for token in llm.generate(answer["prompt_ids"], top_k=1, top_p=1.0, temp=0.0, repeat_penalty=1.0):
            if token in stops or len(got) >= max_new:
                break
            got.append(token)
        identical += got == answer["ids"]
        longest = max(len(got), len(answer["ids"]), 1)
        prefix_shares.append(_prefix(got, answer["ids"]) / longest)
        # teacher-forced: llama.cpp's top token at every position of the reference answer
        llm.reset()
        llm.eval(answer["prompt_ids"] + answer["ids"])
        n = len(answer["prompt_ids"])
        logits = np.asarray(llm.scores[n - 1 : n - 1 + len(answer["ids"])])
        if len(answer["ids"]):
            forced_hits += int((logits.argmax(axis=1) == np.asarray(answer["ids"])).sum())
            forced_total += len(answer["ids"])
    for answer in answers:
        llm.reset()
        reply = llm.create_chat_completion(
            answer["messages"], temperature=0.0, top_k=1, repeat_penalty=1.0, max_tokens=max_new
        )
        choice = reply["choices"][0]
        same_chat += choice["message"]["content"].strip() == tokenizer.decode(answer["ids"]).strip()
        stopped_alike += (choice["finish_reason"] == "stop") == answer["stopped"]
    llm.close()
    total = len(answers)
    return {
        "file": str(path),
        "megabytes": round(path.stat().st_size / 1e6, 1),
        "prompt_tokenization_identical": f"{same_prompt}/{total}",
        "greedy_answers_identical": f"{identical}/{total}",
        "mean_share_before_first_difference": round(statistics.mean(prefix_shares), 4),
        "teacher_forced_top1_agreement": round(forced_hits / max(forced_total, 1), 4),
        "chat_api_text_identical": f"{same_chat}/{total}",
        "chat_api_stops_alike": f"{stopped_alike}/{total}",
    }


# ---------------------------------------------------------------- speed


def _hf_decode_rate(model: Any, tokenizer: Any, tokens: int) -> float:
    import torch

    ids = tokenizer.apply_chat_template(SPEED_PROMPT, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    kwargs = dict(do_sample=False, pad_token_id=tokenizer.pad_token_id, eos_token_id=None)

    def timed(n: int) -> float:
        started = time.perf_counter()
        with torch.inference_mode():
            model.generate(ids["input_ids"], max_new_tokens=n, min_new_tokens=n, **kwargs)
        return time.perf_counter() - started

    timed(4)  # warm-up
    first = min(timed(1) for _ in range(2))
    full = min(timed(tokens) for _ in range(2))
    return (tokens - 1) / (full - first)


def _cpp_decode_rate(path: Path, prompt_ids: list[int], tokens: int) -> float:
    from llama_cpp import Llama

    llm = Llama(str(path), n_ctx=1024, n_threads=os.cpu_count() or 2, verbose=False)

    def timed(n: int) -> float:
        llm.reset()
        started = time.perf_counter()
        for count, _ in enumerate(llm.generate(prompt_ids, top_k=1, temp=0.0, repeat_penalty=1.0), 1):
            if count >= n:
                break
        return time.perf_counter() - started

    timed(4)
    first = min(timed(1) for _ in range(2))
    full = min(timed(tokens) for _ in range(2))
    llm.close()
    return (tokens - 1) / (full - first)


def speed(model: Any, tokenizer: Any, files: dict[str, Path], tokens: int) -> dict[str, Any]:
    text = tokenizer.apply_chat_template(SPEED_PROMPT, tokenize=False, add_generation_prompt=True)
    prompt_ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    result: dict[str, Any] = {"new_tokens": tokens, "transformers_float32_tokens_per_s": None}
    hf = _hf_decode_rate(model, tokenizer, tokens)
    result["transformers_float32_tokens_per_s"] = round(hf, 1)
    for quant, path in files.items():
        rate = _cpp_decode_rate(path, prompt_ids, tokens)
        result[f"llama_cpp_{quant}_tokens_per_s"] = round(rate, 1)
        result[f"llama_cpp_{quant}_vs_transformers"] = round(rate / hf, 2)
    return result


def server_overhead(run_dir: Path, tokens: int, repeats: int = 3) -> dict[str, Any]:
    """Seconds per generated token through the HTTP server (openai client) and straight from the engine."""
    import socket
    import threading

    import openai
    import uvicorn

    from builder.serve.chat import ChatEngine, GenerationStats, Sampling
    from builder.serve.server import ChatService, create_app

    service = ChatService(run_dir, ChatEngine())
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(service), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="x", max_retries=0, timeout=600)
    greedy = Sampling(max_new_tokens=tokens, temperature=0, repetition_penalty=service.defaults.repeat_penalty)
    prompt = service.prompt(SPEED_PROMPT)

    def engine_once() -> float:
        stats = GenerationStats()
        started = time.perf_counter()
        for _ in service.engine.stream(run_dir, "tuned", prompt, greedy, stats):
            pass
        return (time.perf_counter() - started) / max(stats.completion_tokens, 1)

    def server_once(stream: bool) -> float:
        started = time.perf_counter()
        if stream:
            chunks = client.chat.completions.create(
                model=service.tuned,
                messages=SPEED_PROMPT,
                temperature=0,
                max_tokens=tokens,
                stream=True,
                stream_options={"include_usage": True},
            )
            used = next(c.usage.completion_tokens for c in chunks if c.usage)
        else:
            reply = client.chat.completions.create(
                model=service.tuned, messages=SPEED_PROMPT, temperature=0, max_tokens=tokens
            )
            used = reply.usage.completion_tokens
        return (time.perf_counter() - started) / max(used, 1)

    engine_once()
    server_once(False)  # warm-ups
    engine = statistics.median(engine_once() for _ in range(repeats))
    plain = statistics.median(server_once(False) for _ in range(repeats))
    streamed = statistics.median(server_once(True) for _ in range(repeats))
    server.should_exit = True
    thread.join(timeout=30)
    return {
        "engine_ms_per_token": round(engine * 1000, 2),
        "server_ms_per_token": round(plain * 1000, 2),
        "server_streaming_ms_per_token": round(streamed * 1000, 2),
        "server_vs_engine": round(plain / engine, 3),
        "server_streaming_vs_engine": round(streamed / engine, 3),
    }


# ---------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.export_check", description=__doc__.split("\n")[0])
    parser.add_argument("run_dir", nargs="?", type=Path, help="a finished run; default: train a short support run")
    parser.add_argument("--steps", type=int, default=8, help="training steps of the short run")
    parser.add_argument("--prompts", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--quants", default="f16,q8_0,q4_0")
    parser.add_argument("--speed-tokens", type=int, default=64)
    parser.add_argument("--no-speed", action="store_true")
    parser.add_argument("--speed-only", action="store_true", help="skip the agreement checks (RUN_DIR needed)")
    parser.add_argument("--json", type=Path, help="write the figures here too")
    args = parser.parse_args(argv)
    try:
        import llama_cpp
    except ImportError:
        print("llama-cpp-python is not installed; see this module's docstring for the command", file=sys.stderr)
        return 2
    from builder.export.gguf import export_gguf
    from builder.export.merge import load_merged

    work = Path(tempfile.mkdtemp(prefix="export-check-"))
    started = time.perf_counter()
    run_dir = args.run_dir or train_short_run(work, args.steps)
    model, tokenizer, _ = load_merged(run_dir)
    prompts = [] if args.speed_only else dev_prompts(run_dir, args.prompts)
    answers = [] if args.speed_only else reference_answers(model, tokenizer, prompts, args.max_new_tokens)
    report: dict[str, Any] = {
        "run": str(run_dir),
        "llama_cpp_python": llama_cpp.__version__,
        "prompts": len(prompts),
        "max_new_tokens": args.max_new_tokens,
        "reference_stopped": f"{sum(a['stopped'] for a in answers)}/{len(answers)}" if answers else None,
        "load_average_1m_at_start": round(os.getloadavg()[0], 2),
        "quants": {},
    }
    files = {}
    for quant in args.quants.split(","):
        exported = export_gguf(run_dir, quant, work / f"gguf-{quant}")
        files[quant] = exported.path
        if args.speed_only:
            continue
        report["quants"][quant] = {"export_seconds": round(exported.seconds, 1)} | check_quant(
            exported.path, answers, tokenizer, args.max_new_tokens
        )
        print(json.dumps({quant: report["quants"][quant]}, indent=2), flush=True)
    if not args.no_speed:
        report["speed"] = speed(model, tokenizer, {q: p for q, p in files.items() if q != "f16"}, args.speed_tokens)
        print(json.dumps({"speed": report["speed"]}, indent=2), flush=True)
        del model
        report["server"] = server_overhead(run_dir, args.speed_tokens)
        print(json.dumps({"server": report["server"]}, indent=2), flush=True)
    report["seconds"] = round(time.perf_counter() - started, 1)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
