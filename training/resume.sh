#!/usr/bin/env bash
# The run that keeps going: start it in the background, stop it, or see how it is doing.
#
#   bash training/resume.sh          # start (prepares data/aligned128 first if missing, ~2 min)
#   bash training/resume.sh status   # is it running; its last losses row and the state's images seen
#   bash training/resume.sh stop     # SIGTERM: it checkpoints into the recipe's state folder, then exits
#   bash training/resume.sh compact [FOLDER]  # before committing a state: its discriminator kept, its training
#                                    # generator dropped (the EMA one starts both): a tenth of the size
#
# It runs 'anonymize-train resume' under nice -n 19, so anything else on the machine comes first: by default
# the recipe RESUMED names in anonymizer/training/recipes.py (now 'aligned-pose', the coarse pose), or
# another with --recipe after start (e.g. start --recipe aligned-pose). Every 10 minutes, and when stopped, the recipe's compact
# state (training/aligned_pose/, or the named recipe's: EMA generator, generator and discriminator in fp16,
# under 11 MB) is replaced. The full checkpoint, samples and losses are in the recipe's run folder under data/
# (not committed). Extra arguments go to 'anonymize-train resume' (--recipe, --minutes, --threads, --photos).
set -euo pipefail
cd "$(dirname "$0")/.."
PID_FILE=data/resume.pid
LOG=data/resume.log
running() { [ -f "$PID_FILE" ] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null; }

case "${1:-start}" in
stop)
    if running; then
        pid=$(cat "$PID_FILE")
        kill -CONT "$pid" 2>/dev/null || true  # a paused run must wake to checkpoint
        kill -TERM "$pid"
        while kill -0 "$pid" 2>/dev/null; do sleep 1; done
        echo "stopped; its state is in its recipe's folder (training/aligned_wide/, training/aligned_pose/, ...)"
    else
        echo "not running"
    fi
    rm -f "$PID_FILE"
    ;;
status)
    if running; then echo "running, pid $(cat "$PID_FILE")"; else echo "not running"; fi
    for run in data/run_aligned data/run_aligned_wide data/run_aligned_pose data/run_aligned_projected; do
        [ -f "$run/losses.csv" ] && echo "$run: $(tail -n 1 "$run/losses.csv")"
    done
    for state in training/aligned training/aligned_wide training/aligned_pose training/aligned_projected; do
        [ -f "$state/generator.json" ] && python3 -c 'import json, sys; t = json.load(open(sys.argv[1] + "/generator.json"))["training"]; print(sys.argv[1] + ":", t["images_seen"], "images seen,", t["training_hours"], "h")' "$state"
    done
    ;;
compact)
    state=${2:-training/aligned_pose}
    if running; then echo "stop the run first (bash training/resume.sh stop): it rewrites its state every 10 minutes" >&2; exit 1; fi
    if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi
    "$PY" -c 'import sys; from anonymizer.training.train import drop_training_generator as d; print(sys.argv[1] + "/state.safetensors:", d(sys.argv[1]), "bytes, the discriminator alone")' "$state"
    ;;
start)
    shift || true
    if running; then echo "already running, pid $(cat "$PID_FILE")"; exit 0; fi
    mkdir -p data
    if [ -x .venv/bin/anonymize-train ]; then TRAIN=.venv/bin/anonymize-train; else TRAIN=anonymize-train; fi
    nohup nice -n 19 "$TRAIN" --quiet resume "$@" >>"$LOG" 2>&1 &
    echo $! >"$PID_FILE"
    echo "started, pid $!; log in $LOG"
    ;;
*)
    echo "usage: bash training/resume.sh [start|stop|status|compact] [anonymize-train resume options | FOLDER]" >&2
    exit 2
    ;;
esac
