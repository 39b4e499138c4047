# mcpgate as an image: one replica of a fleet (compose.yaml, docs/deployment.md), or a gateway alone.
#
#   docker build -t mcpgate .
#   docker run -p 8080:8080 -e MCPGATE_API_KEY=… mcpgate                         # the bundled demo
#   docker run -p 8080:8080 -v ./gateway.yaml:/etc/mcpgate/gateway.yaml:ro -e MCPGATE_API_KEY=… \
#       mcpgate serve --config /etc/mcpgate/gateway.yaml --host 0.0.0.0 --port 8080
#
# Not built on the project's test machines (they have no container engine); tests/test_deployment_files.py
# checks what can be checked without one.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# -- builder: a virtualenv holding mcpgate and its dependencies, built from this checkout
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /build
# The same path as in the runtime stage: a virtualenv's scripts name their interpreter by absolute path.
RUN python -m venv /opt/mcpgate
COPY pyproject.toml README.md ./
COPY src ./src
RUN /opt/mcpgate/bin/pip wheel --no-deps --wheel-dir /build/dist . \
 && /opt/mcpgate/bin/pip install /build/dist/mcpgate-*.whl \
 && /opt/mcpgate/bin/python -m compileall -q /opt/mcpgate/lib

# -- runtime: the slim image, the virtualenv, a user of its own
FROM ${PYTHON_IMAGE} AS runtime
RUN groupadd --system --gid 10001 mcpgate \
 && useradd --system --uid 10001 --gid mcpgate --home-dir /var/lib/mcpgate --create-home --shell /usr/sbin/nologin mcpgate
COPY --from=builder /opt/mcpgate /opt/mcpgate
ENV PATH=/opt/mcpgate/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    MCPGATE_DATA_DIR=/var/lib/mcpgate
USER mcpgate
WORKDIR /var/lib/mcpgate
EXPOSE 8080
# Slim images have no curl: Python's urllib. A 503 (starting, stopping, no upstream able to serve)
# raises, and so fails the check.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/health', timeout=2)"]
ENTRYPOINT ["mcpgate"]
# On every interface: in a container the balancer (or the published port) is the way in.
CMD ["serve", "--host", "0.0.0.0", "--port", "8080"]
