# Kuantum developer entry points. Every target installs what it needs itself.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
KUANTUM_CACHE ?= $(HOME)/.cache/kuantum
export KUANTUM_PYTHON := $(abspath $(BIN)/python)
export PATH := $(abspath $(BIN)):$(KUANTUM_CACHE)/bin:$(PATH)

.PHONY: help venv bench-venv tools images images-gpu cluster-up cluster-down cluster-purge lint fmt crds test test-unit test-integration demo bench clean mutation

help:
	@echo "make demo          dev cluster up, operator running, example jobs applied and shown"
	@echo "make test          lint + unit + integration tests (starts and stops the dev cluster)"
	@echo "make images        build kuantum-operator and kuantum-solver (buildah) and import them into the dev node"
	@echo "make cluster-up    start the dev cluster (etcd, kube-apiserver, controller-manager, scheduler, Azurite,"
	@echo "                   a kubelet on containerd with kube-proxy)"
	@echo "make cluster-down  stop exactly what cluster-up started"
	@echo "make crds          regenerate crds/ (the CRDs; the kuantum-crds chart links to them) from the models"
	@echo "make lint | bench | mutation"

# $(call install,VENV) REQUIREMENTS: uv (from PyPI, into the venv) installs them: it resolves in parallel and links
# from its cache (~/.cache/uv), so a fresh clone's venv takes seconds where pip took over a minute.
install = $(1)/bin/pip install -q --disable-pip-version-check uv && $(1)/bin/uv pip install -q --python $(1)/bin/python

venv: $(VENV)/.installed
$(VENV)/.installed: pyproject.toml solver-image/pyproject.toml
	@echo "==> creating $(VENV) and installing kuantum and kuantum-solvers"
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"' \
	  || { echo "kuantum: Python 3.11+ is required ($(PYTHON) is $$($(PYTHON) -V 2>&1))"; exit 1; }
	@$(PYTHON) -m venv $(VENV) || { echo "kuantum: python3 -m venv failed (apt-get install python3-venv)"; exit 1; }
	@$(call install,$(VENV)) -e '.[dev,gateway,qsharp]' -e './solver-image[engines,test]'
	@touch $@

# Solver benchmarks compare against peers (dwave-samplers, dwave-hybrid, qiskit-aer) whose
# dependencies clash with the operator's (dwave-cloud-client pins python-dateutil<3, kubernetes
# needs >=3): they get a venv of their own, with the solver package only.
BENCH_VENV := .venv-bench
bench-venv: $(BENCH_VENV)/.installed
$(BENCH_VENV)/.installed: solver-image/pyproject.toml
	@echo "==> creating $(BENCH_VENV) (kuantum-solvers and its peers)"
	@$(PYTHON) -m venv $(BENCH_VENV)
	@$(call install,$(BENCH_VENV)) -e './solver-image[engines,bench]'
	@touch $@

tools:
	@bash hack/install-tools.sh

# The images, from Dockerfile and solver-image/Dockerfile, tagged by a hash of their inputs (rebuilt only when
# those change), imported into the running dev node; their references in build/images.env.
images: tools
	@bash hack/images.sh

# The solver image's GPU variant too (--build-arg EXTRAS=gpu: cupy and NVIDIA's CUDA libraries, a few GB).
images-gpu: tools
	@bash hack/images.sh --gpu

cluster-up: tools images
	@bash hack/cluster-up.sh

cluster-down:
	@bash hack/cluster-down.sh

cluster-purge:
	@bash hack/cluster-down.sh --purge

lint: venv
	@echo "==> ruff"
	@$(BIN)/ruff check .
	@echo "==> mypy"
	@$(BIN)/mypy operator/kuantum
	@$(BIN)/mypy --config-file solver-image/pyproject.toml solver-image/kuantum_solvers

fmt: venv
	@$(BIN)/ruff check --fix .

crds: venv
	@$(BIN)/python -m kuantum.crdgen

test-unit: venv
	@$(BIN)/pytest -q tests/unit

test-integration: venv tools images
	@$(BIN)/pytest -q tests/integration tests/e2e

# The whole suite: lint, unit, integration and e2e (hack/test.sh): on one dev cluster, started if none runs and then
# stopped; the integration tests that share it two at a time, those marked `exclusive` alone beside the unit tests.
test: lint tools images
	@bash hack/test.sh

# Mutation testing (cosmic-ray, installed into build/mutation/venv by the script) of the core operator
# modules (state machine, queueing, dispatch, builders, storage, validation, accepted spec, usage, labels,
# the remote clients, the typed objects, the pod and remote backends), of the QIO solvers' Python side
# (problem parsing, the spin form and replica sets, the solvers' shared driver) and of the solver's readers
# and formats (OpenQASM, IonQ JSON, QIR and Quil readers, the Pasqal sequence, QIR result formats, the pod
# contract), in scratch copies under build/mutation: prints each module's score and the surviving mutants.
# Bounded by default to 40 mutants per module spread over the file (~1,050 in all): about two hours on 2 cores,
# summed from runs of parts (13 operator modules about an hour; objects, execution.pod.backend and
# execution.providers.backend 11.5 minutes together; the three QIO modules 16 minutes together, their numba
# kernels compiled once per scratch copy; the solver's readers and formats about half an hour).
# MUTATION_MODULES="storage.blobs solvers.qio.problem" narrows it; MUTATION_MAX=0 runs every mutant (hours);
# MUTATION_JOBS, MUTATION_TIMEOUT as in hack/mutation.sh.
mutation: venv
	@bash hack/mutation.sh

demo: venv cluster-up
	@bash hack/demo.sh

bench: venv bench-venv cluster-up
	@bash benchmarks/run-all.sh

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
