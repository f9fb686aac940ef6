# One image for the four services (registry, assessment, reporting, notifications).
# The service is chosen by the command: `docker run antt serve registry`, or see docker-compose.yml.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    ANTT_DATA_DIR=/var/lib/antt \
    ANTT_BIND_HOST=0.0.0.0

WORKDIR /src
COPY . .

# 1. Install antt with its pinned dependencies (grpcio-tools is one of them).
# 2. Generate the protobuf/gRPC stubs. gen.py writes next to proto/, i.e. into this source tree,
#    so it must run here, not from the installed copy.
# 3. Reinstall the package itself (no dependencies) so the installed copy includes the stubs.
# 4. Smoke-test from outside the source tree, then drop the sources.
RUN pip install . \
 && python -m antt.contracts.gen \
 && pip install --no-deps --force-reinstall . \
 && cd / \
 && python -c "import antt.registry.v1.registry_service_pb2_grpc, services.registry.main" \
 && antt --help > /dev/null \
 && rm -rf /src

# DejaVu Sans has the Vietnamese glyphs that report PDFs embed.
RUN apt-get update && apt-get install -y --no-install-recommends fonts-dejavu-core \
 && rm -rf /var/lib/apt/lists/*

RUN useradd --system --uid 10001 --home-dir /var/lib/antt --shell /usr/sbin/nologin antt \
 && mkdir -p /var/lib/antt /etc/antt/keys \
 && chown antt:antt /var/lib/antt /etc/antt/keys
USER antt
WORKDIR /var/lib/antt

# gRPC 50051-50054, Prometheus /metrics 9101-9104 (defaults; see antt/settings.py).
EXPOSE 50051-50054 9101-9104

ENTRYPOINT ["antt"]
CMD ["--help"]
