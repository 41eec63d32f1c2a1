#!/usr/bin/env bash
# The run that keeps going, for a fixed time on a lent accelerator: the same recipe as on the CPU
# (anonymize-train resume; bf16 autocast on CUDA; RECIPE, by default the one resume.sh trains), from that
# recipe's compact state (training/aligned_pose/), with a larger batch. It leaves in
# $OUT/state the new compact state (copy it over the recipe's state folder and the CPU run continues from it;
# "bash training/resume.sh compact" before committing it keeps its discriminator and drops the rest),
# with the loss log and the last sample sheet beside it. The same command runs on the CPU for a test
# (tests/training/test_accelerator_script.py does, on a handful of faces):
#
#   OUT=/tmp/acc DEVICE=cpu MINUTES=1 BATCH=8 bash training/accelerator.sh
#
# It needs DATA (default data/pack_aligned128.npz), carried with the tree (at most 64 MiB travel):
#   anonymize-train pack --data data/aligned128 --out data/pack_aligned128.npz --max-mb 55
# and nothing installed but torch, numpy, opencv, safetensors, pillow and tqdm (and, for the projected
# discriminator, the EfficientNet-Lite0 wheel of the train extra).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${OUT:?set OUT to the folder that receives the results}"
MINUTES=${MINUTES:-7.5}
DEVICE=${DEVICE:-cuda}
BATCH=${BATCH:-64}
RUN=${RUN:-/tmp/anonymizer-run}
DATA=${DATA:-data/pack_aligned128.npz}
PYTHON=${PYTHON:-python3}
RECIPE=${RECIPE:-$(PYTHONPATH=. "$PYTHON" -c 'from anonymizer.training.recipes import RESUMED; print(RESUMED)')}
# The recipe's own state, or while it has none yet the state its first run starts from.
STATE=${STATE:-$(PYTHONPATH=. "$PYTHON" -c "from anonymizer.training.recipes import RECIPES; print(RECIPES['$RECIPE'].starts_from())")}
rm -rf "$RUN"
mkdir -p "$OUT/state"
if [ -d "$STATE" ]; then
    cp "$STATE"/* "$OUT/state/" 2>/dev/null || echo "no state in $STATE: a fresh start"
else
    # A start that left the tree (REVISION:folder) is read from the repository's history, which may not travel.
    echo "$RECIPE starts from $STATE; taking it from the repository's history"
    PYTHONPATH=. "$PYTHON" -c "import sys; from anonymizer.training.recipes import copy_start; copy_start(sys.argv[1], sys.argv[2])" "$STATE" "$OUT/state"
fi
{ command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total --format=csv,noheader; } || true
"$PYTHON" -c 'import torch; print("torch", torch.__version__, "cuda", torch.cuda.is_available())'
PYTHONPATH=. PYTHONUNBUFFERED=1 "$PYTHON" -m anonymizer.training.cli resume --recipe "$RECIPE" --data "$DATA" \
    --run "$RUN" --state "$OUT/state" --minutes "$MINUTES" --device "$DEVICE" --batch-size "$BATCH" \
    2>&1 | tr '\r' '\n' | grep -v '^training: ' | tee "$OUT/log.txt"
tail -n 3 "$RUN/losses.csv"
cp "$RUN"/losses.csv "$OUT"/
cp "$(ls "$RUN"/samples/*.png | tail -n 1)" "$OUT"/samples.png
ls -la "$OUT" "$OUT/state"
