"""The device a run trains on: what it is, how much memory a run may use, how fast it multiplies.

``present_device`` describes this machine (measuring a matmul's FLOP/s and, with bitsandbytes, the NF4
dequantization rate, each cached per process); ``gpu`` stands for a card of a given size in the capacity
table. The capacity estimate (``builder.models.capacity``) and the trainer's bf16 choice read it.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from builder.config.recipe import TrainingConfig

GiB = 1024**3


@dataclass(frozen=True)
class Device:
    kind: str  # "cpu" or "cuda"
    name: str
    memory_bytes: int  # what a run may use: available RAM on the CPU, the card's memory on a GPU
    native_bf16: bool
    flops: float | None = None  # sustained matmul FLOP/s in the compute dtype; None: no time estimate
    dequant_per_s: float | None = None  # 4-bit weights dequantized per second (CPU)

    @property
    def label(self) -> str:
        return f"{self.name} ({self.memory_bytes / GiB:.1f} GB)"


def cpu_flags() -> set[str]:
    """The CPU's feature flags from /proc/cpuinfo (x86 ``flags``, Arm ``Features``); empty elsewhere."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith(("flags", "Features")):
            return set(line.split(":", 1)[1].split())
    return set()


def cpu_native_bf16(flags: set[str] | None = None) -> bool:
    """bf16 arithmetic in hardware: AVX512-BF16 or AMX on x86, BF16 on Arm. oneDNN emulates it elsewhere."""
    flags = cpu_flags() if flags is None else flags
    return bool(flags & {"avx512_bf16", "amx_bf16", "bf16"})


def cpu_autocast_bf16(training: TrainingConfig) -> bool:
    """Whether a CPU run trains under bf16 autocast: ``training.cpu_bf16`` true, false, or auto (native only)."""
    if training.cpu_bf16 == "auto":
        return cpu_native_bf16()
    return bool(training.cpu_bf16)


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "CPU"


def _best_seconds(work: Callable[[], object], repeats: int) -> float:
    """The fastest of ``repeats`` timed calls of ``work``, after one untimed warm-up call."""
    import time

    work()
    best = math.inf
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - started)
    return best


@functools.lru_cache(maxsize=4)
def measure_cpu_flops(threads: int, dtype_name: str = "float32") -> float:
    """FLOP/s of a 1024-square matmul on this CPU with ``threads`` threads (about a quarter of a second)."""
    import torch

    dtype = getattr(torch, dtype_name)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        a, b = torch.randn(1024, 1024, dtype=dtype), torch.randn(1024, 1024, dtype=dtype)
        best = _best_seconds(lambda: torch.mm(a, b), repeats=5)
    finally:
        torch.set_num_threads(before)
    return 2 * 1024**3 / best


@functools.lru_cache(maxsize=2)
def measure_dequant_per_s() -> float | None:
    """NF4 weights bitsandbytes dequantizes per second on this CPU (None without bitsandbytes)."""
    import torch

    try:
        import bitsandbytes.functional as bnbf
    except ImportError:
        return None
    weight = torch.randn(1024, 2048)
    packed, state = bnbf.quantize_4bit(weight, quant_type="nf4", compress_statistics=True)
    return weight.numel() / _best_seconds(lambda: bnbf.dequantize_4bit(packed, state), repeats=3)


def present_device(memory_limit_bytes: int | None = None, *, measure: bool = True) -> Device:
    """This machine's device; ``memory_limit_bytes`` caps what a run may use (a test, a shared machine)."""
    import torch

    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        memory = props.total_memory
        device = Device("cuda", props.name, memory, torch.cuda.is_bf16_supported())
    else:
        import psutil

        threads = torch.get_num_threads()
        flops = measure_cpu_flops(threads) if measure else None
        dequant = measure_dequant_per_s() if measure else None
        memory = psutil.virtual_memory().available
        device = Device("cpu", f"{_cpu_name()}, {threads} threads", memory, cpu_native_bf16(), flops, dequant)
    if memory_limit_bytes is not None:
        device = replace(device, memory_bytes=min(device.memory_bytes, memory_limit_bytes))
    return device


def gpu(memory_gb: int) -> Device:
    """A GPU of ``memory_gb`` GB with bf16, for the "which card would do" table (no time figure)."""
    return Device("cuda", f"GPU {memory_gb} GB", memory_gb * GiB, True)


def peak_memory_bytes() -> int:
    """This process's peak: resident memory on the CPU (VmHWM), allocated memory on a GPU."""
    import sys

    import torch

    if torch.cuda.is_available():
        return int(torch.cuda.max_memory_allocated())
    if sys.platform.startswith("linux"):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    import resource

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024
