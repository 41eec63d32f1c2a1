#!/usr/bin/env bash
# Train the generator for a fixed time on a lent accelerator, starting from training/generator.safetensors,
# and leave in $OUT what the next run starts from: the EMA generator (half precision), its discriminator
# heads, the loss log and the last sample sheet. The same command runs on the CPU for a short test:
#
#   OUT=/tmp/acc DEVICE=cpu MINUTES=1 BATCH=8 bash training/accelerator.sh
#
# It needs data/pack128.npz ('anonymize-train pack') and data/lite0_features.safetensors
# (models.projected, the frozen feature network in half precision, for --discriminator projected or
# --perceptual-weight), carried with the tree, and
# nothing installed but torch, numpy, opencv, safetensors, pillow and tqdm.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${OUT:?set OUT to the folder that receives the results}"
MINUTES=${MINUTES:-7.5}
DEVICE=${DEVICE:-cuda}
BATCH=${BATCH:-64}
RUN=${RUN:-/tmp/anonymizer-run}
rm -rf "$RUN"
mkdir -p "$OUT"
{ command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total --format=csv,noheader; } || true
python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.cuda.is_available())'
set -o pipefail
PYTHONPATH=. PYTHONUNBUFFERED=1 ANONYMIZER_LITE0=data/lite0_features.safetensors python3 -m anonymizer.training.cli \
    train --data data/pack128.npz --out "$RUN" --init training/generator.safetensors \
    --discriminator dcgan --minutes "$MINUTES" --device "$DEVICE" --batch-size "$BATCH" \
    --checkpoint-every 100000 --colour-jitter 0.1 --rec-weight 1 --colour-weight 5 --balance-sources \
    2>&1 | tr '\r' '\n' | grep -v '^training: ' | tee "$OUT/log.txt"
tail -n 3 "$RUN/losses.csv"
cp "$RUN"/generator.safetensors "$RUN"/generator.json "$RUN"/discriminator.safetensors "$RUN"/losses.csv "$OUT"/
cp "$(ls "$RUN"/samples/*.png | tail -n 1)" "$OUT"/samples.png
ls -la "$OUT"
