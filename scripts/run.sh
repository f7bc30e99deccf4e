#!/usr/bin/env bash
# `make run`: migrate, create demo data when the server is empty, then serve with a worker.
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
py=.venv/bin/python
$py manage.py migrate --noinput
$py manage.py demo_setup
# The one-time ONNX export of the embedding model, before any request could wait for it.
$py manage.py prepare_embeddings
.venv/bin/celery -A voltai_server worker --loglevel INFO --concurrency 1 &
worker=$!
trap 'kill -TERM $worker 2>/dev/null; wait $worker 2>/dev/null' EXIT INT TERM
$py manage.py serve --host 127.0.0.1 --port "${PORT:-8000}"
