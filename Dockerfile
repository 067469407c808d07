# syntax=docker/dockerfile:1
# The chinwag server, built from this repository:   docker build -t chinwag .
# How to run it (PostgreSQL, Redis, several containers behind nginx): docs/deployment.md.
# Needs BuildKit (Docker 23+, or DOCKER_BUILDKIT=1; podman and buildah read it too).

ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG NODE_IMAGE=node:20-bookworm-slim

# 1. The admin console's front-end libraries, exactly as package-lock.json pins them.
FROM ${NODE_IMAGE} AS console
WORKDIR /build
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund

# 2. Wheels of chinwag and every dependency. llama-cpp-python (the embedded local model) is a
#    source distribution only: pip compiles llama.cpp here, with a C/C++ compiler and CMake.
#    GGML_NATIVE=OFF builds for any x86-64 (or arm64) CPU instead of the build machine's own,
#    which could stop the image with "illegal instruction" on another host; LLAVA_BUILD=OFF
#    leaves out the image library (mtmd) that chinwag never loads. No torch: the embedding
#    model runs on ONNX Runtime (the torch runtime is the extra chinwag[torch]).
FROM ${PYTHON_IMAGE} AS wheels
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential cmake \
    && rm -rf /var/lib/apt/lists/*
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    CMAKE_ARGS="-DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF"
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip wheel --wheel-dir /wheels .

# 3. The image: Python, the installed wheels, node_modules; no compiler, no npm.
FROM ${PYTHON_IMAGE}
# libgomp1: llama.cpp's OpenMP runtime.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --home-dir /var/lib/chinwag --create-home \
        --shell /usr/sbin/nologin chinwag
RUN --mount=type=bind,from=wheels,source=/wheels,target=/wheels \
    python -m venv /opt/chinwag/venv \
    && /opt/chinwag/venv/bin/pip install --no-cache-dir --no-index --find-links /wheels chinwag
COPY --from=console /build/node_modules /opt/chinwag/node_modules

ENV PATH=/opt/chinwag/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    HOME=/var/lib/chinwag \
    CHINWAG_DATA_DIR=/var/lib/chinwag \
    CHINWAG_CONSOLE_NODE_MODULES=/opt/chinwag/node_modules \
    CHINWAG_HOST=0.0.0.0 \
    CHINWAG_PORT=8000
WORKDIR /var/lib/chinwag
VOLUME /var/lib/chinwag
USER chinwag
EXPOSE 8000

# Alive, not ready: /readyz (database, schema, LLM servers, indexes) is for the load balancer.
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('CHINWAG_PORT', '8000'), timeout=2)"]

# SIGTERM drains (docs/deployment.md, "Stopping and rolling restarts"): give it time to,
# with `docker stop --time 75` or compose's `stop_grace_period: 75s`.
STOPSIGNAL SIGTERM
ENTRYPOINT ["chinwag"]
CMD ["serve"]
