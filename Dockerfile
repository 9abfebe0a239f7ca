# The adpulse server image: the Rust kernel built into the `adpulse` wheel, plus the client/CLI.
FROM rust:1.88-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends python3 python3-venv && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN python3 -m venv /build \
    && /build/bin/pip install --no-cache-dir maturin==1.16.0 hatchling==1.33.0 \
    && /build/bin/maturin build --release --locked --out /wheels \
    && /build/bin/pip wheel --no-deps --no-build-isolation --wheel-dir /wheels clients/python

FROM python:3.11-slim-bookworm
RUN useradd --system --home-dir /var/lib/adpulse --create-home adpulse
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER adpulse
WORKDIR /var/lib/adpulse
ENV ADPULSE_LISTEN=0.0.0.0:50051 ADPULSE_DATA_DIR=/var/lib/adpulse
EXPOSE 50051
ENTRYPOINT ["adpulse"]
CMD ["serve"]
