# The commands the README names. Nothing hidden.
.PHONY: run test test-heavy lint bench install install-dev

install:
	@bash scripts/install.sh requirements.txt

install-dev:
	@bash scripts/install.sh requirements-dev.txt
	@bash scripts/ensure_chromium.sh

run: install
	@bash scripts/run.sh

lint: install-dev
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

# The whole suite but the load and fault suites (see test-heavy).
test: install-dev lint
	HF_HUB_OFFLINE=1 .venv/bin/python -m pytest -m "not heavy" -q

# Load and fault suites: slower, start servers and kill processes.
test-heavy: install-dev
	HF_HUB_OFFLINE=1 .venv/bin/python -m pytest -m heavy -q

bench: install-dev
	HF_HUB_OFFLINE=1 .venv/bin/python bench/ingest.py
	HF_HUB_OFFLINE=1 .venv/bin/python bench/eval_qa.py
	HF_HUB_OFFLINE=1 .venv/bin/python bench/api.py
	HF_HUB_OFFLINE=1 .venv/bin/python bench/load.py
