#!/bin/sh
# Creates .venv (if needed) and installs the project with what `run` and `test` need.
# Re-installs only when pyproject.toml changes. Usage: scripts/bootstrap.sh [extras]
set -eu
cd "$(dirname "$0")/.."
EXTRAS="${1:-embedded,media,voice,scoring,test}"
PYTHON="${PYTHON:-python3}"
VENV=.venv

if [ ! -x "$VENV/bin/python" ]; then
  if ! "$PYTHON" -m venv "$VENV" 2>/dev/null; then
    # Debian's system Python ships venv separately.
    echo "bootstrap: installing python3-venv" >&2
    scripts/apt-install.sh python3-venv
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
  fi
fi

STAMP="$VENV/.installed-$(cat pyproject.toml | sha256sum | cut -c1-16)-$(echo "$EXTRAS" | tr ',' '-')"
if [ ! -f "$STAMP" ]; then
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
  "$VENV/bin/python" -m pip install --quiet -e ".[$EXTRAS]"
  rm -f "$VENV"/.installed-*
  touch "$STAMP"
fi
