#!/usr/bin/env bash
# Reproduce molvae's three shipped models (molvae/pretrained/*.pt); see docs/model_card.md.
#
#   bash scripts/release/train_default.sh [OUT]        # OUT defaults to runs/default
#
# molvae-moses-v0.2.1 (the latent tools' default): two stages, as its weights (molvae-moses-v0.2)
# were trained on lent GPUs, then its code bank (molvae fit-prior, a few minutes on a CPU):
#   stage 1: 3.5 minutes on an H100 (3.1 epochs), beta rising to 0.15 over half an epoch;
#   stage 2: from stage 1's weights (--init-from), beta constant at 0.15, half the learning rate:
#            6.2 minutes on an H200 (8.4 epochs; best.pt at the end of the 8th).
# MINUTES1 and MINUTES2 set the two budgets (a CPU runs about 440 molecules/s on 2 cores with bf16,
# about an hour per epoch). Each stage resumes from its last.pt if it is stopped and started again,
# and is skipped once it has finished (its folder holds a file "done"; delete it to continue a stage).
# molvae-moses-v0.3 (shipped until v0.4, now v0.4's starting point): v0.2's weights fine-tuned on all
# of MOSES-train with beta 0.6 for STEPS3 optimizer steps of 512 molecules (trained on this project's
# 2-core CPU, over several sessions, at about 4 s a step; resumable: run the script again), then its own
# code bank. molvae-moses-v0.4 (the sampling default) continues it without word dropout (below).
set -euo pipefail
OUT=${1:-runs/default}
MINUTES1=${MINUTES1:-3.5}
MINUTES2=${MINUTES2:-6.2}
DEVICE=${DEVICE:-auto}
COMMON=(--data moses:train --beta 0.15 --free-bits 0 --word-dropout 0.2 --batch-size 512 --epochs 50
        --precision auto --device "$DEVICE" --checkpoint-minutes 1 -q)

if [[ ! -f "$OUT/stage1/done" ]]; then  # stage 1 (resumed if a previous call was stopped in it)
    RESUME=(); [[ -f "$OUT/stage1/last.pt" ]] && RESUME=(--resume "$OUT/stage1/last.pt")
    python -m molvae train "${COMMON[@]}" --schedule logistic --warmup-epochs 0.5 --lr 0.001 --seed 0 \
        --time-limit-minutes "$MINUTES1" -o "$OUT/stage1" "${RESUME[@]}"
    touch "$OUT/stage1/done"
fi
if [[ ! -f "$OUT/stage2/done" ]]; then  # stage 2
    RESUME=(--init-from "$OUT/stage1/best.pt")
    [[ -f "$OUT/stage2/last.pt" ]] && RESUME=(--resume "$OUT/stage2/last.pt")
    python -m molvae train "${COMMON[@]}" --schedule constant --lr 0.0005 --seed 1 \
        --time-limit-minutes "$MINUTES2" -o "$OUT/stage2" "${RESUME[@]}"
    touch "$OUT/stage2/done"
fi

python scripts/release/export_pretrained.py "$OUT/stage2/best.pt" "$OUT/v0.2.pt" --name molvae-moses-v0.2
# v0.2.1: the same weights with a code bank of 20,000 training molecules, drawn at width 1.65
# (the narrowest that keeps novelty above 0.85; docs/quality.md), re-exported to float16
python -m molvae fit-prior moses:train -m "$OUT/v0.2.pt" --size 20000 --width 1.65 --seed 0 -o "$OUT/v0.2_bank.pt" -q
python scripts/release/export_pretrained.py "$OUT/v0.2_bank.pt" "$OUT/molvae-moses-v0.2.1.pt" --name molvae-moses-v0.2.1

# fine_tune DIR INIT STEPS SEED WORD_DROPOUT [FLAG ...]: the sampling recipe (beta 0.6, constant) from
# INIT's weights to exactly STEPS optimizer steps of 512, with any further flags (they override these);
# resumed from DIR/last.pt, skipped once DIR/done exists
fine_tune() {
    local resume=(--init-from "$2")
    [[ -f "$1/last.pt" ]] && resume=(--resume "$1/last.pt")
    [[ -f "$1/done" ]] || python -m molvae train --data moses:train --beta 0.6 --free-bits 0 --word-dropout "$5" \
        --schedule constant --lr 0.0005 --batch-size 512 --epochs 20 --seed "$4" --precision auto --device "$DEVICE" \
        --checkpoint-minutes 5 --stop-at-step "$3" -q -o "$1" "${@:6}" "${resume[@]}"
    touch "$1/done"
}

# bank_and_export vX.Y WIDTH TEMP: the run OUT/vX.Y's last.pt with a code bank of 20,000 MOSES-train
# molecules (seed 0) at WIDTH, decoded at TEMP, exported as OUT/molvae-moses-vX.Y.pt
bank_and_export() {
    python -m molvae fit-prior moses:train -m "$OUT/$1/last.pt" --size 20000 --width "$2" --temperature "$3" \
        --seed 0 -o "$OUT/$1_bank.pt" -q
    python scripts/release/export_pretrained.py "$OUT/$1_bank.pt" "$OUT/molvae-moses-$1.pt" --name "molvae-moses-$1"
}

STEPS3=${STEPS3:-2380}
WIDTH3=${WIDTH3:-0.92}
fine_tune "$OUT/v0.3" "$OUT/v0.2.pt" "$STEPS3" 3 0.2
python -m molvae fit-prior moses:train -m "$OUT/v0.3/last.pt" --size 20000 --width "$WIDTH3" --seed 0 -o "$OUT/v0.3_bank.pt" -q
python scripts/release/export_pretrained.py "$OUT/v0.3_bank.pt" "$OUT/molvae-moses-v0.3.pt" --name molvae-moses-v0.3

# molvae-moses-v0.4 (the sampling default from 2026-12-02, the optimizers' default): v0.3's file trained on
# without word dropout, seed 4, for STEPS4 optimizer steps of 512 (this project's 2-core CPU: about 3 s a step),
# then its own code bank at width WIDTH4 (novelty 0.878 on 30,000 samples; 0.7, measured later, also
# stays above 0.85 with less margin: docs/quality.md)
STEPS4=${STEPS4:-1624}
WIDTH4=${WIDTH4:-0.75}
fine_tune "$OUT/v0.4" "$OUT/molvae-moses-v0.3.pt" "$STEPS4" 4 0
python -m molvae fit-prior moses:train -m "$OUT/v0.4/last.pt" --size 20000 --width "$WIDTH4" --seed 0 -o "$OUT/v0.4_bank.pt" -q
python scripts/release/export_pretrained.py "$OUT/v0.4_bank.pt" "$OUT/molvae-moses-v0.4.pt" --name molvae-moses-v0.4

# molvae-moses-v0.5 (the sampling default 2026-12-05 to 2026-12-06, v0.6's start): the campaign's first 2.5 epochs
# (docs/quality.md): v0.4's file trained on in bf16 with a cosine learning rate over 20 epochs (5e-4 to
# 5e-5 after a 0.05-epoch warm-up), seed 6, to STEPS5 steps of 512 (this CPU: about 2 s a step), then
# its own code bank at WIDTH5
STEPS5=${STEPS5:-7690}
WIDTH5=${WIDTH5:-0.75}
fine_tune "$OUT/v0.5" "$OUT/molvae-moses-v0.4.pt" "$STEPS5" 6 0 \
    --precision bf16 --lr-schedule cosine --lr-warmup-epochs 0.05 --lr-final 0.1
python -m molvae fit-prior moses:train -m "$OUT/v0.5/last.pt" --size 20000 --width "$WIDTH5" --seed 0 -o "$OUT/v0.5_bank.pt" -q
python scripts/release/export_pretrained.py "$OUT/v0.5_bank.pt" "$OUT/molvae-moses-v0.5.pt" --name molvae-moses-v0.5

# molvae-moses-v0.6.1 (the sampling default 2026-12-06 to 07; v0.6 had the same weights with a bank at 0.85):
# the campaign's second leg, from v0.5's
# file (a fresh optimizer) in bf16 with a cosine learning rate over 18 epochs (4.8e-4, where leg 1's
# cosine stood, to 5e-5 after a 0.05-epoch warm-up), seed 7, to STEPS6 steps of 512 (campaign epoch
# 7.0; this CPU: about 1.3 s a step), then its own code bank at WIDTH6, the narrowest width
# that keeps novelty over 0.85 with a margin (0.856 on 30,000; v0.6's 0.85 gave 0.867)
STEPS6=${STEPS6:-13842}
WIDTH6=${WIDTH6:-0.806}
fine_tune "$OUT/v0.6" "$OUT/molvae-moses-v0.5.pt" "$STEPS6" 7 0 \
    --precision bf16 --epochs 18 --lr 0.00048 --lr-schedule cosine --lr-warmup-epochs 0.05 --lr-final 0.104
python -m molvae fit-prior moses:train -m "$OUT/v0.6/last.pt" --size 20000 --width "$WIDTH6" --seed 0 -o "$OUT/v0.6_bank.pt" -q
python scripts/release/export_pretrained.py "$OUT/v0.6_bank.pt" "$OUT/molvae-moses-v0.6.1.pt" --name molvae-moses-v0.6.1

# molvae-moses-v0.7 (the sampling default on 2026-12-07, leg 4's start): the campaign's third leg, from v0.6's
# weights (a fresh optimizer) with a cosine learning rate over 13 epochs (4.18e-4, where leg 2's
# cosine stood at epoch 7.0, to 5e-5), seed 8, to STEPS7 steps (campaign epoch 8.0), then a bank at
# WIDTH7 decoded at TEMP7 (docs/quality.md, "Decoding temperature at equal novelty")
STEPS7=${STEPS7:-3076}
WIDTH7=${WIDTH7:-1.15}
TEMP7=${TEMP7:-0.5}
fine_tune "$OUT/v0.7" "$OUT/molvae-moses-v0.6.1.pt" "$STEPS7" 8 0 \
    --epochs 13 --lr 0.000418 --lr-schedule cosine --lr-warmup-epochs 0.05 --lr-final 0.12
bank_and_export v0.7 "$WIDTH7" "$TEMP7"

# molvae-moses-v0.8 (the sampling default on 2026-12-07): the campaign's fourth leg, from v0.7's
# weights (a fresh optimizer) with a cosine learning rate over 12 epochs (4.13e-4, where leg 3's
# cosine stood at epoch 8.0, to 5e-5; the flags of `scripts/studies/campaign.py new-leg`), seed 9, to
# STEPS8 steps (campaign epoch 10.0; bf16 where the CPU has a bf16 path), then a bank at WIDTH8 (the
# width of v0.7's novelty, searched by scripts/studies/ship_check.py) decoded at TEMP8
STEPS8=${STEPS8:-6152}
WIDTH8=${WIDTH8:-1.179}
TEMP8=${TEMP8:-0.5}
fine_tune "$OUT/v0.8" "$OUT/molvae-moses-v0.7.pt" "$STEPS8" 9 0 \
    --epochs 12 --lr 0.000413141 --lr-schedule cosine --lr-warmup-epochs 0.05 --lr-final 0.121
bank_and_export v0.8 "$WIDTH8" "$TEMP8"

# molvae-moses-v0.9 (the sampling default since 2026-12-07): the same run as v0.8 to STEPS9 steps
# (campaign epoch 11.5), resumed from v0.8's last.pt (or, where that is gone, trained again from
# v0.7's file with the same seed and flags), then a bank at WIDTH9 (the width of v0.8's novelty,
# searched on 30,000 samples by scripts/studies/ship_check.py) decoded at TEMP9
STEPS9=${STEPS9:-10766}
WIDTH9=${WIDTH9:-1.173}
TEMP9=${TEMP9:-0.5}
mkdir -p "$OUT/v0.9"
[[ -f "$OUT/v0.9/last.pt" || ! -f "$OUT/v0.8/last.pt" ]] || cp "$OUT/v0.8/last.pt" "$OUT/v0.9/last.pt"
fine_tune "$OUT/v0.9" "$OUT/molvae-moses-v0.7.pt" "$STEPS9" 9 0 \
    --epochs 12 --lr 0.000413141 --lr-schedule cosine --lr-warmup-epochs 0.05 --lr-final 0.121
bank_and_export v0.9 "$WIDTH9" "$TEMP9"

# the model card's figures, for each model:
for name in molvae-moses-v0.9 molvae-moses-v0.4 molvae-moses-v0.2.1; do
    python -m molvae sample -m "$OUT/$name.pt" -n 30000 --seed 0 -o "$OUT/$name/samples_30k.csv" --properties none -q
    python -m molvae evaluate "$OUT/$name/samples_30k.csv" -o "$OUT/$name/metrics_30k" -q
    python -m molvae reconstruct moses:test --limit 1000 -m "$OUT/$name.pt" -o "$OUT/$name/reconstruct_1k.csv"
    python -m molvae diagnose -m "$OUT/$name.pt" --data moses:test --limit 2000 -o "$OUT/$name/diagnostics"
done
