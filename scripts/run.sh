#!/usr/bin/env bash
# `make run`: migrate, create demo data when the server is empty, then serve with a worker.
# Ctrl-C (or any failure) stops what this script started: the server, the worker, and the
# embedded PostgreSQL when this run started it.
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
py=.venv/bin/python
worker=""
owns_database=false
if [ -z "${DATABASE_URL:-}" ] && ! $py -m voltai_server.embedded_db status >/dev/null; then
    owns_database=true
fi

stop_everything() {
    trap - EXIT INT TERM
    if [ -n "$worker" ]; then
        kill -TERM "$worker" 2>/dev/null || true
        wait "$worker" 2>/dev/null || true
        echo "Stopped the worker."
    fi
    if $owns_database; then
        $py -m voltai_server.embedded_db stop
    elif [ -z "${DATABASE_URL:-}" ]; then
        echo "The embedded PostgreSQL was running before make run, so it keeps running;" \
            "stop it with: .venv/bin/python -m voltai_server.embedded_db stop"
    fi
}
trap stop_everything EXIT
trap 'exit 130' INT TERM

$py manage.py migrate --noinput
$py manage.py demo_setup
# The one-time ONNX export of the embedding model, before any request could wait for it.
$py manage.py prepare_embeddings
.venv/bin/celery -A voltai_server worker --loglevel INFO --concurrency 1 &
worker=$!
if $owns_database; then
    echo "Ctrl-C stops the server, the worker and the embedded PostgreSQL."
else
    echo "Ctrl-C stops the server and the worker."
fi
$py manage.py serve --host 127.0.0.1 --port "${PORT:-8000}"
