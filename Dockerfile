# syntax=docker/dockerfile:1
# One image for every process of shopstream; the first argument names the role:
#   gateway | worker [saga notifications] | projector | delivery [channels]
#   carrier-simulator | dlq-watch | operator [args] | migrate
# Build: `make image` (buildah, no daemon). BASE is any Debian 12: `make image` passes the
# mmdebstrap-made local one, elsewhere debian:bookworm-slim serves.
ARG BASE=debian:bookworm-slim

FROM ${BASE} AS python
# Debian 12's Python 3.11 (the interpreter the lock is resolved for); versions follow
# bookworm's security updates, so they are not pinned here.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 ca-certificates \
 && rm -rf /var/lib/apt/lists/*

FROM python AS build
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3-venv \
 && rm -rf /var/lib/apt/lists/*
# uv from PyPI at the version bootstrap.sh uses; it installs the runtime lock, hashes checked.
# The optional build secret `cacerts` is a CA bundle to trust for these downloads (a network
# whose egress re-signs TLS); it is never part of a layer.
COPY requirements-runtime.lock /tmp/requirements-runtime.lock
RUN --mount=type=secret,id=cacerts \
    if [ -s /run/secrets/cacerts ]; then export SSL_CERT_FILE=/run/secrets/cacerts; \
      export PIP_CERT=/run/secrets/cacerts; fi \
 && python3 -m venv /opt/uv \
 && /opt/uv/bin/pip install --quiet --no-cache-dir uv==0.13.9 \
 && /opt/uv/bin/uv venv --quiet --python /usr/bin/python3 /opt/venv \
 && /opt/uv/bin/uv pip sync --quiet --no-cache --require-hashes --compile-bytecode \
      --python /opt/venv/bin/python /tmp/requirements-runtime.lock
COPY shopstream /app/shopstream
COPY stack /app/stack
COPY streams /app/streams
COPY api /app/api
COPY operators /app/operators
COPY ops /app/ops
# Compiled now: the root filesystem is read-only at run time.
RUN /opt/venv/bin/python -m compileall -q /app

FROM python
RUN groupadd --system --gid 10001 shopstream \
 && useradd --system --uid 10001 --gid 10001 --home-dir /nonexistent --no-create-home \
      --shell /usr/sbin/nologin shopstream \
 && install -d -o 10001 -g 10001 /var/lib/shopstream
COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app
# Listen on every interface of the pod; writable state only under /tmp and the data volume.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/tmp \
    SHOPSTREAM_ENVIRONMENT=production \
    SHOPSTREAM_GATEWAY_HOST=0.0.0.0 \
    SHOPSTREAM_WORKER_HOST=0.0.0.0 \
    SHOPSTREAM_STATE_DIR=/tmp/shopstream \
    SHOPSTREAM_CACHE_DIR=/tmp/shopstream-cache \
    SHOPSTREAM_WORKER_DATA_DIR=/var/lib/shopstream
WORKDIR /app
USER 10001:10001
EXPOSE 8000
ENTRYPOINT ["python", "-m", "ops.roles"]
CMD ["gateway"]
