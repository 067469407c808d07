"""An int8 ONNX export whose int8 weights stay int8 in memory.

The packaged all-MiniLM-L6-v2 export stores its weights as int8 with fp32 scales and
dequantises them in the graph (Cast, then Mul) before use. ONNX Runtime folds each of those
constants into an fp32 copy, ~60 MB more per worker than the int8 values. Two rewrites keep them
int8:

- **Embedding tables** (Gather over a dequantised table): the int8 rows and their scales are
  gathered first, then only the rows a batch uses are dequantised. The same numbers bit for
  bit; the word table stays 12 MB instead of 47.
- **Weight matrices** (MatMul by a dequantised matrix with a scale per column), with
  `CHINWAG_EMBEDDING_WEIGHTS=int8`: each becomes a `MatMulNBits` node with 8-bit weights, the
  same int8 values and scales, computed by ONNX Runtime's int8 kernel (`accuracy_level` 4:
  activations quantised in blocks of 32). The vectors move by less than the int8 export itself
  differs from the fp32 model (measured in bench/HISTORY.md, 2026-12-07), and a worker holds
  ~25-30 MB less. On the CPUs measured (AVX2 without VNNI) the int8 kernel is never faster than
  fp32: about as fast for a message alone on one, twice as slow on another (AMD EPYC of the
  first generation), and 40% or more slower for a batch. So the default (`fp32`) rewrites the
  tables only and lets ONNX Runtime unpack the weights.

Rewriting the graph needs the `onnx` package (~30 MB once imported), so it runs once in a child
process (`python -m chinwag.providers.embeddings.onnx_int8 SOURCE TARGET [--tables-only]`) and
the result is
kept in a cache directory under the source file's hash. A model with nothing to rewrite is used
as it is.
"""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

REWRITTEN = "rewritten"
UNCHANGED = "unchanged"  # nothing dequantised in the graph: the source serves as it is
CHILD_TIMEOUT_SECONDS = 120
# Part of the cache file's name: a rewrite never reuses another one's output.
WITH_WEIGHTS, TABLES_ONLY = "int8w", "rows"
TABLES_ONLY_FLAG = "--tables-only"
WEIGHT_BLOCK = 32  # activations quantised per 32 values: error ~0.0001 in cosine, as fast as 64
INT8_ACCURACY_LEVEL = 4  # MatMulNBits computes with int8 (0-1 would dequantise every call)


def with_int8_kept(source: Path, cache_dir: Path, *, weights: bool = True) -> Path:
    """The model file to load: the cached rewrite of `source` (its tables, and with `weights`
    its weight matrices, kept int8), made now if needed, or `source` itself when it has nothing
    dequantised (or, logged, when the rewrite failed)."""
    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:16]
    variant = WITH_WEIGHTS if weights else TABLES_ONLY
    target = cache_dir / f"{source.stem}-{variant}-{digest}.onnx"
    unchanged = target.with_suffix(".unchanged")
    if target.is_file():
        return target
    if unchanged.is_file():
        return source
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        child = subprocess.run(
            [sys.executable, "-m", __name__, str(source), str(target)]
            + ([] if weights else [TABLES_ONLY_FLAG]),
            capture_output=True,
            text=True,
            timeout=CHILD_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:  # e.g. a read-only data directory
        _as_shipped(source, f"{type(exc).__name__}: {exc}")
        return source
    outcome = child.stdout.strip()
    if child.returncode == 0 and outcome == REWRITTEN and target.is_file():
        log.info("embedding model: int8 tables and weights kept int8 (%s)", target)
        return target
    if child.returncode == 0 and outcome == UNCHANGED:
        unchanged.touch()
        return source
    _as_shipped(source, (child.stderr.strip().splitlines() or [f"exit {child.returncode}"])[-1])
    return source


def _as_shipped(source: Path, why: str) -> None:
    log.warning(
        "embedding model %s could not be rewritten to keep its int8 weights (%s); it runs as "
        "shipped, with ~60 MB more resident memory",
        source,
        why,
    )


def rewrite(source: Path, target: Path, *, weights: bool = True) -> bool:
    """Write `source` with its dequantised tables gathered as int8 and, with `weights`, its
    dequantised weight matrices as 8-bit `MatMulNBits`; False if there is nothing to change."""
    import onnx

    model = onnx.load(str(source))
    graph = model.graph
    rewritten = _gather_rows_first(graph) + (_int8_matmuls(graph) if weights else 0)
    if not rewritten:
        return False
    if not any(o.domain == "com.microsoft" for o in model.opset_import):
        model.opset_import.append(onnx.helper.make_opsetid("com.microsoft", 1))
    partial = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    onnx.save(model, str(partial))
    partial.replace(target)  # atomic: workers starting together never load half a file
    return True


def _fed_dequantised(graph: Any, op_type: str, index: int) -> Iterator[tuple[Any, Any]]:
    """The nodes of `op_type` whose input `index` is a dequantised constant, each with what
    `_dequantised` found; looked up as the caller rewrites the graph."""
    for node in [n for n in graph.node if n.op_type == op_type]:
        found = _dequantised(graph, node.input[index])
        if found is not None:
            yield node, found


def _dequantised(graph: Any, name: str) -> tuple[Any, Any, Any, Any] | None:
    """(mul, cast, int8 initializer, scale initializer) when `name` is Mul(Cast(int8), scale)
    of constants used nowhere else; None otherwise."""
    import onnx

    initializers = {i.name: i for i in graph.initializer}
    producers = {out: node for node in graph.node for out in node.output}
    mul = producers.get(name)
    cast = producers.get(mul.input[0]) if mul is not None and mul.op_type == "Mul" else None
    if mul is None or cast is None or cast.op_type != "Cast":
        return None
    values, scale = initializers.get(cast.input[0]), initializers.get(mul.input[1])
    if values is None or scale is None or values.data_type != onnx.TensorProto.INT8:
        return None
    uses = [i for node in graph.node for i in node.input]
    if uses.count(name) != 1 or uses.count(cast.output[0]) != 1:
        return None  # the fp32 constant is used elsewhere too: folding it is right there
    return mul, cast, values, scale


def _gather_rows_first(graph: Any) -> int:
    """Each Gather over a dequantised table becomes a Gather of the int8 rows (and of their
    per-row scales), then Cast and Mul."""
    from onnx import numpy_helper

    rewritten = 0
    for gather, (mul, cast, table, scale) in _fed_dequantised(graph, "Gather", 0):
        scales = numpy_helper.to_array(scale)
        per_row = list(scales.shape) == [table.dims[0], 1]
        axis = next((a.i for a in gather.attribute if a.name == "axis"), 0)
        if axis != 0 or not (per_row or scales.size == 1):
            continue
        _replace(graph, gather, [mul, cast], _gather_then_dequantise(gather, table, scale, per_row))
        rewritten += 1
    return rewritten


def _gather_then_dequantise(gather: Any, table: Any, scale: Any, per_row: bool) -> list[Any]:
    """Nodes computing `gather`'s output from the int8 table: its rows, cast, times scales."""
    from onnx import TensorProto, helper

    out, ids = gather.output[0], gather.input[1]
    rows, floats, scales = f"{out}_int8_rows", f"{out}_rows", f"{out}_row_scales"
    nodes = [
        helper.make_node("Gather", [table.name, ids], [rows], axis=0),
        helper.make_node("Cast", [rows], [floats], to=TensorProto.FLOAT),
    ]
    if per_row:
        nodes.append(helper.make_node("Gather", [scale.name, ids], [scales], axis=0))
    nodes.append(helper.make_node("Mul", [floats, scales if per_row else scale.name], [out]))
    return nodes


def _int8_matmuls(graph: Any) -> int:
    """Each MatMul by a dequantised [K, N] matrix with one scale per column (or one for all)
    becomes MatMulNBits over the same int8 values: stored as uint8 + 128 (its default zero
    point), transposed to [N, blocks, 32], each column's scale repeated for its blocks."""
    import numpy as np
    from onnx import helper, numpy_helper

    rewritten = 0
    for matmul, (mul, cast, values, scale) in _fed_dequantised(graph, "MatMul", 1):
        weights = numpy_helper.to_array(values)
        scales = numpy_helper.to_array(scale).astype(np.float32)
        if weights.ndim != 2:
            continue
        k, n = weights.shape
        if scales.size != 1 and scales.shape not in ((1, n), (n,)):
            continue  # a scale per row of the matrix (per input value) is not MatMulNBits'
        blocks = -(-k // WEIGHT_BLOCK)
        stored = (weights.astype(np.int16) + 128).astype(np.uint8).T  # [N, K]
        stored = np.pad(stored, ((0, 0), (0, blocks * WEIGHT_BLOCK - k)), constant_values=128)
        column_scales = np.broadcast_to(scales.reshape(-1), (n,))
        name = values.name
        graph.initializer.append(
            numpy_helper.from_array(stored.reshape(n, blocks, WEIGHT_BLOCK), f"{name}_u8")
        )
        graph.initializer.append(
            numpy_helper.from_array(np.repeat(column_scales, blocks), f"{name}_block_scales")
        )
        node = helper.make_node(
            "MatMulNBits",
            [matmul.input[0], f"{name}_u8", f"{name}_block_scales"],
            list(matmul.output),
            domain="com.microsoft",
            K=k,
            N=n,
            bits=8,
            block_size=WEIGHT_BLOCK,
            accuracy_level=INT8_ACCURACY_LEVEL,
        )
        _replace(graph, matmul, [mul, cast], [node])
        graph.initializer.remove(values)
        graph.initializer.remove(scale)
        rewritten += 1
    return rewritten


def _replace(graph: Any, node: Any, feeding: list[Any], new: list[Any]) -> None:
    """`new` in `node`'s place; `node` and the nodes that only fed it gone."""
    for old in feeding:
        graph.node.remove(old)
    position = list(graph.node).index(node)
    graph.node.remove(node)
    for offset, replacement in enumerate(new):
        graph.node.insert(position + offset, replacement)


if __name__ == "__main__":
    only_tables = sys.argv[3:] == [TABLES_ONLY_FLAG]
    changed = rewrite(Path(sys.argv[1]), Path(sys.argv[2]), weights=not only_tables)
    print(REWRITTEN if changed else UNCHANGED)
