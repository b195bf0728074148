# isu-gateway: one image for every service (isu collector, gateway, api, sim, registry, api-key,
# deadletter). The command picks the service: `docker run IMAGE gateway --config FILE`.
# Used by deploy/compose/docker-compose.yml; explained in docs/deployment.md.
#
#   docker build -t isu-gateway:0.1.0 .
#
# The product lives in its own virtualenv at /opt/isu-gateway/.venv, the same path as on a plain
# server (deploy/systemd/), and runs as the unprivileged user isu (uid 10001) with the dialout
# group for serial adapters passed in with --device.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
# Only what the package needs (.dockerignore keeps the rest out of the context).
COPY pyproject.toml README.md LICENSE ./
COPY core core
COPY drivers drivers
COPY collector collector
COPY gateway gateway
COPY timeseries timeseries
COPY api api
COPY simulators simulators
COPY isu isu
RUN python -m venv /opt/isu-gateway/.venv \
    && /opt/isu-gateway/.venv/bin/pip install . \
    && /opt/isu-gateway/.venv/bin/isu --help >/dev/null

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="isu-gateway" \
      org.opencontainers.image.description="Telemetry collector, MQTT→TimescaleDB gateway and HTTP API for intelligent electricity metering (ISU)" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN groupadd --system --gid 10001 isu \
    && useradd --system --uid 10001 --gid isu --groups dialout \
        --home-dir /var/lib/isu-gateway --shell /usr/sbin/nologin isu \
    && install -d -o isu -g isu -m 0750 /var/lib/isu-gateway \
    && install -d -m 0755 /etc/isu
COPY --from=build /opt/isu-gateway/.venv /opt/isu-gateway/.venv
ENV PATH=/opt/isu-gateway/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
USER isu
WORKDIR /var/lib/isu-gateway
# The collector's disk queue (collector.toml [queue] path) belongs on a volume mounted here.
# 8080: isu api; 9108: /metrics of isu collector and isu gateway.
EXPOSE 8080 9108
ENTRYPOINT ["isu"]
CMD ["--help"]
