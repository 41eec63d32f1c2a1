#!/usr/bin/env bash
# The run that keeps going, for a fixed time on a lent accelerator: the same 'aligned' recipe as on the CPU
# (anonymize-train resume; bf16 autocast on CUDA), from the compact state in training/aligned/, with a larger
# batch. It leaves in $OUT/state the new compact state (copy it over training/aligned/ and the CPU run continues
# from it), with the loss log and the last sample sheet beside it. The same command runs on the CPU for a test:
#
#   OUT=/tmp/acc DEVICE=cpu MINUTES=1 BATCH=8 bash training/accelerator.sh
#
# It needs data/pack_aligned128.npz, carried with the tree (at most 64 MiB travel):
#   anonymize-train pack --data data/aligned128 --out data/pack_aligned128.npz --max-mb 55
# and nothing installed but torch, numpy, opencv, safetensors, pillow and tqdm.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${OUT:?set OUT to the folder that receives the results}"
MINUTES=${MINUTES:-7.5}
DEVICE=${DEVICE:-cuda}
BATCH=${BATCH:-64}
RUN=${RUN:-/tmp/anonymizer-run}
rm -rf "$RUN"
mkdir -p "$OUT/state"
cp training/aligned/* "$OUT/state/" 2>/dev/null || echo "no state in training/aligned: a fresh start"
{ command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total --format=csv,noheader; } || true
python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.cuda.is_available())'
PYTHONPATH=. PYTHONUNBUFFERED=1 python3 -m anonymizer.training.cli resume --data data/pack_aligned128.npz \
    --run "$RUN" --state "$OUT/state" --minutes "$MINUTES" --device "$DEVICE" --batch-size "$BATCH" \
    2>&1 | tr '\r' '\n' | grep -v '^training: ' | tee "$OUT/log.txt"
tail -n 3 "$RUN/losses.csv"
cp "$RUN"/losses.csv "$OUT"/
cp "$(ls "$RUN"/samples/*.png | tail -n 1)" "$OUT"/samples.png
ls -la "$OUT" "$OUT/state"
