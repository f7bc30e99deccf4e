#!/usr/bin/env bash
# Make .venv and install a requirements file into it, once per change of that file.
set -euo pipefail
cd "$(dirname "$0")/.."
requirements="${1:-requirements.txt}"
python="${PYTHON:-python3.11}"
command -v "$python" >/dev/null 2>&1 || python=python3
if [ ! -x .venv/bin/python ]; then
    echo "Creating .venv with $($python --version)"
    "$python" -m venv .venv
fi
stamp=".venv/.installed-$(basename "$requirements")-$(cat requirements*.txt | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
    echo "Installing $requirements into .venv (first time: a few minutes)"
    # The filter hides pip's notes about absent local index folders; errors still show.
    .venv/bin/pip install --quiet --disable-pip-version-check -r "$requirements" 2>&1 \
        | { grep -v "is ignored: it is neither a file nor a directory" || true; }
    rm -f .venv/.installed-"$(basename "$requirements")"-*
    touch "$stamp"
fi
