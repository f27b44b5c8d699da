#!/usr/bin/env bash
# Build the packaged chat and summarization models with `nlptasks finetune` itself, one seeded command
# per model, then copy the model files into nlptasks/embedded/<name>/ and evaluate them.
#
#   scripts/build_models_chat_sum.sh chat        # -> nlptasks/embedded/minilm-retrieval/
#   scripts/build_models_chat_sum.sh summarize   # -> nlptasks/embedded/minilm-extsum/
#   scripts/build_models_chat_sum.sh all
#
# Data: ${NLPTASKS_DATA:-../shared/data} (the shared-data schemas). Work folder: ${BUILD_DIR:-build/models}.
# Settings are chosen inside `finetune` on the *training* split (a held-out piece, or cross-validation); validation is
# only evaluated (`nlptasks eval`), never used to choose anything. Set EVAL=0 to skip the evaluation
# and the model card (the card needs the eval record).
set -euo pipefail
cd "$(dirname "$0")/.."
DATA="${NLPTASKS_DATA:-../shared/data}"
BUILD="${BUILD_DIR:-build/models}"
PY="${PYTHON:-python}"
EMBEDDED=nlptasks/embedded
mkdir -p "$BUILD"

package() {  # package NAME BUILT_DIR FILE...: copy the model files (no checkpoints) into the package
  local name=$1 built=$2; shift 2
  rm -rf "${EMBEDDED:?}/$name"; mkdir -p "$EMBEDDED/$name"
  for f in "$@"; do install -m 0644 "$built/$f" "$EMBEDDED/$name/$f"; done
  install -m 0644 "$built/training_result.json" "$EMBEDDED/$name/training_result.json"
}

evaluate() {  # evaluate NAME BENCHMARK BASELINE...: eval records (DIR/BENCHMARK/RUN.json), then the card
  local name=$1 bench=$2; shift 2
  [ "${EVAL:-1}" = 0 ] && return 0
  rm -rf "${BUILD:?}/eval-$bench"
  for m in "$name" "$@"; do
    $PY -m nlptasks eval "$bench" --model "$m" --seed 0 --device cpu --data-dir "$DATA" --no-store \
      --output "$BUILD/eval-$bench/$m"
  done
  $PY scripts/render_embedded_card.py "$EMBEDDED/$name" "$BUILD/eval-$bench"/*/"$bench"/*.json
}

chat() {
  $PY -m nlptasks finetune chat --model minilm --retrieval --seed 0 --device cpu \
    --train "$DATA/dialogue/train.jsonl" --output "$BUILD/minilm-retrieval" --overwrite
  package minilm-retrieval "$BUILD/minilm-retrieval" retrieval.json index.safetensors responses.json.gz
  evaluate minilm-retrieval dailydialog_local repeat-last-turn most-frequent-response
}

summarize() {
  $PY -m nlptasks finetune summarize --model minilm --extractive --seed 0 --device cpu \
    --train "$DATA/summarization/train.jsonl" --output "$BUILD/minilm-extsum" --overwrite
  package minilm-extsum "$BUILD/minilm-extsum" extsum.json scorer.safetensors
  evaluate minilm-extsum cnn_dailymail_local lead-3 minilm-extractive
}

case "${1:-all}" in
  chat) chat ;;
  summarize) summarize ;;
  all) chat; summarize ;;
  *) echo "usage: $0 [chat|summarize|all]" >&2; exit 2 ;;
esac
