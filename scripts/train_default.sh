#!/usr/bin/env bash
# Reproduce molvae's shipped default model (molvae/pretrained/default.pt); see docs/model_card.md.
#
#   bash scripts/train_default.sh [OUT]        # OUT defaults to runs/default
#
# The shipped model was trained on one NVIDIA H100 (torch 2.11, CUDA 13) for 3.5 minutes of
# wall clock, which is 3.1 epochs of the full MOSES training set. On a CPU the same recipe runs at
# about 440 molecules/s on 2 cores with bf16 (about an hour per epoch): set MINUTES to the budget
# you have; the run resumes from OUT/last.pt if it is stopped and started again.
set -euo pipefail
OUT=${1:-runs/default}
MINUTES=${MINUTES:-3.5}
DEVICE=${DEVICE:-auto}
RESUME=()
if [[ -f "$OUT/last.pt" ]]; then RESUME=(--resume "$OUT/last.pt"); fi

python -m molvae train --data moses:train --beta 0.15 --schedule logistic --warmup-epochs 0.5 \
    --word-dropout 0.2 --batch-size 512 --lr 0.001 --epochs 50 --seed 0 --precision auto \
    --device "$DEVICE" --time-limit-minutes "$MINUTES" --checkpoint-minutes 1 -o "$OUT" -q "${RESUME[@]}"

python scripts/export_pretrained.py "$OUT/best.pt" "$OUT/default.pt" --name molvae-moses-v0.1
# the model card's figures:
python -m molvae sample -m "$OUT/default.pt" -n 30000 --seed 0 -o "$OUT/samples_30k.csv" -q
python -m molvae evaluate "$OUT/samples_30k.csv" -o "$OUT/metrics_30k" -q
python -m molvae reconstruct moses:test --limit 1000 -m "$OUT/default.pt" -o "$OUT/reconstruct_1k.csv"
python -m molvae diagnose -m "$OUT/default.pt" --data moses:test --limit 2000 -o "$OUT/diagnostics"
