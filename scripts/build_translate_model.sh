#!/usr/bin/env bash
# Build the packaged English->German translation model from scratch on Multi30k (20k training pairs,
# 1,014 validation pairs, ../shared/data/translation), with one seeded `nlptasks finetune` command:
# a joint 8k byte-level BPE vocabulary trained on the training pairs, and a Marian-layout Transformer
# (d_model 256, 3+3 layers, 4 heads, ffn 1024, ~8M parameters) trained with label smoothing 0.1,
# inverse-square-root learning rate after 1,000 warm-up steps, batch 128, 21 epochs, validated every
# epoch by greedy BLEU (early stopping after 5 epochs without a better BLEU is kept); the best epoch is kept.
#
# Why 21 epochs: the packaged nlptasks/embedded/marian-multi30k-en-de is the epoch-21 checkpoint
# (step 3297, validation BLEU 35.73 in the training loop) of a run planned for 40 epochs that a
# 250-second GPU time box stopped at epoch 21.3; BLEU was still rising slowly (e18 35.39, e19 34.94,
# e20 35.41, e21 35.73). The inverse-square-root schedule does not depend on the total number of
# epochs, so `--epochs 21` replays that run (same schedule, seed 0 data order) up to that checkpoint;
# GPU kernels are not bitwise deterministic, so expect BLEU within a few tenths. `--epochs 40` trains on.
# Checked once on a CPU (Intel Xeon with AMX, 2 cores, `--precision bf16`, 3,580 s): best epoch 21 at 35.67 in
# the loop, `nlptasks eval` BLEU 35.54 [34.05, 37.12] against the packaged 35.64 [34.16, 37.07]
# (benchmarks/results/translator_rebuild_cpu/).
#
#   scripts/build_translate_model.sh [OUTPUT_DIR] [extra finetune flags...]
#
# Runs on a CUDA GPU when there is one (bf16 automatically), else on the CPU (slowly). Extra flags are
# appended, e.g. `--max-steps 50 --limit-validation 32` for a quick check, `--resume` after a kill.
# Environment: DATA (default ../shared/data/translation beside the repository), PYTHON (default python).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
DATA="${DATA:-$here/../shared/data/translation}"
OUT="${1:-marian-multi30k-en-de}"
shift $(( $# > 0 ? 1 : 0 ))
exec "${PYTHON:-python}" -m nlptasks finetune translate --from-scratch \
  --train "$DATA/train.jsonl" --validation "$DATA/validation.jsonl" --output "$OUT" \
  --source-lang en --target-lang de \
  --arch marian --vocab-size 8000 --d-model 256 --layers 3 --heads 4 --ffn-dim 1024 --dropout 0.2 \
  --max-positions 256 --max-length 128 --max-target-length 128 \
  --epochs 21 --batch-size 128 --eval-batch-size 256 --lr 5e-4 --scheduler inverse_sqrt --warmup 1000 \
  --weight-decay 0.0001 --label-smoothing 0.1 --early-stopping 5 --max-new-tokens 128 \
  --save-total-limit 2 --logging-steps 50 --seed 0 "$@"
