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
# The operator imports the solver package's formats (kuantum_solvers.formats: the target catalog, the circuit
# readers and gate tables, result formats, the pod contract), so a program is translated and checked exactly as
# the simulator would read it. It installs kuantum-solvers without its `engines` extra: no numba, llvmlite,
# qutip, QDK or cupy here (the build fails if one comes along).
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
# Dependencies first, from the two pyproject.toml files alone: a change of the code does not download them again.
# kuantum's own with its `gateway` extra (the image ships kuantum-gateway), and kuantum-solvers' base: its formats.
COPY pyproject.toml README.md ./
COPY solver-image/pyproject.toml solver-image/README.md ./solver-image/
RUN python -m venv /opt/kuantum \
 && /opt/kuantum/bin/python -c "import tomllib; \
operator = tomllib.load(open('pyproject.toml', 'rb'))['project']; \
solver = tomllib.load(open('solver-image/pyproject.toml', 'rb'))['project']; \
deps = operator['dependencies'] + operator['optional-dependencies']['gateway'] + solver['dependencies']; \
print('\n'.join(d for d in deps if not d.startswith('kuantum-solvers')))" > /tmp/requirements.txt \
 && /opt/kuantum/bin/pip install --prefer-binary -r /tmp/requirements.txt 'setuptools>=77' wheel
COPY operator ./operator
COPY solver-image/kuantum_solvers ./solver-image/kuantum_solvers
# The two local packages, without dependencies (all installed above); then checks: the requirements are met, the
# programs import, and no solver engine came along.
RUN /opt/kuantum/bin/pip install --no-deps --no-build-isolation ./solver-image . \
 && /opt/kuantum/bin/pip check \
 && /opt/kuantum/bin/python -c "import kuantum.main, kuantum.catalog, kuantum.jobs.validation, kuantum.execution.registry, kuantum.gateway.app, kuantum.cli.main" \
 && /opt/kuantum/bin/python -c "import importlib.util, sys; \
engines = [m for m in ('numba', 'llvmlite', 'qutip', 'qdk', 'pulser_simulation', 'cupy') if importlib.util.find_spec(m)]; \
sys.exit(f'the operator image must carry no solver engine, found: {engines}' if engines else 0)" \
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
