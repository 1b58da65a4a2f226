# gptlab: `make train` and `make test` work on a fresh clone (each sets itself up first).
.DEFAULT_GOAL := help
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TINYSHAKESPEARE ?= gptlab/data/files/tinyshakespeare.txt

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-10s\033[0m %s\n", $$1, $$2}'

install: $(STAMP) ## create .venv and install gptlab with its test extras (CPU torch)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	# torch first and pinned, through pip: the CPU build that lies on this machine's disk, where pip
	# looks and uv does not (a plain `torch` requirement could resolve to a multi-GB CUDA build)
	$(BIN)/pip install -q torch==2.13.0
	# the rest through uv, in half pip's time; it keeps the torch above (it satisfies torch>=2.10).
	# --compile-bytecode: uv writes no .pyc by default, and where PYTHONDONTWRITEBYTECODE is set
	# every process would compile transformers, hydra, ... again at import
	$(BIN)/pip install -q uv
	$(BIN)/uv pip install -q --python $(BIN)/python --compile-bytecode -e '.[test]'
	# headless Chromium for the browser test of gptlab-compare's HTML report (Debian packages;
	# as root or through sudo; where neither works the browser test is skipped)
	@if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO="sudo -n"; fi; \
	  ( $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q chromium chromium-driver ) \
	    || echo "chromium could not be installed: tests/compare/test_report_browser.py will be skipped"; \
	fi
	touch $(STAMP)

train: install ## train the default model on the CPU (about two minutes), then print samples
	$(BIN)/gptlab-train $(ARGS)

TEST_WORKERS ?= 2
test: install ## run the test suite on $(TEST_WORKERS) workers (the extended cases: make test-all)
	$(BIN)/pytest -q -n $(TEST_WORKERS) --dist worksteal -m "not extended"

test-all: install ## the whole suite, the extended cases included
	$(BIN)/pytest -q -n $(TEST_WORKERS) --dist worksteal

test-faults: install ## the fault suite (tests/faults/: disks, kills, hostile files, sweeps, properties), slow cases included
	$(BIN)/pytest -q -n $(TEST_WORKERS) --dist worksteal tests/faults

lint: install ## ruff check + format check
	$(BIN)/ruff check gptlab tests
	$(BIN)/ruff format --check gptlab tests

bench-cpu: install ## the default recipe on tinyshakespeare (char level): wall time, tokens/s, val loss
	$(BIN)/python -m gptlab.bench.cpu_recipe --data $(TINYSHAKESPEARE) $(ARGS)

bench-parallel: install ## a sweep of 8 tiny jobs one at a time vs sharing one GPU: wall times and ratio
	$(BIN)/python -m gptlab.bench.parallel_sweep $(ARGS)

bench-attention: install ## the attention kernels' speed, alone and in a gpt2_small training step (needs a CUDA GPU)
	$(BIN)/python -m gptlab.bench.attention $(ARGS)

bench-data: install ## tokenization MB/s and loader batches/s on tinyshakespeare (ARGS="--tokenizer bpe --step-ms 100")
	$(BIN)/python -m gptlab.bench.data_pipeline --data $(TINYSHAKESPEARE) $(ARGS)

bench-generate: install ## decode tokens/s: KV cache vs none vs transformers generate() (llama_like, CPU)
	$(BIN)/python -m gptlab.bench.generate $(ARGS)

bench-loss: install ## the cross-entropy kernels and the LM head + loss (bf16, torchao float8, fused float8), forward + backward at gpt2_small's shape (needs a CUDA GPU)
	$(BIN)/python -m gptlab.bench.loss $(ARGS)

bench-gpu: install ## gpt2_small training speed through the Trainer (needs CUDA; ARGS="--nanogpt PATH/model.py --nproc 1 2")
	$(BIN)/python -m gptlab.bench.gpu $(ARGS)

test-gpu: install ## the GPU tests (kernels agree, compile, bf16/fp8 training, 2-GPU DDP/FSDP, the CUDA cases of attention and KV cache)
	$(BIN)/pytest -q tests/gpu tests/model/test_attention.py tests/model/test_cache.py $(ARGS)

clean: ## remove the venv, caches and run outputs
	rm -rf $(VENV) outputs .pytest_cache .ruff_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

.PHONY: help install train test test-all test-faults lint bench-cpu bench-parallel bench-data bench-attention bench-generate bench-loss bench-gpu test-gpu clean
