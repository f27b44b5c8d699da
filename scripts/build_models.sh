#!/usr/bin/env bash
# Rebuild the encoder models that ship with nlptasks, each with ONE seeded `nlptasks finetune`/`distill`
# command, then package it into nlptasks/embedded/<name>/ with a model card rendered from the run's files.
#
#   bash scripts/build_models.sh qa           # minilm-squad: qa default (LoRA r=64 on every linear layer + head)
#   bash scripts/build_models.sh sentiment    # minilm-sst2-lora: sentiment default (LoRA r=16 + head)
#   bash scripts/build_models.sh sentiment3   # minilm-sentiment3-lora: negative/neutral/positive (sst3 + tweeteval)
#   bash scripts/build_models.sh qa_student   # minilm-squad-l3: 3-layer student of the packaged minilm-squad (not packaged)
#   bash scripts/build_models.sh all          # the three, in that order
#
# Environment:
#   NLPTASKS_DATA        the shared data (default ../shared/data): <task>/{train,validation}.jsonl
#   NLPTASKS_BUILD_DIR   where runs are written (default build/models)
#   NLPTASKS_DEVICE      auto (CUDA when present; precision auto = bf16 there, fp32 on CPU), cuda or cpu
#   NLPTASKS_BUILD_ARGS  extra finetune/distill flags, e.g. a smoke run on CPU:
#                        "--limit-train 64 --limit-validation 32 --max-steps 4 --batch-size 8"
#   NLPTASKS_EVAL_ARGS   extra eval flags, e.g. "--limit 32"
#   NLPTASKS_EMBEDDED_DIR  where packaged copies go (default nlptasks/embedded; a smoke run may point elsewhere)
#   PYTHON               the interpreter (default python)
#
# Hyperparameters are fixed in advance (not tuned on validation); the checkpoint kept is the best one on
# the validation split by the task's primary metric (finetune's own selection).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DATA="${NLPTASKS_DATA:-../shared/data}"
OUT="${NLPTASKS_BUILD_DIR:-build/models}"
DEVICE="${NLPTASKS_DEVICE:-auto}"
PY="${PYTHON:-python}"
read -r -a EXTRA <<< "${NLPTASKS_BUILD_ARGS:-}"
read -r -a EVAL_EXTRA <<< "${NLPTASKS_EVAL_ARGS:-}"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
EMBEDDED="${NLPTASKS_EMBEDDED_DIR:-$ROOT/nlptasks/embedded}"
SEED=0

nlp() { "$PY" -m nlptasks "$@"; }

# the packaged copy: adapter + metadata + the run's result; the tokenizer is the base's (checked identical)
package() {  # package NAME RUN_DIR MAX_BYTES
    local name="$1" run="$2" max="$3" dest
    "$PY" - "$run" <<'PYEOF' || { echo "build_models: the tokenizer of $run differs from the packaged MiniLM's" >&2; exit 1; }
import sys
from transformers import AutoTokenizer
from nlptasks.backend.embedded import minilm_path
a, b = AutoTokenizer.from_pretrained(sys.argv[1]), AutoTokenizer.from_pretrained(minilm_path())
text = "Who won Super Bowl 50? The Denver Broncos (AFC) defeated the Carolina Panthers 24-10, naïvely."
sys.exit(0 if a.get_vocab() == b.get_vocab() and a(text, text)["input_ids"] == b(text, text)["input_ids"] else 1)
PYEOF
    dest="$EMBEDDED/$name"
    rm -rf "$dest" && mkdir -p "$dest"
    cp "$run/adapter_config.json" "$run/adapter_model.safetensors" "$run/nlptasks_adapter.json" \
       "$run/training_result.json" "$dest/"
    local size; size=$(du -cb "$dest"/* | tail -1 | cut -f1)
    if [ "$size" -gt "$max" ]; then echo "build_models: $dest is $size bytes, over its budget of $max" >&2; exit 1; fi
    echo "$dest"
}

card() {  # card NAME TASK RUN_DIR DEST COMMAND [BENCHMARK...]: evaluate DEST (the packaged copy) on TASK's
          # validation file (or on each BENCHMARK, the first one being the card's main record) and write
          # DEST/README.md
    local name="$1" task="$2" run="$3" dest="$4" command="$5" extra=() bench model="$4"
    shift 5
    if [ "$#" -gt 0 ]; then
        # a copy packaged into nlptasks/embedded is evaluated by its name (the record names the model, not a path)
        [ "$dest" != "$ROOT/nlptasks/embedded/$name" ] || model="$name"
        for bench in "$@"; do
            nlp eval "$bench" --model "$model" --data-dir "$DATA" --device "$DEVICE" --seed "$SEED" \
                --json --no-store "${EVAL_EXTRA[@]}" > "$OUT/$name.$bench.eval.json"
            [ "$bench" = "$1" ] || extra+=(--extra-eval "$OUT/$name.$bench.eval.json")
        done
        cp "$OUT/$name.$1.eval.json" "$OUT/$name.eval.json"
        [ "$dest" = "$run" ] || cp "$OUT/$name.eval.json" "$dest/eval_record.json"
        "$PY" "$ROOT/scripts/model_card.py" --name "$name" --result "$run/training_result.json" \
            --eval "$OUT/$name.eval.json" --folder "$dest" --command "$command" "${extra[@]}"
        return
    fi
    nlp eval "$task" --model "$dest" --data "$DATA/$task/validation.jsonl" --device "$DEVICE" --seed "$SEED" \
        --json --no-store "${EVAL_EXTRA[@]}" > "$OUT/$name.eval.json"
    [ "$dest" = "$run" ] || cp "$OUT/$name.eval.json" "$dest/eval_record.json"
    "$PY" "$ROOT/scripts/model_card.py" --name "$name" --result "$run/training_result.json" \
        --eval "$OUT/$name.eval.json" --folder "$dest" --command "$command"
}

qa() {
    nlp finetune qa --model minilm --train "$DATA/qa/train.jsonl" --validation "$DATA/qa/validation.jsonl" \
        --output "$OUT/minilm-squad" --overwrite --seed "$SEED" --device "$DEVICE" \
        --lora --lora-targets all-linear --lora-r 64 --lora-alpha 128 --lora-dropout 0.1 \
        --lora-save adapter --adapter-dtype float16 \
        --epochs 3 --lr 3e-4 --warmup 0.1 --weight-decay 0.01 --batch-size 32 --eval-batch-size 128 \
        --max-length 384 --stride 128 --group-by-length "${EXTRA[@]}"
    local dest; dest=$(package minilm-squad "$OUT/minilm-squad" 8000000)
    card minilm-squad qa "$OUT/minilm-squad" "$dest" "bash scripts/build_models.sh qa"
}

sentiment() {
    nlp finetune sentiment --model minilm --train "$DATA/sentiment/train.jsonl" \
        --validation "$DATA/sentiment/validation.jsonl" --output "$OUT/minilm-sst2-lora" --overwrite \
        --seed "$SEED" --device "$DEVICE" \
        --lora --lora-targets all-linear --lora-r 16 --lora-alpha 32 --lora-dropout 0.1 \
        --lora-save adapter --adapter-dtype float16 \
        --epochs 4 --lr 5e-4 --warmup 0.06 --weight-decay 0.01 --batch-size 64 --eval-batch-size 256 \
        --max-length 128 --group-by-length "${EXTRA[@]}"
    local dest; dest=$(package minilm-sst2-lora "$OUT/minilm-sst2-lora" 2000000)
    card minilm-sst2-lora sentiment "$OUT/minilm-sst2-lora" "$dest" "bash scripts/build_models.sh sentiment"
}

sentiment3() {  # three classes on tweets and review sentences together: the training sets of sst3/ and
                # tweeteval/ concatenated (in that order; the trainer shuffles with the seed), both
                # validation sets together; ids 0/1/2 = negative/neutral/positive; the checkpoint kept is the
                # best by macro-averaged recall on validation (finetune's choice with more than two labels).
                # Sized before training for a 2-core CPU shared with other work (<= ~1 h): 1,180 steps of 32
                # (2 epochs) in bf16 (AMX), validation every 295 steps, inputs cut at 96 tokens.
    local data="$OUT/sentiment3-data"
    mkdir -p "$data"
    "$PY" - "$data" "$DATA/sst3" "$DATA/tweeteval" <<'PYEOF'
import json, sys
out, *sets = sys.argv[1:]
for split in ("train", "validation"):
    with open(f"{out}/{split}.jsonl", "w", encoding="utf-8") as f:
        for folder in sets:
            with open(f"{folder}/{split}.jsonl", encoding="utf-8") as g:
                for line in g:
                    if line.strip():
                        r = json.loads(line)
                        f.write(json.dumps({"text": r["text"], "label": int(r["label"])}, ensure_ascii=False) + "\n")
PYEOF
    nlp finetune sentiment --model minilm --train "$data/train.jsonl" --validation "$data/validation.jsonl" \
        --labels negative,neutral,positive --output "$OUT/minilm-sentiment3-lora" --overwrite \
        --seed "$SEED" --device "$DEVICE" \
        --lora --lora-targets all-linear --lora-r 16 --lora-alpha 32 --lora-dropout 0.1 \
        --lora-save adapter --adapter-dtype float16 \
        --max-steps 1180 --eval-steps 295 --precision bf16 --lr 5e-4 --warmup 0.06 --weight-decay 0.01 \
        --batch-size 32 --eval-batch-size 256 --max-length 96 --group-by-length --logging-steps 40 "${EXTRA[@]}"
    local dest; dest=$(package minilm-sentiment3-lora "$OUT/minilm-sentiment3-lora" 2000000)
    # the packaged copy on each benchmark alone (the card's figures; on binary SST-2 it picks the higher of
    # negative/positive)
    card minilm-sentiment3-lora sentiment "$OUT/minilm-sentiment3-lora" "$dest" \
        "bash scripts/build_models.sh sentiment3" tweeteval_sentiment_local sst3_local sst2_local
}

qa_student() {  # teacher: the packaged QA default (QA_TEACHER overrides); the student is a full 3-layer
                # model (LoRA does not apply to a truncated student): not packaged, the offline suite
                # evaluates it when it is there
    local teacher="${QA_TEACHER:-$EMBEDDED/minilm-squad}"
    [ -f "$teacher/adapter_config.json" ] || { echo "build_models: no QA teacher at $teacher" >&2; exit 1; }
    # one epoch over 256-token windows (stride 64) in bf16: sized to fit a 2-core CPU session (~1 h);
    # fixed before training, like every setting here (checkpoint: the task's primary metric on validation)
    nlp distill qa --teacher "$teacher" --student-layers 3 --train "$DATA/qa/train.jsonl" \
        --validation "$DATA/qa/validation.jsonl" --output "$OUT/minilm-squad-l3" --overwrite \
        --seed "$SEED" --device "$DEVICE" --temperature 2 --alpha 0.5 --precision bf16 \
        --epochs 1 --lr 2e-4 --warmup 0.1 --weight-decay 0.01 --batch-size 32 --eval-batch-size 128 \
        --max-length 256 --stride 64 --group-by-length --logging-steps 20 "${EXTRA[@]}"
    card minilm-squad-l3 qa "$OUT/minilm-squad-l3" "$OUT/minilm-squad-l3" "bash scripts/build_models.sh qa_student"
}

all() { qa; sentiment; qa_student; }

case "${1:-}" in
    qa|sentiment|sentiment3|qa_student|all) "$1" ;;
    *) echo "usage: bash scripts/build_models.sh qa|sentiment|sentiment3|qa_student|all" >&2; exit 2 ;;
esac
