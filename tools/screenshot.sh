#!/bin/sh
# Render a local HTML page to PNG with headless Chromium (Debian's `chromium` package).
#
#   tools/screenshot.sh PAGE.html [OUT.png] [WIDTH,HEIGHT]
#
# Installs chromium, and a CJK font so Chinese does not come out as boxes, when they are missing
# (apt-get: needs root, or sudo). The browser gets a throw-away profile and no network features:
# the pages are self-contained, nothing needs to be fetched.
set -eu

page=${1:?usage: tools/screenshot.sh PAGE.html [OUT.png] [WIDTH,HEIGHT]}
out=${2:-${page%.html}.png}
size=${3:-1280,2000}
test -f "$page" || { echo "no such page: $page" >&2; exit 2; }

missing=""
command -v chromium >/dev/null 2>&1 || missing="chromium"
fc-list :lang=zh 2>/dev/null | grep -q . || missing="$missing fonts-noto-cjk"
if [ -n "$missing" ]; then
    if [ "$(id -u)" -eq 0 ]; then sudo=""; elif command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
        echo "needs:$missing (apt-get install -y$missing, as root)" >&2; exit 1
    fi
    echo "installing:$missing" >&2
    $sudo apt-get update -qq
    # shellcheck disable=SC2086  # $missing is a list of package names
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $missing >/dev/null
fi

profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
page_url="file://$(cd "$(dirname "$page")" && pwd)/$(basename "$page")"
mkdir -p "$(dirname "$out")"
out_abs="$(cd "$(dirname "$out")" && pwd)/$(basename "$out")"
chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync --hide-scrollbars \
    --user-data-dir="$profile" --window-size="$size" --screenshot="$out_abs" "$page_url" \
    >/dev/null 2>"$profile/chromium.log" || { cat "$profile/chromium.log" >&2; exit 1; }
test -s "$out_abs" || { echo "chromium wrote no screenshot" >&2; cat "$profile/chromium.log" >&2; exit 1; }
echo "$out_abs"
