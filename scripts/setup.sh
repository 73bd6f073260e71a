#!/usr/bin/env bash
# Create .venv and install the toolkit with everything it needs, from PyPI (and Debian for WordNet).
# Usage: scripts/setup.sh [extra]   e.g. scripts/setup.sh dev
set -euo pipefail
cd "$(dirname "$0")/.."
extra=${1:-}
py=${PYTHON:-python3}
venv=${VENV:-.venv}

if [ ! -x "$venv/bin/python" ]; then
    "$py" -m venv "$venv"
fi
pip=("$venv/bin/python" -m pip install --quiet --disable-pip-version-check)

# PyPI's torchvision (imported by open_clip) must match its torch build exactly; pin the pair.
if ! "$venv/bin/python" -c "import torch, torchvision" >/dev/null 2>&1; then
    case "$(uname -m)" in
        aarch64|arm64) "${pip[@]}" "torch==2.9.1" "torchvision==0.24.1" ;;
        *)             "${pip[@]}" "torch==2.14.1" "torchvision==0.29.1" ;;
    esac
fi
"${pip[@]}" -e ".${extra:+[$extra]}"

# WordNet 3.0: NLTK's data path, or Debian's wordnet-base + wordnet-sense-index (corpus doctor explains).
if ! "$venv/bin/corpus" doctor --quiet >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "Installing WordNet 3.0 from Debian (wordnet-base, wordnet-sense-index)..."
        apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wordnet-base wordnet-sense-index >/dev/null
    fi
    "$venv/bin/corpus" doctor
fi
