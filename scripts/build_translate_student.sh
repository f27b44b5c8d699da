#!/usr/bin/env bash
# Build marian-multi30k-en-de-2x1: a smaller student of the packaged en->de model, by "shrink and
# fine-tune" (DistilBART's recipe): keep teacher encoder layers 0 and 2 and decoder layer 0 (2+1 of 3+3
# layers, 4.81M of 7.71M parameters; the decoder, which runs once per generated token, is a third of the
# teacher's), then train it by sequence-level distillation on the teacher's greedy translations of the
# Multi30k training sources (../shared/data/translation), validated every epoch by greedy BLEU; the
# best epoch is kept. One seeded run:
#
#   bash scripts/build_translate_student.sh [OUTPUT_DIR] [extra distill flags...]
#
# Default output build/models/marian-multi30k-en-de-2x1 (not packaged: the offline suite evaluates it
# when it is there). Extra flags are appended, e.g. `--max-steps 20 --limit-validation 32` for a quick
# check, `--resume` after a kill. Environment: DATA (default ../shared/data/translation beside the
# repository), PYTHON (default python).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
DATA="${DATA:-$here/../shared/data/translation}"
OUT="${1:-$here/build/models/marian-multi30k-en-de-2x1}"
shift $(( $# > 0 ? 1 : 0 ))
PY="${PYTHON:-python}"
TEACHER="$here/nlptasks/embedded/marian-multi30k-en-de"
INIT="$OUT.init"
[ -f "$INIT/config.json" ] || "$PY" "$here/scripts/shrink_seq2seq.py" "$TEACHER" "$INIT" \
  --encoder-layers 0,2 --decoder-layers 0
exec "$PY" -m nlptasks distill translate --teacher "$TEACHER" --student "$INIT" \
  --train "$DATA/train.jsonl" --validation "$DATA/validation.jsonl" --output "$OUT" \
  --source-lang en --target-lang de --max-length 128 --max-target-length 128 --max-new-tokens 128 \
  --epochs 4 --batch-size 128 --eval-batch-size 256 --lr 5e-4 --scheduler inverse_sqrt --warmup 300 \
  --label-smoothing 0.1 --early-stopping 3 --save-total-limit 2 --logging-steps 50 --seed 0 "$@"
