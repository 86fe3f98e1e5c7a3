# syntax=docker/dockerfile:1
# The Kuantum operator image (kuantum-operator, kuantum-gateway, kuantum). The solver/simulator image is built
# from solver-image/Dockerfile.
#
#   docker build -t kuantum-operator .                  # on the public Python image
#   make images                                         # buildah, on a Debian base made here (hack/images.sh)
#
# PYTHON_IMAGE is any image with python3.11 and its venv module: the public python:3.11-slim, or the Debian
# base that `make images` builds with mmdebstrap.
#
# The operator imports the solver package's target catalog and, for the remote backends (IonQ,
# Quantinuum), its circuit parsers and gate tables, so a program is translated and checked exactly as
# the simulator would read it: the solver's runtime dependencies come along.
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
# Dependencies first, from the two pyproject.toml files alone: a change of the code does not download them again.
COPY pyproject.toml README.md ./
COPY solver-image/pyproject.toml solver-image/README.md ./solver-image/
RUN python -m venv /opt/kuantum \
 && /opt/kuantum/bin/python -c "import tomllib; \
deps = [d for f in ('pyproject.toml', 'solver-image/pyproject.toml') \
        for d in tomllib.load(open(f, 'rb'))['project']['dependencies'] if not d.startswith('kuantum-solvers')]; \
print('\n'.join(deps))" > /tmp/requirements.txt \
 && /opt/kuantum/bin/pip install --prefer-binary -r /tmp/requirements.txt 'setuptools>=77' wheel
COPY operator ./operator
COPY solver-image/kuantum_solvers ./solver-image/kuantum_solvers
# The two local packages, without dependencies (all installed above); then a check that the program imports.
RUN /opt/kuantum/bin/pip install --no-deps --no-build-isolation ./solver-image . \
 && /opt/kuantum/bin/python -c "import kuantum.main, kuantum.catalog, kuantum.jobs.validation, kuantum.execution.registry, kuantum.gateway.app" \
 && /opt/kuantum/bin/pip uninstall -y pip setuptools wheel

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
RUN (python -m pip uninstall -y pip setuptools wheel >/dev/null 2>&1 || true) \
 && useradd --system --uid 10001 --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin kuantum
COPY --from=builder /opt/kuantum /opt/kuantum
USER 10001:10001
WORKDIR /tmp
EXPOSE 8080 8081 8480 9443
ENTRYPOINT ["kuantum-operator"]
