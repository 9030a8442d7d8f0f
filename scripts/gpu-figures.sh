#!/usr/bin/env bash
# The GPU figures of issue 14, in one run on a device machine (see .library/device): the trainer against a plain
# optimized loop and a course-style loop for VGG-13 and ResNet-18 at 3x64x64, then the full-width ablation studies
# with 3 seeds on the 9,000 course images. Everything it measures lands in $OUT (JSON, report.md, the console log).
#
#   here:   mkdir -p .gpu-data && cp ../shared/data/cnn_dataset/cnn_dataset.tar.gz .gpu-data/
#   device: run(command="bash scripts/gpu-figures.sh", carry=[".venv", ".gpu-data"], timeout_s=540)
#
# Each step is capped with `timeout` so that one slow step cannot eat the others' time; a capped study still leaves
# its finished variants in its run folder.
set -uo pipefail
DATA=${DATA:-.gpu-data/cnn_dataset.tar.gz}
OUT=${OUT:-gpu-figures}
BIN=${BIN:-.venv/bin}
mkdir -p "$OUT"
log() { echo "[$(date +%H:%M:%S)] $*" | tee -a "$OUT/console.log"; }

log "device: $(nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null || echo none)"
for model in vgg13 resnet18; do
  log "bench $model at 3x64x64, full width"
  timeout 150 "$BIN/trainlab" bench --model "$model" --data "$DATA" --image-size 64 --width 1 --batch-size 256 \
    --steps 40 --pairs 3 --json > "$OUT/bench-$model.json" 2>> "$OUT/console.log" || log "bench $model: exit $?"
done
for recipe in vgg13-ablation resnet18-ablation; do
  log "study $recipe (3 seeds, full width)"
  timeout 120 "$BIN/trainlab" run "$recipe" --data "$DATA" --out "$OUT/runs" --set training.progress_bar=false \
    >> "$OUT/console.log" 2>&1 || log "study $recipe: exit $?"
done
find "$OUT/runs" -name report.md -exec cp --parents {} "$OUT" \; 2>/dev/null
log "done"
