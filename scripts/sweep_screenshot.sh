#!/usr/bin/env bash
# Renders a sweep's report.html to a PNG with headless Chromium, to check that the table and
# charts read well (and for the picture in README.md, docs/img/sweep-report.png).
#
#   scripts/sweep_screenshot.sh SWEEP_DIR [OUT.png]      (default OUT: docs/img/sweep-report.png)
#
# Needs Chromium (Debian: apt-get install -y chromium). The report has no scripts and loads
# nothing from the network, so a plain file:// load is the whole page.
set -euo pipefail

dir=${1:?usage: scripts/sweep_screenshot.sh SWEEP_DIR [OUT.png]}
out=${2:-docs/img/sweep-report.png}
size=${SWEEP_SCREENSHOT_SIZE:-1200,1600}

report="$(cd "$dir" && pwd)/report.html"
if [ ! -f "$report" ]; then
    echo "no report.html in $dir (write it with: hallu sweep report $dir)" >&2
    exit 1
fi
browser=""
for b in chromium chromium-browser google-chrome; do
    if command -v "$b" >/dev/null 2>&1; then browser=$(command -v "$b"); break; fi
done
if [ -z "$browser" ]; then
    echo "Chromium not found (Debian: apt-get install -y chromium)" >&2
    exit 1
fi

mkdir -p "$(dirname "$out")"
out_abs="$(cd "$(dirname "$out")" && pwd)/$(basename "$out")"
# A throwaway profile keeps the run independent of any user profile; --no-sandbox is needed when
# running as root (containers, CI).
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
"$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir="$profile" \
    --window-size="$size" --screenshot="$out_abs" "file://$report" >/dev/null 2>&1
if [ ! -s "$out_abs" ]; then
    echo "Chromium wrote no screenshot" >&2
    exit 1
fi
echo "wrote $out_abs ($(wc -c < "$out_abs") bytes)"
