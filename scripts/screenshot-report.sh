#!/usr/bin/env bash
# Render a run's report.html to a full-page PNG with headless Chromium, as a reader at a given width sees it.
#
#   scripts/screenshot-report.sh runs/digits-demo/20261203-100006            # → <run>/report.png, 1,300 px wide
#   scripts/screenshot-report.sh RUN_DIR out.png 1600                         # another file and width
#
# Needs Debian's chromium (apt-get install chromium). Nothing is fetched: the report is self-contained and Chromium
# runs with its network features off. The page is drawn into a tall window, then the empty space below it is cut
# (with the project's Python and Pillow when .venv exists).
set -euo pipefail
run_dir=${1:?usage: screenshot-report.sh RUN_DIR [OUT.png] [WIDTH]}
out=${2:-$run_dir/report.png}
width=${3:-1300}
report="$(cd "$run_dir" && pwd)/report.html"
[[ -f "$report" ]] || { echo "no report.html in $run_dir (run: trainlab report $run_dir)" >&2; exit 2; }
chromium=$(command -v chromium || command -v chromium-browser || true)
[[ -n "$chromium" ]] || { echo "chromium not found: apt-get install chromium" >&2; exit 2; }
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
"$chromium" --headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run --disable-background-networking \
    --disable-component-update --disable-sync --user-data-dir="$profile" --window-size="$width,20000" \
    --screenshot="$out" "file://$report" 2>/dev/null
python=$(dirname "$0")/../.venv/bin/python
if [[ -x "$python" ]]; then
    "$python" - "$out" <<'PY'
import sys

import numpy as np
from PIL import Image

path = sys.argv[1]
image = Image.open(path).convert("RGB")
pixels = np.asarray(image)
rows = np.flatnonzero((pixels < 250).any(axis=(1, 2)))  # rows holding anything but white
bottom = min(image.height, int(rows[-1]) + 40) if len(rows) else image.height
image.crop((0, 0, image.width, bottom)).save(path)
print(f"{path}: {image.width}x{bottom}")
PY
else
    echo "$out"
fi
