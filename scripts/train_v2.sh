#!/usr/bin/env bash
# Toy model v2 (issue 32; docs/toy_edit_quality.md section 12): the UNet and text encoder trained from scratch on the
# CPU in resumable stretches, with a2355's VAE (the shipped one) kept.
#
#   bash scripts/train_v2.sh                 # start or continue for $MINUTES minutes, then save and exit
#   bash scripts/train_v2.sh export-resume   # write the compact resume point into $RESUME (commit it)
#   bash scripts/train_v2.sh export          # export the pipeline from the EMA weights into $RUN/export
#   bash scripts/train_v2.sh status          # the last lines of the log
#
# Continue = the local full checkpoint $RUN/unet.pt (weights, EMA, optimiser) if there is one, else the compact
# resume point $RESUME (fp16 EMA weights: a fresh optimiser warmed up over 100 steps, the learning-rate schedule going
# on at the recorded step; the latent pool is first rebuilt from the data seed, ~30 min on one core), else from scratch.
# Checkpoints are written every 10 minutes (temporary file + rename), so killing the run loses at most 10 minutes.
# On a GPU: DEVICE=cuda THREADS=8 bash scripts/train_v2.sh (the same recipe; the batch stays 32 so the schedule holds).
#
# The recipe (each choice and its evidence: docs/toy_edit_quality.md section 12):
#   SD v1's layout: one transformer block per attention layer, none at the lowest level (the authors' UNet can load it)
#   a training frame = a random frame of an 8-frame clip: motions, pan offsets, lighting drift; pan and drift 3/4 each
#   object radius 5-15 px for every caption (size and position must come from z_T, not from the words)
#   20 % empty captions; localisation below t = 600 only; coverage on the object words + the outside penalty
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=${RUN:-runs/v2}
RESUME=${RESUME:-data/toy_v2_resume}
MINUTES=${MINUTES:-60}
PY=${PYTHON:-python3}
RECIPE=(--seed 0 --vae-from fatezero_lab/toyworld/weights
  --model '{"transformer_depth": 1, "lowest_attention": false}'
  --pool 50000 --two-object-fraction 0.5 --clip-frames 8 --pan-fraction 0.75 --drift-fraction 0.75
  --radius-min 5 --radius-max 15
  --unet-steps 10000 --unet-batch 32 --unet-lr 1e-3 --warmup 200 --empty-caption 0.2 --min-snr-gamma 5 --ema 0.999
  --loc-weight 0.05 --loc-max-t 600 --cover-weight 0.1 --cover-words objects --outside-weight 0.3)
RUNTIME=(--run "$RUN" --device "${DEVICE:-cpu}" --threads "${THREADS:-1}" --ckpt-every 1000000 --ckpt-minutes 10
  --log-every 50 --resume-warmup 100 ${EXTRA:-})  # EXTRA: e.g. "--quick" for a smoke run
train() { $PY -m fatezero_lab.toyworld.train "${RECIPE[@]}" "${RUNTIME[@]}" "$@"; }
mkdir -p "$RUN"

case "${1:-train}" in
  train)
    from=()
    if [ -f "$RUN/unet.pt" ]; then echo "== continuing the local checkpoint $RUN/unet.pt"
    elif [ -f "$RESUME/resume.json" ]; then echo "== starting from the compact resume point $RESUME"
    else echo "== starting from scratch"; fi
    [ -f "$RESUME/resume.json" ] && from=(--resume-from "$RESUME")  # checks the recipe; the local checkpoint wins
    train "${from[@]}" --stage unet --minutes "$MINUTES"
    ;;
  export-resume) train --stage resume-point --export-to "$RESUME"; du -sh "$RESUME" ;;
  export) train --stage export --export-to "$RUN/export" ;;
  status) grep "unet: step\|resum\|latents\|stopped" "$RUN/log.txt" | tail -n 5 ;;
  *) echo "usage: bash scripts/train_v2.sh [train|export-resume|export|status]"; exit 2 ;;
esac
