#!/usr/bin/env bash
# The deciding runs of the quality study (docs/quality.md) on one lent GPU, prepared to start at once.
# Six runs side by side for MINUTES each (the H100 earlier ran three jobs at 23k mol/s each and was
# underused), then scored by scripts/studies/study_quality.py (--rescore: scored again from where each run has got):
#   gpu_v06                        continues molvae-moses-v0.9, the sampling model, from its shipped weights
#                                  with its own recipe (beta 0.6, no word dropout): the next sampling model
#                                  (export it with scripts/release/export_pretrained.py)
#   gpu_ft_beta1.8_fb0.25          v0.2's weights at the MOSES VAE's KL weight, with free bits
#   gpu_scratch_beta0.6[_...]      from scratch at the sampling model's KL weight: the default sizes, a 3 x 512 decoder
#                                  (the MOSES VAE's), 128 latent dimensions, no word dropout
# Everything lands in OUT (default $OUT or runs/gpu_quality): each run's last.pt/best.pt and log,
# study.csv, study.json, pareto.png, and gpu_v06's code-bank rows (code_prior.csv, .md, .png).
#
#   MINUTES=8 bash scripts/release/gpu_quality.sh            # on the device machine: OUT=$OUT is brought back
#   DRY=1 bash scripts/release/gpu_quality.sh                # print the commands only
#
# A run stopped by the time limit resumes with the same command (each variant continues its last.pt).
set -euo pipefail
OUT=${OUT:-runs/gpu_quality}
MINUTES=${MINUTES:-8}
BATCH=${BATCH:-1024}
V06=molvae/pretrained/molvae-moses-v0.9.pt
V02=molvae/pretrained/molvae-moses-v0.2.1.pt
FT=(--schedule constant --lr 0.0005)
SCRATCH=(--warmup-epochs 0.3)
COMMON=(--data moses:train --device cuda --precision auto --batch-size "$BATCH" --epochs 100 --checkpoint-minutes 1
        --time-limit-minutes "$MINUTES" --workers 2 --threads 2 -q)
declare -A VARIANTS=(
  [gpu_v06]="--init-from $V06 ${FT[*]} --beta 0.6 --free-bits 0 --word-dropout 0"
  [gpu_ft_beta1.8_fb0.25]="--init-from $V02 ${FT[*]} --beta 1.8 --free-bits 0.25"
  [gpu_scratch_beta0.6]="${SCRATCH[*]} --beta 0.6"
  [gpu_scratch_beta0.6_dec3x512]="${SCRATCH[*]} --beta 0.6 --decoder-hidden 512 --decoder-layers 3"
  [gpu_scratch_beta0.6_z128]="${SCRATCH[*]} --beta 0.6 --latent-dim 128"
  [gpu_scratch_beta0.6_wd0]="${SCRATCH[*]} --beta 0.6 --word-dropout 0"
)
# DRY=1: print each command instead of running it, and write nothing (its logs go nowhere)
run() { if [[ -n "${DRY:-}" ]]; then echo "$*" >&3; else "$@"; fi; }
log() { if [[ -n "${DRY:-}" ]]; then echo /dev/null; else echo "$OUT/$1"; fi; }
exec 3>&1
[[ -n "${DRY:-}" ]] || mkdir -p "$OUT"
if [[ -z "${DRY:-}" ]] && ! python -c "from molvae.checkpoint import load_checkpoint as l; import sys; \
    sys.exit(l('$V06')['meta']['release']['name'] != 'molvae-moses-v0.9')"; then
  echo "$V06 is not molvae-moses-v0.9; gpu_v06 would continue the wrong weights" >&2; exit 2
fi
# preprocess MOSES-train once with every core (one step of a throwaway run fills the cache); six runs
# preprocessing it each with 2 processes on a fresh machine would spend minutes of the window on it
[[ -n "${DRY:-}" ]] || rm -rf "$OUT/.warmup"
run python -m molvae train --data moses:train --device cuda --epochs 1 --stop-at-step 1 --workers 16 -q \
  -o "$OUT/.warmup" > "$(log warmup.log)" 2>&1 || echo "warm-up failed (see $OUT/warmup.log); the runs preprocess alone" >&2
[[ -n "${DRY:-}" ]] || rm -rf "$OUT/.warmup"
for name in "${!VARIANTS[@]}"; do
  dir="$OUT/$name"
  # continuing a run resumes its last.pt (its settings are its own: the start flags are left out)
  if [[ -f "$dir/last.pt" ]]; then flags=(--resume "$dir/last.pt"); else read -ra flags <<< "${VARIANTS[$name]}"; fi
  run python -m molvae train "${COMMON[@]}" "${flags[@]}" -o "$dir" > "$(log "$name.log")" 2>&1 &
done
wait || true
# score each (10,000 prior samples from N(0, I), 1,000 test reconstructions; the GPU runs ChemNet too)
# only the runs that got as far as a checkpoint (a run that failed to start would stop the study)
trained=()
for name in "${!VARIANTS[@]}"; do
  if [[ -n "${DRY:-}" || -f "$OUT/$name/last.pt" ]]; then trained+=("$name"); [[ -n "${DRY:-}" ]] || touch "$OUT/$name/done"; fi
done
run python scripts/studies/study_quality.py --out "$OUT" --only shipped "${trained[@]}" --rescore --threads 8 --workers 8 \
  > "$(log study.log)" 2>&1 || true
# the next sampling model with a code bank (docs/quality.md, "Where the codes come from"): BANK_WIDTHS="" skips it
BANK_WIDTHS=${BANK_WIDTHS:-0.75 0.85}
if [[ -n "$BANK_WIDTHS" ]]; then
  # shellcheck disable=SC2086
  run python scripts/studies/study_code_prior.py -m "$OUT/gpu_v06/last.pt" --label gpu_v06 --widths $BANK_WIDTHS \
    --no-slerp --no-normal --relax 0 --threads 8 --workers 8 --out "$OUT" > "$(log code_prior.log)" 2>&1 || true
fi
[[ -n "${DRY:-}" ]] || ls -la "$OUT"
