# The commands the README names. Nothing hidden.
.PHONY: run test test-heavy lint typecheck bench install install-dev

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

# mypy with the Django and DRF plugins over the app packages (mypy.ini). The plugin imports
# the settings, which start the embedded database unless DATABASE_URL is set: the URL below
# is never connected to, only parsed.
typecheck: install-dev
	VOLTAI_DATA_DIR=var/typecheck DATABASE_URL=postgres://typecheck@127.0.0.1:1/typecheck SECRET_KEY=typecheck \
		.venv/bin/mypy

# The whole suite but the load and fault suites (see test-heavy).
test: install-dev lint typecheck
	HF_HUB_OFFLINE=1 .venv/bin/python -m pytest -m "not heavy" -q

# Load and fault suites: slower, start servers and kill processes.
test-heavy: install-dev
	HF_HUB_OFFLINE=1 .venv/bin/python -m pytest -m heavy -q

bench: install-dev
	HF_HUB_OFFLINE=1 .venv/bin/python bench/ingest.py
	HF_HUB_OFFLINE=1 .venv/bin/python bench/eval_qa.py
	HF_HUB_OFFLINE=1 .venv/bin/python bench/api.py
	HF_HUB_OFFLINE=1 .venv/bin/python bench/load.py
