"""A fake Pinecone (control and data plane) over real HTTP, for the official SDK in tests.

with FakePinecone() as fake:          # serves on 127.0.0.1, a free port, in a thread
    pc = Pinecone(api_key="k", host=fake.base_url)

It keeps indexes in memory, answers 404 like Pinecone for a missing index, and implements the
calls chinwag makes: create/describe/delete/list indexes; upsert, query (cosine, metadata
filters with $eq/$in/$and), delete by ids, list ids by prefix, fetch, describe_index_stats.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from chinwag.testing.server import ThreadedServer


@dataclass
class _Index:
    name: str
    dimension: int
    schema: dict[str, Any]
    deployment: dict[str, Any]
    vectors: dict[str, tuple[list[float], dict[str, Any]]] = field(default_factory=dict)


def _not_found(what: str) -> Response:
    body = {"error": {"code": "NOT_FOUND", "message": f"Resource {what} not found"}, "status": 404}
    return JSONResponse(body, status_code=404)


def _matches(metadata: dict[str, Any], condition: dict[str, Any]) -> bool:
    for key, test in condition.items():
        if key == "$and":
            if not all(_matches(metadata, c) for c in test):
                return False
            continue
        value = metadata.get(key)
        values = value if isinstance(value, list) else [value]
        ops = test if isinstance(test, dict) else {"$eq": test}
        for op, expected in ops.items():
            if op == "$eq" and expected not in values:
                return False
            if op == "$in" and not set(values) & set(expected):
                return False
            if op == "$ne" and expected in values:
                return False
    return True


class FakePinecone(ThreadedServer):
    """Runs the fake in a background thread; `indexes` is its whole state."""

    def __init__(self, api_key: str = "test-key") -> None:
        self.api_key = api_key
        self.indexes: dict[str, _Index] = {}
        self._lock = threading.Lock()
        super().__init__()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    def app(self) -> Starlette:
        data = "/data/{index}"
        return Starlette(
            routes=[
                Route("/indexes", self._list, methods=["GET"]),
                Route("/indexes", self._create, methods=["POST"]),
                Route("/indexes/{name}", self._describe, methods=["GET"]),
                Route("/indexes/{name}", self._delete_index, methods=["DELETE"]),
                Route(f"{data}/vectors/upsert", self._upsert, methods=["POST"]),
                Route(f"{data}/query", self._query, methods=["POST"]),
                Route(f"{data}/vectors/delete", self._delete, methods=["POST"]),
                Route(f"{data}/vectors/list", self._list_ids, methods=["GET"]),
                Route(f"{data}/vectors/fetch", self._fetch, methods=["GET"]),
                Route(f"{data}/describe_index_stats", self._stats, methods=["POST"]),
            ]
        )

    def _authorised(self, request: Request) -> bool:
        return request.headers.get("api-key") == self.api_key

    def _model(self, index: _Index) -> dict[str, Any]:
        return {
            "name": index.name,
            "status": {"ready": True, "state": "Ready"},
            "schema": index.schema,
            "deployment": index.deployment,
            "deletion_protection": "disabled",
            "host": f"{self.base_url}/data/{index.name}",
        }

    async def _guard(self, request: Request) -> tuple[_Index | None, Response | None]:
        if not self._authorised(request):
            return None, JSONResponse({"error": {"code": "UNAUTHENTICATED"}}, status_code=401)
        name = request.path_params.get("index") or request.path_params["name"]
        index = self.indexes.get(name)
        return index, None if index is not None else _not_found(name)

    async def _list(self, request: Request) -> Response:
        return JSONResponse({"indexes": [self._model(i) for i in self.indexes.values()]})

    async def _create(self, request: Request) -> Response:
        body = orjson.loads(await request.body())
        name = body["name"]
        if name in self.indexes:
            return JSONResponse(
                {"error": {"code": "ALREADY_EXISTS", "message": "exists"}, "status": 409},
                status_code=409,
            )
        dense = body["schema"]["fields"]["_values"]
        index = _Index(name, int(dense["dimension"]), body["schema"], body["deployment"])
        self.indexes[name] = index
        return JSONResponse(self._model(index), status_code=201)

    async def _describe(self, request: Request) -> Response:
        index, error = await self._guard(request)
        return error or JSONResponse(self._model(index))  # type: ignore[arg-type]

    async def _delete_index(self, request: Request) -> Response:
        index, error = await self._guard(request)
        if error is not None or index is None:
            return error or _not_found("")
        del self.indexes[index.name]
        return Response(status_code=202)

    async def _upsert(self, request: Request) -> Response:
        index, error = await self._guard(request)
        if error is not None or index is None:
            return error or _not_found("")
        vectors = orjson.loads(await request.body())["vectors"]
        for v in vectors:
            if len(v["values"]) != index.dimension:
                message = (
                    f"Vector dimension {len(v['values'])} does not match the dimension of "
                    f"the index {index.dimension}"
                )
                return JSONResponse(
                    {"error": {"code": "INVALID_ARGUMENT", "message": message}, "status": 400},
                    status_code=400,
                )
        with self._lock:
            for v in vectors:
                index.vectors[v["id"]] = (v["values"], v.get("metadata") or {})
        return JSONResponse({"upsertedCount": len(vectors)})

    async def _query(self, request: Request) -> Response:
        index, error = await self._guard(request)
        if error is not None or index is None:
            return error or _not_found("")
        body = orjson.loads(await request.body())
        query = np.asarray(body["vector"], dtype=np.float64)
        condition = body.get("filter") or {}
        with self._lock:
            items = [(i, v, m) for i, (v, m) in index.vectors.items() if _matches(m, condition)]
        scored = []
        for vector_id, values, metadata in items:
            vector = np.asarray(values, dtype=np.float64)
            norm = float(np.linalg.norm(vector) * np.linalg.norm(query)) or 1.0
            scored.append((float(vector @ query) / norm, vector_id, metadata))
        scored.sort(key=lambda s: s[0], reverse=True)
        matches = [
            {"id": i, "score": s, **({"metadata": m} if body.get("includeMetadata") else {})}
            for s, i, m in scored[: body["topK"]]
        ]
        return JSONResponse({"matches": matches, "namespace": "", "usage": {"readUnits": 1}})

    async def _delete(self, request: Request) -> Response:
        index, error = await self._guard(request)
        if error is not None or index is None:
            return error or _not_found("")
        body = orjson.loads(await request.body())
        with self._lock:
            for vector_id in body.get("ids") or []:
                index.vectors.pop(vector_id, None)
        return JSONResponse({})

    async def _list_ids(self, request: Request) -> Response:
        index, error = await self._guard(request)
        if error is not None or index is None:
            return error or _not_found("")
        prefix = request.query_params.get("prefix", "")
        limit = int(request.query_params.get("limit", "100"))
        start = int(request.query_params.get("paginationToken", "0"))
        ids = sorted(i for i in index.vectors if i.startswith(prefix))
        page = ids[start : start + limit]
        body: dict[str, Any] = {"vectors": [{"id": i} for i in page], "namespace": ""}
        if start + limit < len(ids):
            body["pagination"] = {"next": str(start + limit)}
        return JSONResponse(body)

    async def _fetch(self, request: Request) -> Response:
        index, error = await self._guard(request)
        if error is not None or index is None:
            return error or _not_found("")
        ids = request.query_params.getlist("ids")
        found = {
            i: {"id": i, "values": index.vectors[i][0], "metadata": index.vectors[i][1]}
            for i in ids
            if i in index.vectors
        }
        return JSONResponse({"vectors": found, "namespace": "", "usage": {"readUnits": 1}})

    async def _stats(self, request: Request) -> Response:
        index, error = await self._guard(request)
        if error is not None or index is None:
            return error or _not_found("")
        count = len(index.vectors)
        return JSONResponse(
            {
                "dimension": index.dimension,
                "totalVectorCount": count,
                "indexFullness": 0.0,
                "namespaces": {"": {"vectorCount": count}} if count else {},
            }
        )
