# syntax=docker/dockerfile:1
# The Kuantum operator image. The solver/simulator image is built from solver-image/Dockerfile.
#
#   docker build -t ghcr.io/kuantum-dev/kuantum-operator:0.1.0 .
#
# The operator imports the solver package's target catalog and, for the remote backends (IonQ,
# Quantinuum), its circuit parsers and gate tables, so a program is translated and checked exactly as
# the simulator would read it: the solver's runtime dependencies (numba, openqasm3) come along.
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY . .
# Wheels of the two local packages, both installed without dependencies; then the operator's own
# dependencies from its wheel's metadata, and the solver package's (for the circuit translations).
RUN pip wheel --no-deps --wheel-dir /wheels ./solver-image . \
 && python -m venv /opt/kuantum \
 && /opt/kuantum/bin/pip install --no-deps /wheels/kuantum_solvers-*.whl /wheels/kuantum-[0-9]*.whl \
 && /opt/kuantum/bin/python -c "from importlib.metadata import requires; \
print('\n'.join(r for r in requires('kuantum') if 'extra ==' not in r and not r.startswith('kuantum-solvers')))" \
    > /tmp/operator-requirements.txt \
 && /opt/kuantum/bin/python -c "from importlib.metadata import requires; \
print('\n'.join(r for r in requires('kuantum-solvers') if 'extra ==' not in r))" >> /tmp/operator-requirements.txt \
 && /opt/kuantum/bin/pip install --prefer-binary -r /tmp/operator-requirements.txt \
 && /opt/kuantum/bin/python -c "import kuantum.main, kuantum.catalog, kuantum.jobs.validation, kuantum.execution.registry" \
 && /opt/kuantum/bin/pip uninstall -y pip setuptools wheel \
 && find /opt/kuantum -name '__pycache__' -prune -exec rm -rf {} +

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="kuantum-operator" \
      org.opencontainers.image.description="Kubernetes operator for the Azure Quantum job model" \
      org.opencontainers.image.source="https://github.com/kuantum-dev/kuantum" \
      org.opencontainers.image.licenses="MIT"
ENV PATH=/opt/kuantum/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    KUANTUM_METRICS_PORT=8080 \
    KUANTUM_LIVENESS=http://0.0.0.0:8081/healthz
# No pip or setuptools in the final image: it installs nothing at run time.
RUN groupadd --system --gid 10001 kuantum \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin kuantum \
 && (python -m pip uninstall -y pip setuptools wheel >/dev/null 2>&1 || true)
COPY --from=builder /opt/kuantum /opt/kuantum
USER 10001:10001
WORKDIR /tmp
EXPOSE 8080 8081
ENTRYPOINT ["kuantum-operator"]
