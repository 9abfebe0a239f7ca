# The adpulse server image (also the job worker's: `adpulse worker`).
#
# Size: about 0.5 GB uncompressed — python:3.11-slim-bookworm (~125 MB), the runtime
# dependencies of requirements/image.txt (~355 MB, most of it pyarrow and numpy) and the
# stripped kernel (~15 MB). No compiler, no embedded Postgres, no chDB: it talks to a
# PostgreSQL server and a ClickHouse server (see docker-compose.yml).

# Builder: the Rust kernel into the `adpulse` wheel (Cargo.lock pinned), and the client wheel.
FROM rust:1.88-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends python3 python3-venv \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY requirements/ requirements/
# Build tools at the lock's versions (pip takes no hashes for a constraints-only install).
RUN python3 -m venv /build \
    && /build/bin/pip install --no-cache-dir -c requirements/lock.txt maturin hatchling editables
COPY . .
RUN /build/bin/maturin build --release --locked --strip --out /wheels \
    && /build/bin/pip wheel --no-deps --no-build-isolation --wheel-dir /wheels clients/python

# Runtime: exactly requirements/image.txt, every file checked against its hash.
FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY requirements/image.txt /tmp/image.txt
RUN pip install --no-cache-dir --no-deps --require-hashes -r /tmp/image.txt && rm /tmp/image.txt
COPY --from=build /wheels /wheels
# Our two wheels were built above (no hash to pin); --no-deps, then pip check proves that the
# hashed set already satisfies every requirement.
RUN pip install --no-cache-dir --no-deps /wheels/*.whl && rm -rf /wheels && pip check
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/adpulse --create-home adpulse
USER 10001:10001
WORKDIR /var/lib/adpulse
ENV ADPULSE_LISTEN=0.0.0.0:50051 \
    ADPULSE_DATA_DIR=/var/lib/adpulse \
    ADPULSE_METRICS_LISTEN=0.0.0.0:9464 \
    ADPULSE_WORKER_METRICS_LISTEN=0.0.0.0:9465 \
    ADPULSE_LOG_FORMAT=json
EXPOSE 50051 9464
# The grpc health protocol: NOT_SERVING from the first moment of a shutdown.
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-m", "adpulse.server.healthcheck"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["adpulse"]
CMD ["serve"]
