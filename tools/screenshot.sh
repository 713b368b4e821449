#!/usr/bin/env bash
# Screenshots of a report page as a reader sees it, at a wide and a narrow window, so that
# layout problems (overflowing tables, unreadable figures) are seen, not guessed.
# Usage: tools/screenshot.sh REPORT_DIR_OR_HTML OUT_PREFIX [HEIGHT]
#   writes OUT_PREFIX-1400.png and OUT_PREFIX-800.png (HEIGHT px tall, default 3000).
set -euo pipefail
if [ $# -lt 2 ]; then
    echo "usage: $0 REPORT_DIR_OR_HTML OUT_PREFIX [HEIGHT]" >&2
    exit 2
fi
page=$1
[ -d "$page" ] && page=$page/index.html
if [ ! -f "$page" ]; then
    echo "no such page: $page" >&2
    exit 2
fi
browser=${CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$browser" ]; then
    echo "no chromium at $browser (set CHROMIUM)" >&2
    exit 2
fi
height=${3:-3000}
url="file://$(realpath "$page")"
for width in 1400 800; do
    profile=$(mktemp -d)  # a fresh profile each time: no state carried between shots
    out="$2-$width.png"
    # Flags: no network, no GPU, no sandbox (root), no scrollbars changing the page width.
    "$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --user-data-dir="$profile" --hide-scrollbars --window-size="$width,$height" \
        --screenshot="$(realpath -m "$out")" "$url" >/dev/null 2>&1 || {
        rm -rf "$profile"
        echo "chromium failed on $url at $width px" >&2
        exit 1
    }
    rm -rf "$profile"
    echo "$out"
done
