"""The embedded model's int8 word-embedding table stays int8: the same vectors, less memory."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from chinwag.providers.embeddings.model_files import onnx_files
from chinwag.providers.embeddings.onnx_model import OnnxModel
from chinwag.providers.embeddings.onnx_rows import with_rows_gathered_first

TEXTS = [
    "When are you open on Saturday?",
    "Har dere en rødvin under 200 kr?",
    "what's the price of Barolo 2019 and is it in stock",
    "x",
]


def test_the_rewritten_model_gives_the_same_vectors_with_its_tables_gathered_as_int8(
    tmp_path: Path,
) -> None:
    files = onnx_files("all-MiniLM-L6-v2")
    shipped = files.model
    rewritten = with_rows_gathered_first(shipped, tmp_path)
    assert rewritten != shipped and rewritten.parent == tmp_path

    graph = onnx.load(str(rewritten)).graph
    int8 = {i.name for i in graph.initializer if i.data_type == TensorProto.INT8}
    gathered = {n.input[0] for n in graph.node if n.op_type == "Gather"}
    assert "inner.embeddings.word_embeddings.weight_q" in int8 & gathered

    before = OnnxModel(files, threads=1).encode(TEXTS)
    after = OnnxModel(files.with_model(rewritten), threads=1).encode(TEXTS)
    assert np.array_equal(before, after)  # bit for bit: the same operations on the same rows

    made = rewritten.stat().st_mtime_ns
    assert with_rows_gathered_first(shipped, tmp_path) == rewritten  # from the cache
    assert rewritten.stat().st_mtime_ns == made


def test_a_model_without_a_dequantised_table_is_used_as_it_is(tmp_path: Path) -> None:
    plain = tmp_path / "plain.onnx"
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "plain", [x], [y])
    onnx.save(helper.make_model(graph), str(plain))
    cache = tmp_path / "cache"
    assert with_rows_gathered_first(plain, cache) == plain
    assert [p.suffix for p in cache.iterdir()] == [".unchanged"]  # not looked at again


def test_a_model_that_cannot_be_rewritten_runs_as_shipped_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a model")
    with caplog.at_level(logging.WARNING):
        assert with_rows_gathered_first(broken, tmp_path / "cache") == broken
    assert "could not be rewritten" in caplog.text and "35 MB more" in caplog.text


def test_a_cache_directory_that_cannot_be_made_runs_the_model_as_shipped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    shipped = onnx_files("all-MiniLM-L6-v2").model
    blocked = tmp_path / "a-file"
    blocked.write_text("not a directory")
    with caplog.at_level(logging.WARNING):
        assert with_rows_gathered_first(shipped, blocked / "models") == shipped
    assert "could not be rewritten" in caplog.text
