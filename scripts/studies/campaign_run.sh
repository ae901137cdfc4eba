#!/usr/bin/env bash
# The training campaign's run, started or resumed in the background from its own worktree.
#
#     bash scripts/studies/campaign_run.sh            # RUN=/work/molvae-runs/campaign, worktree /work/campaign
#     DRY_RUN=1 RUN=/tmp/empty bash scripts/studies/campaign_run.sh   # print the command instead of starting it
#
# Resumes RUN/last.pt when it exists; otherwise starts a new leg from the shipped sampling model's
# weights, at the rate the campaign's cosine had there (`campaign.py new-leg`; docs/quality.md, "Leg 3").
# The precision follows the CPU (`--precision auto`): bf16
# autocast where oneDNN has a bf16 path (AVX512-BF16 or AMX), fp32 elsewhere (on AVX2-only cores
# bf16 ran 48 s a step against fp32's 3.9). The preprocessed MOSES-train is kept beside the run (MOLVAE_CACHE), so a
# new home folder does not cost the 13 minutes of preprocessing. Logs go to RUNS/campaign.log.
set -euo pipefail
RUNS=${RUNS:-/work/molvae-runs}
RUN=${RUN:-$RUNS/campaign}
TREE=${TREE:-/work/campaign}
REPO=$(cd "$(dirname "$0")/../.." && pwd)
if pgrep -f "molvae train.*$RUN" >/dev/null; then echo "the campaign is running"; exit 0; fi
NOTE=""
if [ -f "$RUN/last.pt" ]; then
  set -- python -m molvae train --resume "$RUN/last.pt" --precision auto --threads 2 --workers 2 \
      --checkpoint-minutes 5 -o "$RUN"
else  # a new leg from the shipped sampling model, where the cosine stood at its weights
  ERR=$(mktemp)
  if ! LEG=$(PYTHONPATH="$REPO" python "$REPO/scripts/studies/campaign.py" new-leg --out "$REPO/docs/bench/quality" 2>"$ERR"); then
    cat "$ERR" >&2; rm -f "$ERR"; exit 1
  fi
  NOTE=$(cat "$ERR"); rm -f "$ERR"  # how to score the new leg
  read -ra FLAGS <<< "$LEG"
  set -- python -m molvae train "${FLAGS[@]}" --precision auto --threads 2 --workers 2 --checkpoint-minutes 5 -o "$RUN"
fi
if [ -n "${DRY_RUN:-}" ]; then echo "$*"; [ -z "$NOTE" ] || echo "$NOTE"; exit 0; fi
mkdir -p "$RUNS" && ln -sfn "$RUNS" ~/molvae-runs 2>/dev/null || true
{ echo 0 > /proc/sys/kernel/sched_autogroup_enabled; } 2>/dev/null || true  # so that nice orders work across sessions
if [ ! -d "$TREE" ]; then git -C "$REPO" worktree prune; git -C "$REPO" worktree add --detach "$TREE" HEAD; fi
export MOLVAE_CACHE=$RUNS/cache
cd "$TREE"
{ echo "$(date -u +%FT%TZ) worktree $(git -C "$TREE" rev-parse --short HEAD): $*"; [ -z "$NOTE" ] || echo "$NOTE"; } >> "$RUNS/campaign.log"
[ -z "$NOTE" ] || echo "$NOTE"
nohup "$@" >> "$RUNS/campaign.log" 2>&1 &
echo "campaign started (pid $!): tail -c 300 $RUNS/campaign.log"
