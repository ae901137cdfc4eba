#!/usr/bin/env bash
# The deciding runs of the quality study (docs/quality.md) on one lent GPU, prepared to start at once:
# three variants side by side (the H100 earlier ran three jobs at 23k mol/s each and was underused),
# each fine-tuned from the shipped weights with a constant KL weight for MINUTES, then scored by
# scripts/study_quality.py (--rescore: no more training). Everything lands in OUT (default $OUT or
# runs/gpu_quality): the runs' last.pt/best.pt and logs, study.csv, study.json, pareto.png, and the
# beta 0.6 run's code-bank rows (code_prior.csv, .md, .png; about a minute a width).
#
#   MINUTES=8 bash scripts/gpu_quality.sh            # on the device machine: OUT=$OUT is brought back
#
# A run stopped by the time limit resumes with the same command (each variant continues its last.pt).
set -euo pipefail
OUT=${OUT:-runs/gpu_quality}
MINUTES=${MINUTES:-8}
BATCH=${BATCH:-1024}
mkdir -p "$OUT"
COMMON=(--data moses:train --device cuda --precision auto --batch-size "$BATCH" --epochs 100 --schedule constant
        --lr 0.0005 --init-from molvae/pretrained/default.pt --checkpoint-minutes 1 --time-limit-minutes "$MINUTES"
        --workers 4 --threads 4 -q)
declare -A VARIANTS=(
  [gpu_ft_beta0.6]="--beta 0.6 --free-bits 0"
  [gpu_ft_beta1.8]="--beta 1.8 --free-bits 0"
  [gpu_ft_beta1.8_fb0.25]="--beta 1.8 --free-bits 0.25"
)
for name in "${!VARIANTS[@]}"; do
  run="$OUT/$name"
  resume=(); [[ -f "$run/last.pt" ]] && resume=(--resume "$run/last.pt")
  # shellcheck disable=SC2086
  python -m molvae train "${COMMON[@]}" ${VARIANTS[$name]} -o "$run" "${resume[@]}" > "$OUT/$name.log" 2>&1 &
done
wait
# score each (10,000 prior samples, 1,000 test reconstructions; the GPU runs ChemNet too)
for name in "${!VARIANTS[@]}"; do touch "$OUT/$name/done"; done
python scripts/study_quality.py --out "$OUT" --only shipped "${!VARIANTS[@]}" --threads 8 --workers 8 \
  > "$OUT/study.log" 2>&1 || true
# the v0.3 recipe with a code bank (docs/quality.md, "Where the codes come from"): BANK_WIDTHS="" skips it
BANK_WIDTHS=${BANK_WIDTHS:-0.9 1}
if [[ -n "$BANK_WIDTHS" ]]; then
  # shellcheck disable=SC2086
  python scripts/study_code_prior.py -m "$OUT/gpu_ft_beta0.6/last.pt" --label gpu_ft_beta0.6 --widths $BANK_WIDTHS \
    --no-slerp --no-normal --relax 0 --threads 8 --workers 8 --out "$OUT" > "$OUT/code_prior.log" 2>&1 || true
fi
ls -la "$OUT"
