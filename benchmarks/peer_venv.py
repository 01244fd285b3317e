"""LLaMA-Factory in a virtual environment of its own, outside the product's dependencies.

``ensure_venv`` creates ``~/.cache/builder-bench/llamafactory-0.9.5`` (or ``$BUILDER_PEER_VENV``) once:
``pip install torch==2.13.0`` first (the CPU build this machine's pip finds), then ``llamafactory==0.9.5``
and ``bitsandbytes`` (its 4-bit path) from PyPI with torch held at that version, so that the resolver
cannot pull another torch build. Every step's command and its output tail are kept, so a failure says
exactly what failed. The product's venv and pyproject.toml are never touched.

One departure, forced: PyPI's torchvision 0.28.0 and torchaudio 2.11.1 (the newest, PyPI has none for
torch 2.13) are CUDA builds; against the CPU build of torch their compiled parts do not load
("operator torchvision::nms does not exist"; ``_torchaudio.so``: "libc10_cuda.so: cannot open shared
object file"), and a torchvision that fails to load makes ``from transformers import PreTrainedModel``
fail. Their CPU builds live on download.pytorch.org, which this machine cannot reach. So both are
uninstalled after the install: transformers then runs without them, and LLaMA-Factory, which only
uses torchaudio to read audio inputs (``data/mm_plugin.py``) but imports it at module level, gets an
empty stand-in module from the driver (``benchmarks.peer_llamafactory_driver``).

    python -m benchmarks.peer_venv      # create it (or check it), print where it is and its versions
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import venv
from pathlib import Path
from typing import Any

LLAMAFACTORY = "llamafactory==0.9.5"
TORCH = "torch==2.13.0"
BITSANDBYTES = "bitsandbytes==0.50.2"  # the product's own version: the same 4-bit kernels on both sides
UNLOADABLE = ("torchvision", "torchaudio")
VENV = Path(os.environ.get("BUILDER_PEER_VENV") or Path.home() / ".cache" / "builder-bench" / "llamafactory-0.9.5")
DRIVER = Path(__file__).with_name("peer_llamafactory_driver.py")  # its --check imports LLaMA-Factory's trainer


class PeerInstallError(RuntimeError):
    """The peer could not be installed; ``steps`` holds each command run and its output tail."""

    def __init__(self, message: str, steps: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.steps = steps


def python_of(venv_dir: Path) -> Path:
    return venv_dir / "bin" / "python"


def _run(cmd: list[str], steps: list[dict[str, Any]], timeout: float = 1800) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    steps.append(
        {"command": " ".join(cmd), "returncode": done.returncode, "output_tail": (done.stdout + done.stderr)[-3000:]}
    )
    return done


def installed_versions(venv_dir: Path = VENV) -> dict[str, str] | None:
    """The peer venv's package versions, or None when it is missing or llamafactory does not import."""
    python = python_of(venv_dir)
    if not python.exists():
        return None
    done = subprocess.run(
        [str(python), str(DRIVER), "--check"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "DISABLE_VERSION_CHECK": "1"},
    )
    if done.returncode != 0:
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def ensure_venv(venv_dir: Path = VENV, log: Any = print) -> dict[str, Any]:
    """Create the peer venv if it is not there yet; returns its versions and the install steps run."""
    versions = installed_versions(venv_dir)
    if versions is not None:
        return {"venv": str(venv_dir), "versions": versions, "installed_now": False}
    steps: list[dict[str, Any]] = []
    log(f"peer: creating {venv_dir} ({TORCH}, then {LLAMAFACTORY} and {BITSANDBYTES} from PyPI)")
    venv.create(venv_dir, with_pip=True, clear=True)
    pip = [str(python_of(venv_dir)), "-m", "pip", "install", "--no-input"]
    if _run([*pip, TORCH], steps).returncode != 0:
        raise PeerInstallError(f"pip install {TORCH} failed in {venv_dir}", steps)
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as pins:
        pins.write(TORCH + "\n")  # torchvision/torchaudio must fit this torch, not bring their own
    if _run([*pip, "-c", pins.name, LLAMAFACTORY, BITSANDBYTES], steps).returncode != 0:
        raise PeerInstallError(f"pip install {LLAMAFACTORY} failed in {venv_dir}", steps)
    Path(pins.name).unlink(missing_ok=True)
    # CUDA builds that cannot load against the CPU torch (see the module docstring); text SFT needs neither.
    if _run([*pip[:-2], "uninstall", "-y", *UNLOADABLE], steps).returncode != 0:
        raise PeerInstallError(f"pip uninstall {' '.join(UNLOADABLE)} failed in {venv_dir}", steps)
    versions = installed_versions(venv_dir)
    if versions is None:
        check = _run([str(python_of(venv_dir)), str(DRIVER), "--check"], steps)
        raise PeerInstallError(f"llamafactory installed but does not import: {check.stderr[-500:]}", steps)
    return {"venv": str(venv_dir), "versions": versions, "installed_now": True, "install_steps": steps}


def main() -> int:
    try:
        print(json.dumps(ensure_venv(), indent=2))
    except PeerInstallError as err:
        print(json.dumps({"error": str(err), "steps": err.steps}, indent=2))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
