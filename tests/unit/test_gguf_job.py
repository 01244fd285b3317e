"""The GGUF export as a job: the Export tab queues `python -m builder.export.files gguf`, the web process
loads no model, the job is followed and stopped like a merge, and a stopped export leaves no file.

The export itself (merging the adapter, writing the tensors) is ``test_gguf_export``'s; here stand-ins
write small files so that the queue, the signals and the clean-up are the product's own, in seconds.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from builder.jobs.manager import JobManager
from builder.jobs.process import command_line, job_id
from builder.ui.common import AppContext
from tests.unit import test_jobs
from tests.unit.test_jobs import trained_run, wait_done, wait_for

manager = test_jobs.manager  # a fixture: the job manager with a stand-in trainer

# Stands in for `python -m builder.export.files gguf RUN --quant Q --out DIR`: the file and its Modelfile.
FAKE_GGUF = textwrap.dedent(
    """
    import os, sys
    run, quant, out = sys.argv[1], sys.argv[sys.argv.index("--quant") + 1], sys.argv[sys.argv.index("--out") + 1]
    os.makedirs(out, exist_ok=True)
    print(" 50%  blk.0.attn_q.weight -> Q4_0", flush=True)
    with open(os.path.join(out, os.path.basename(run) + "-" + quant + ".gguf"), "wb") as f:
        f.write(b"GGUF" + b"0" * 2_000_000)
    with open(os.path.join(out, "Modelfile"), "w") as f:
        f.write("FROM ./model.gguf\\nSYSTEM <b>not markup</b>\\n")
    """
)


def _no_model_here(*args: object, **kwargs: object) -> None:
    raise AssertionError("the web process loaded a model for a GGUF export")


def test_the_export_tab_queues_a_gguf_job_and_loads_no_model(
    manager: JobManager, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import builder.export.gguf
    import builder.export.merge
    from builder.ui.export_tab import gguf_view, start_gguf

    for module, name in [(builder.export.merge, "load_merged"), (builder.export.gguf, "load_merged")]:
        monkeypatch.setattr(module, name, _no_model_here)
    monkeypatch.setattr(builder.export.gguf, "export_gguf", _no_model_here)
    run_id = trained_run(manager, tmp_path)
    ctx = AppContext(runs_dir=manager.runs_dir, jobs=manager)
    # What the app runs by default: the export's command line in a process of its own.
    default = JobManager(tmp_path / "other", devices=["cpu"]).commands["gguf"]
    assert default == [sys.executable, "-m", "builder.export.files", "gguf"]

    manager.commands["gguf"] = [sys.executable, "-c", FAKE_GGUF]
    assert start_gguf(ctx, run_id, "q4_0", "en") is None
    job = manager.get(job_id(run_id, "gguf"))
    assert job is not None and job.kind == "gguf" and job.quant == "q4_0"
    out = manager.runs_dir / run_id / "exports" / "gguf-q4_0"
    assert command_line(job, default)[4:] == [job.run_dir, "--quant", "q4_0", "--out", str(out)]
    assert wait_done(manager, job.id) == "completed"
    said, modelfile, log = gguf_view(ctx, run_id, "en")
    assert f"`runs/{run_id}/exports/gguf-q4_0/{run_id}-q4_0.gguf` (2 MB, q4_0)" in said
    assert f"ollama create {run_id}" in said and "llama-server -m" in said
    assert "<b>not markup</b>" in modelfile and log is None  # the Modelfile is shown in a code box, as text
    assert str(manager.runs_dir) not in said  # the page never shows the server's folders

    assert "q9_9" in (start_gguf(ctx, run_id, "q9_9", "es") or "")  # not a quantization: nothing queued
    assert manager.get(job.id).state == "done"
    assert start_gguf(ctx, "no-such-run", "q8_0", "en") is not None


# The real GGUF command with `export_gguf` swapped for one that writes its file as the product does (a
# hidden file beside the target, renamed once whole) but slowly, so that the Stop button reaches it midway.
SLOW_GGUF = textwrap.dedent(
    """
    import sys, time
    import builder.export.files as export
    import builder.export.gguf as gguf
    from builder.run.rundir import atomic_path

    def slow_export(run_dir, quant, out_dir, progress):
        progress(0.1, "blk.0.attn_q.weight")
        with atomic_path(gguf.gguf_file(run_dir, quant, out_dir)) as tmp:
            tmp.write_bytes(b"GGUF" + b"0" * 4096)
            try:
                time.sleep(60)
            finally:
                time.sleep(1)  # a large file takes a while to remove: the job has not ended before that

    gguf.export_gguf = slow_export
    sys.exit(export.main(["gguf", *sys.argv[1:]]))
    """
)


def test_a_stopped_gguf_export_leaves_no_half_written_file(manager: JobManager, tmp_path: Path) -> None:
    from builder.ui.export_tab import gguf_view, start_gguf, stop_export

    run_id = trained_run(manager, tmp_path)
    ctx = AppContext(runs_dir=manager.runs_dir, jobs=manager)
    assert (
        stop_export(ctx, run_id, "gguf", "es")
        == "No hay ninguna exportación GGUF de esta ejecución en cola ni en curso."
    )
    manager.commands["gguf"] = [sys.executable, "-c", SLOW_GGUF]
    assert start_gguf(ctx, run_id, "f16", "en") is None
    out = manager.runs_dir / run_id / "exports" / "gguf-f16"
    wait_for(lambda: list(out.glob(".*.gguf.*")), what="the half-written GGUF file")
    said, _, log = gguf_view(ctx, run_id, "en")
    assert said == "running …" and "blk.0.attn_q.weight" in (log or ""), "the job's progress shows while it runs"
    assert (
        stop_export(ctx, run_id, "gguf", "en")
        == f"Stopping the GGUF export of `{run_id}`: no half-written file is left."
    )
    ident = job_id(run_id, "gguf")
    assert wait_done(manager, ident) == "stopped"
    assert list(out.iterdir()) == [], "neither the GGUF file nor its hidden half is left"
    assert "gguf stopped" in manager.log_path(manager.get(ident)).read_text()
    assert not [j for j in manager.jobs() if j.state == "running"], "the device is free for the next job"
