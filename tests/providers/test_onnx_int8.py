"""The embedded model's int8 tables and weights stay int8: nearly the same vectors, less memory."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest
from onnx import TensorProto, helper, numpy_helper

from chinwag.config.bot import EmbeddingConfig
from chinwag.providers.embeddings.model_files import onnx_files
from chinwag.providers.embeddings.onnx_int8 import rewrite, with_int8_kept
from chinwag.providers.embeddings.onnx_model import OnnxModel
from chinwag.providers.registry import ModelRegistry
from chinwag.settings import Settings

TEXTS = [
    "When are you open on Saturday?",
    "Har dere en rødvin under 200 kr?",
    "what's the price of Barolo 2019 and is it in stock",
    "x",
]


def test_the_rewritten_model_keeps_its_int8_values_and_gives_nearly_the_same_vectors(
    tmp_path: Path,
) -> None:
    files = onnx_files("all-MiniLM-L6-v2")
    shipped = files.model
    rewritten = with_int8_kept(shipped, tmp_path)
    assert rewritten != shipped and rewritten.parent == tmp_path

    graph = onnx.load(str(rewritten)).graph
    int8 = {i.name for i in graph.initializer if i.data_type == TensorProto.INT8}
    gathered = {n.input[0] for n in graph.node if n.op_type == "Gather"}
    assert "inner.embeddings.word_embeddings.weight_q" in int8 & gathered
    ops = [n.op_type for n in graph.node]
    assert ops.count("MatMulNBits") == 36  # 6 layers: query, key, value, output, 2 feed-forward
    assert ops.count("MatMul") == 12  # attention's own products, which have no weights
    folded = [n.input[0] for n in graph.node if n.op_type == "Cast" and n.input[0] in int8]
    assert folded == []  # no int8 constant left for ONNX Runtime to fold into an fp32 copy

    before = OnnxModel(files, threads=1).encode(TEXTS)
    after = OnnxModel(files.with_model(rewritten), threads=1).encode(TEXTS)
    cosines = (before * after).sum(axis=1)
    assert cosines.min() > 0.995, cosines  # a wrong layout or scale gives ~0
    similarities_before, similarities_after = before @ before.T, after @ after.T
    assert np.abs(similarities_before - similarities_after).max() < 0.01

    made = rewritten.stat().st_mtime_ns
    assert with_int8_kept(shipped, tmp_path) == rewritten  # from the cache
    assert rewritten.stat().st_mtime_ns == made


def test_tables_only_give_the_shipped_vectors_bit_for_bit(tmp_path: Path) -> None:
    """CHINWAG_EMBEDDING_WEIGHTS=fp32: only the tables are rewritten, the weights unpacked."""
    files = onnx_files("all-MiniLM-L6-v2")
    rewritten = with_int8_kept(files.model, tmp_path, weights=False)
    assert rewritten != with_int8_kept(files.model, tmp_path)  # each variant a file of its own

    ops = [n.op_type for n in onnx.load(str(rewritten)).graph.node]
    assert "MatMulNBits" not in ops and ops.count("MatMul") == 48
    before = OnnxModel(files, threads=1).encode(TEXTS)
    after = OnnxModel(files.with_model(rewritten), threads=1).encode(TEXTS)
    assert np.array_equal(before, after)  # the same operations on the same rows


async def test_the_setting_chooses_what_a_server_loads(tmp_path: Path) -> None:
    for weights, variant in (("int8", "int8w"), ("fp32", "rows")):
        settings = Settings(data_dir=tmp_path / weights, embedding_weights=weights)
        embedder = ModelRegistry(settings).embedder(EmbeddingConfig())
        try:
            vectors = await embedder.embed(["When are you open on Saturday?"])
        finally:
            await embedder.aclose()
        assert vectors.shape == (1, 384)
        cached = [p.name for p in (tmp_path / weights / "models").glob("*.onnx")]
        assert len(cached) == 1 and f"-{variant}-" in cached[0]


def test_a_model_without_a_dequantised_table_is_used_as_it_is(tmp_path: Path) -> None:
    plain = tmp_path / "plain.onnx"
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "plain", [x], [y])
    onnx.save(helper.make_model(graph), str(plain))
    cache = tmp_path / "cache"
    assert with_int8_kept(plain, cache) == plain
    assert [p.suffix for p in cache.iterdir()] == [".unchanged"]  # not looked at again


def test_a_model_that_cannot_be_rewritten_runs_as_shipped_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a model")
    with caplog.at_level(logging.WARNING):
        assert with_int8_kept(broken, tmp_path / "cache") == broken
    assert "could not be rewritten" in caplog.text and "60 MB more" in caplog.text


def test_a_cache_directory_that_cannot_be_made_runs_the_model_as_shipped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    shipped = onnx_files("all-MiniLM-L6-v2").model
    blocked = tmp_path / "a-file"
    blocked.write_text("not a directory")
    with caplog.at_level(logging.WARNING):
        assert with_int8_kept(shipped, blocked / "models") == shipped
    assert "could not be rewritten" in caplog.text


def _dequantised_matmul(path: Path, scale_shape: tuple[int, ...]) -> np.ndarray:
    """y = x @ (int8 W * scale), saved at `path`; returns the fp32 matrix it computes with."""
    rng = np.random.default_rng(7)
    values = rng.integers(-127, 128, size=(64, 64), dtype=np.int8)
    scale = rng.uniform(0.001, 0.01, size=scale_shape).astype(np.float32)
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 64])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 64])
    nodes = [
        helper.make_node("Cast", ["w_q"], ["w_f"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["w_f", "w_scale"], ["w"]),
        helper.make_node("MatMul", ["x", "w"], ["y"]),
    ]
    initializers = [
        numpy_helper.from_array(values, "w_q"),
        numpy_helper.from_array(scale, "w_scale"),
    ]
    graph = helper.make_graph(nodes, "dequantised", [x], [y], initializers)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return values.astype(np.float32) * scale


def test_a_matrix_with_a_scale_per_column_becomes_an_int8_matmul(tmp_path: Path) -> None:
    matrix = _dequantised_matmul(tmp_path / "plain.onnx", (1, 64))
    assert rewrite(tmp_path / "plain.onnx", tmp_path / "int8.onnx")
    assert [n.op_type for n in onnx.load(str(tmp_path / "int8.onnx")).graph.node] == ["MatMulNBits"]
    x = np.random.default_rng(8).normal(size=(5, 64)).astype(np.float32)
    session = onnxruntime.InferenceSession(str(tmp_path / "int8.onnx"))
    (y,) = session.run(None, {"x": x})
    expected = x @ matrix
    assert np.abs(y - expected).max() < 0.02 * np.abs(expected).max()


def test_a_matrix_with_a_scale_per_row_is_left_to_onnx_runtime(tmp_path: Path) -> None:
    """MatMulNBits scales columns; a scale per row (per input value) must not pass for one,
    even when the matrix is square."""
    _dequantised_matmul(tmp_path / "plain.onnx", (64, 1))
    assert not rewrite(tmp_path / "plain.onnx", tmp_path / "int8.onnx")
