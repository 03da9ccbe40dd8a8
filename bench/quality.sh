#!/usr/bin/env bash
# The shared crop-and-restore benchmark: the project's `outpaint expand` against G'MIC inpaint_matchpatch,
# OpenCV Telea and Navier–Stokes, on the development photos (../shared/bench/get-images.sh fetches them).
# Usage: bench/quality.sh [OUTDIR] [extra outpaint_bench.py args, e.g. --limit 3 --configs wide,sky]
# Prints one JSON line per case and method, then the summary table; contact sheets go to OUTDIR.
set -euo pipefail
checkout=$(cd "$(dirname "$0")/.." && pwd)
# The checkout whose `npm run outpaint` is measured; point it at a snapshot (a copy of package.json, dist/
# and a node_modules link) when others may rebuild dist/ during the run.
prefix=${OUTPAINT_CHECKOUT:-$checkout}
out=${1:-$checkout/.bench-out/quality}
shift || true
images=${OUTPAINT_BENCH_IMAGES:-$HOME/.cache/outpaint-bench/images}
bench=${OUTPAINT_BENCH_SCRIPT:-$checkout/../shared/bench/outpaint_bench.py}
[ -f "$bench" ] || { echo "quality.sh: no benchmark at $bench: it comes from the team's shared folder beside the checkout (../shared/bench/outpaint_bench.py); set OUTPAINT_BENCH_SCRIPT to its path" >&2; exit 2; }
[ -d "$images" ] || { echo "quality.sh: no images in $images: run ../shared/bench/get-images.sh" >&2; exit 2; }
[ -f "$prefix/dist/src/cli/main.js" ] || (cd "$prefix" && npx tsc -p .)
mkdir -p "$out"
exec /usr/bin/python3 "$bench" --images "$images" --out "$out" --methods "${OUTPAINT_BENCH_METHODS:-telea,ns,gmic,project}" \
  --project-cmd "npm --prefix $prefix run -s outpaint -- expand {input} --up {up} --down {down} --left {left} --right {right} --seed {seed} --output {output}" \
  "$@"
