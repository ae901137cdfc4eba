#!/usr/bin/env bash
# The training campaign's run, started or resumed in the background from its own worktree.
#
#     bash scripts/studies/campaign_run.sh            # RUN=/work/molvae-runs/campaign, worktree /work/campaign
#
# Resumes RUN/last.pt when it exists; otherwise starts a new leg (4) from the shipped sampling model's
# weights, v0.7 (leg 3's epoch 8.0), at the rate leg 3's cosine had there (docs/quality.md, "Leg 3"). The precision follows the CPU (`--precision auto`): bf16
# autocast where oneDNN has a bf16 path (AVX512-BF16 or AMX), fp32 elsewhere (on AVX2-only cores
# bf16 ran 48 s a step against fp32's 3.9). The preprocessed MOSES-train is kept beside the run (MOLVAE_CACHE), so a
# new home folder does not cost the 13 minutes of preprocessing. Logs go to RUNS/campaign.log.
set -euo pipefail
RUNS=${RUNS:-/work/molvae-runs}
RUN=${RUN:-$RUNS/campaign}
TREE=${TREE:-/work/campaign}
REPO=$(cd "$(dirname "$0")/../.." && pwd)
if pgrep -f "molvae train.*$RUN" >/dev/null; then echo "the campaign is running"; exit 0; fi
mkdir -p "$RUNS" && ln -sfn "$RUNS" ~/molvae-runs 2>/dev/null || true
{ echo 0 > /proc/sys/kernel/sched_autogroup_enabled; } 2>/dev/null || true  # so that nice orders work across sessions
if [ ! -d "$TREE" ]; then git -C "$REPO" worktree prune; git -C "$REPO" worktree add --detach "$TREE" HEAD; fi
export MOLVAE_CACHE=$RUNS/cache
cd "$TREE"
if [ -f "$RUN/last.pt" ]; then
  set -- python -m molvae train --resume "$RUN/last.pt" --precision auto --threads 2 --workers 2 \
      --checkpoint-minutes 5 -o "$RUN"
else
  set -- python -m molvae train --init-from "$REPO/molvae/pretrained/molvae-moses-v0.7.pt" --data moses:train \
      --beta 0.6 --schedule constant --free-bits 0 --word-dropout 0 --batch-size 512 --epochs 12 \
      --lr 0.000413 --lr-schedule cosine --lr-warmup-epochs 0.05 --lr-final 0.121 --seed 9 \
      --precision auto --threads 2 --workers 2 --checkpoint-minutes 5 --snapshot-epochs 0.5 -o "$RUN"
fi
if [ ! -f "$RUN/last.pt" ]; then
  echo "a new leg from v0.7: score it with" \
       "campaign.py score $RUN --continues molvae/pretrained/molvae-moses-v0.7.pt --leg N (N: the highest leg + 1, 4 after leg 3)"
fi
echo "$(date -u +%FT%TZ) worktree $(git -C "$TREE" rev-parse --short HEAD): $*" >> "$RUNS/campaign.log"
nohup "$@" >> "$RUNS/campaign.log" 2>&1 &
echo "campaign started (pid $!): tail -c 300 $RUNS/campaign.log"
