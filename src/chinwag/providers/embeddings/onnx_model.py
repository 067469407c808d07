"""A sentence-transformers model exported to ONNX, run on ONNX Runtime with the `tokenizers`
tokenizer (`CHINWAG_EMBEDDING_RUNTIME=onnx`, the default): no torch in the worker."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from chinwag.errors import EmbeddingModelUnavailable
from chinwag.providers.embeddings.model_files import OnnxFiles
from chinwag.providers.embeddings.pieces import Piece, piece_text, whole

BATCH_SIZE = 64


class OnnxModel:
    """Loaded on construction; called from one thread at a time.

    `files.model` computes the token embeddings (`last_hidden_state`) or the sentence
    embedding; the tokenizer, sequence length and pooling are the same model's."""

    def __init__(self, files: OnnxFiles, *, threads: int) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        if not files.model.is_file() or not files.tokenizer.is_file():
            raise EmbeddingModelUnavailable(
                f"the ONNX runtime needs {files.model.name} and tokenizer.json; "
                f"{files.model} or {files.tokenizer} is missing",
                hint="Set CHINWAG_EMBEDDING_RUNTIME=torch for a sentence-transformers directory "
                "without an ONNX export.",
            )
        self._tokenizer = Tokenizer.from_file(str(files.tokenizer))
        self._tokenizer.enable_truncation(files.max_tokens)
        self._tokenizer.enable_padding()  # to the longest text of each batch, not a fixed size
        self._cls_pooling = files.pooling == "cls"
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # EXTENDED folds the int8 weights' dequantisation once (measured: ~85 MB resident,
        # against ~145 MB with BASIC and ~200 MB with ALL, at the same speed).
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
        # Without the arena an ingest batch's buffers go back to the allocator afterwards.
        options.enable_cpu_mem_arena = False
        self._session = onnxruntime.InferenceSession(
            str(files.model), options, providers=["CPUExecutionProvider"]
        )
        self._inputs = {i.name for i in self._session.get_inputs()}
        self._dimension = int(self._session.get_outputs()[0].shape[-1])

    def dimension(self) -> int:
        return self._dimension

    def encode(self, texts: list[str]) -> NDArray[np.float32]:
        if len(texts) <= BATCH_SIZE:
            return self._forward(texts)
        # Ingestion: texts of similar length together, so that little padding is computed.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.empty((len(texts), self._dimension), dtype=np.float32)
        for start in range(0, len(order), BATCH_SIZE):
            rows = order[start : start + BATCH_SIZE]
            out[rows] = self._forward([texts[i] for i in rows])
        return out

    def encode_pieces(self, pieces: list[Piece]) -> NDArray[np.float32]:
        """One vector per piece, each distinct text run through the model once: a whole text
        as `encode` gives it, a part of one (a clause of a message) as the mean of the text's
        tokens inside the part, with the text's first and last tokens ([CLS], [SEP]) as the
        part would have them alone. Pieces of one text cost one forward pass, not one each."""
        texts = list(dict.fromkeys(text for text, _, _ in pieces))
        if len(texts) == len(pieces) and all(whole(p) for p in pieces):
            return self._forward(texts)
        encoded, mask, output = self._run(texts)
        if output.ndim == 2 or self._cls_pooling:  # no token vectors to pool parts from
            return self._forward([piece_text(p) for p in pieces])
        row = {text: i for i, text in enumerate(texts)}
        pooled = np.empty((len(pieces), output.shape[-1]), dtype=np.float32)
        for n, (text, start, end) in enumerate(pieces):
            i = row[text]
            weights = mask[i].astype(np.float32)
            if not whole((text, start, end)):
                weights = _part_weights(encoded[i], int(mask[i].sum()), start, end)
            pooled[n] = (output[i] * weights[:, None]).sum(axis=0) / max(weights.sum(), 1e-9)
        return _unit(pooled)

    def _forward(self, texts: list[str]) -> NDArray[np.float32]:
        _, mask, output = self._run(texts)
        if output.ndim == 2:  # the export pools already
            pooled = output
        elif self._cls_pooling:
            pooled = output[:, 0]
        else:  # mean of the real tokens, as sentence-transformers' Pooling layer
            weights = mask[..., None].astype(np.float32)
            pooled = (output * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        return _unit(pooled)

    def _run(self, texts: list[str]) -> tuple[list[Any], NDArray[np.int64], NDArray[np.float32]]:
        """The texts' encodings, attention mask and the model's output (token vectors)."""
        encoded = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encoded], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
        feed: dict[str, Any] = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feed["token_type_ids"] = np.zeros_like(ids)
        return encoded, mask, np.asarray(self._session.run(None, feed)[0], dtype=np.float32)


def _part_weights(encoding: Any, length: int, start: int, end: int) -> NDArray[np.float32]:
    """1 for the tokens of characters [start, end) of the text, its first and its last real
    token; 0 elsewhere (padding included)."""
    weights = np.zeros(len(encoding.ids), dtype=np.float32)
    for i, ((first, last), special) in enumerate(
        zip(encoding.offsets, encoding.special_tokens_mask, strict=True)
    ):
        if not special and first >= start and last <= end and last > first:
            weights[i] = 1.0
    weights[0] = weights[length - 1] = 1.0
    return weights


def _unit(pooled: NDArray[np.float32]) -> NDArray[np.float32]:
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    unit: NDArray[np.float32] = (pooled / np.maximum(norms, 1e-12)).astype(np.float32)
    return unit
