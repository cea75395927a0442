#!/usr/bin/env bash
# check_report_charts.sh LOADGEN TEST_MATRIX_REPORT TEST_MATRIX_LIVE - the
# page's interactive charts in headless Chromium: on the final page of
# `report` over test_matrix_report's folder, and on the live page
# fl_mr_write_live writes for a copy without runs.json, every chart box
# holds a drawn dygraph (canvases), the page's driver drew them all, and
# the browser logged no console message at all (an uncaught error is one);
# the live page has the reload meta, the final page has none; without
# dygraphs the page loads cleanly and says so in one line.
# Exit 0 pass, 1 fail, 77 skip (no chromium, or no libjs-dygraphs).
set -euo pipefail
loadgen=$1
fake=$2
live=$3

browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ]; then
    echo "SKIP: chromium is not installed (scripts/deps.sh installs it)"
    exit 77
fi
lib=${FRAGLAB_DYGRAPHS_DIR:-/usr/share/javascript/dygraphs}
if [ ! -r "$lib/dygraph.min.js" ]; then
    echo "SKIP: libjs-dygraphs is not installed ($lib/dygraph.min.js; scripts/deps.sh installs it)"
    exit 77
fi

dir=$(mktemp -d /tmp/fraglab-report-charts-XXXXXX)
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL $*"; exit 1; }
export HOME="$dir/home"
mkdir -p "$HOME"

# load PAGE NAME: the DOM after the scripts ran into $dir/NAME.dom, the
# browser's log into $dir/NAME.log. The budget stays under the live
# page's 5 s reload.
load() {
    timeout 60 "$browser" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
        --no-first-run --user-data-dir="$dir/profile-$2" --enable-logging=stderr --v=0 \
        --window-size=1400,900 --virtual-time-budget=2500 --dump-dom "file://$1" \
        >"$dir/$2.dom" 2>"$dir/$2.log" || { cat "$dir/$2.log"; fail "$2: chromium exited $?"; }
    if grep -E ':CONSOLE|Uncaught' "$dir/$2.log"; then
        fail "$2: the page logged to the console"
    fi
}

# charts NAME WANT: WANT chart boxes, each with a canvas, all drawn, no error shown.
charts() {
    python3 - "$dir/$1.dom" "$2" "$1" <<'PY'
import sys
from html.parser import HTMLParser
dom, want, name = open(sys.argv[1]).read(), int(sys.argv[2]), sys.argv[3]
class P(HTMLParser):
    def __init__(self):
        super().__init__(); self.stack = []; self.charts = {}; self.drawn = None; self.err = None; self.errtext = ""
    def handle_starttag(self, tag, a):
        a = dict(a)
        if tag in ("br", "img", "input", "meta", "link", "hr"):
            if tag == "input":
                for c in self.stack:
                    if c: self.charts[c]["inputs"] += 1
            return
        cid = a.get("id", "") if "chart" in (a.get("class") or "").split() else ""
        if a.get("id") == "charts": self.drawn = a.get("data-drawn")
        if cid: self.charts[cid] = {"canvas": 0, "inputs": 0}
        if tag == "canvas":
            for c in self.stack:
                if c: self.charts[c]["canvas"] += 1
        self.stack.append(cid)
        self.err = a.get("id") == "chart-errors"
    def handle_endtag(self, tag):
        if self.stack: self.stack.pop()
        self.err = False
    def handle_data(self, d):
        if self.err: self.errtext += d
p = P(); p.feed(dom)
bad = [c for c, v in p.charts.items() if v["canvas"] == 0]
if len(p.charts) != want: sys.exit(f"FAIL {name}: {len(p.charts)} chart boxes, want {want}: {list(p.charts)}")
if bad: sys.exit(f"FAIL {name}: no canvas in {bad}")
if p.drawn != str(want): sys.exit(f"FAIL {name}: the driver drew {p.drawn}, want {want}")
if p.errtext.strip(): sys.exit(f"FAIL {name}: the page shows {p.errtext.strip()!r}")
print(f"{name}: {want} charts drawn, canvases in each")
PY
}

# The final page: no reload; RSS, live, overhead, ratios, req/s, p99.
"$fake" --write-fake "$dir/final"
"$loadgen" report "$dir/final" --no-plots >/dev/null || fail "report exited $?"
grep -q 'http-equiv="refresh"' "$dir/final/index.html" && fail "the final page reloads itself"
load "$dir/final/index.html" final
charts final 6

# The live page of a matrix that has not written runs.json yet.
"$fake" --write-fake "$dir/live"
rm "$dir/live/runs.json"
"$live" --write-live "$dir/live" running || fail "fl_mr_write_live failed"
grep -q '<meta http-equiv="refresh" content="5">' "$dir/live/index.html" ||
    fail "the live page does not reload itself"
load "$dir/live/index.html" live
charts live 6
grep -q 'id="live"' "$dir/live.dom" || fail "the live page does not say it is live"

# Without dygraphs: one line, the tables, and still a clean console.
FRAGLAB_DYGRAPHS_DIR="$dir/none" "$loadgen" report "$dir/final" --no-plots >/dev/null
load "$dir/final/index.html" nolib
grep -q "Interactive charts need Debian's libjs-dygraphs" "$dir/nolib.dom" ||
    fail "no line saying the charts need libjs-dygraphs"
grep -q '<table id="matrix">' "$dir/nolib.dom" || fail "no table without dygraphs"

echo "PASS report charts (final, live, without dygraphs)"
