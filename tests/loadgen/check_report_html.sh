#!/usr/bin/env bash
# check_report_html.sh LOADGEN TEST_MATRIX_REPORT - `fraglab-loadgen report`
# with plots over the synthetic folder test_matrix_report writes: the PNGs
# are PNG files, and index.html, loaded in headless Chromium, has the
# table's rows and <img> elements whose files exist, and in a 1400x900
# window its tables fit: no column hides behind a horizontal scrollbar.
# Exit 0 pass, 1 fail, 77 skip (no chromium, or no gnuplot to draw the PNGs).
set -euo pipefail
loadgen=$1
fake=$2

browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ]; then
    echo "SKIP: chromium is not installed (scripts/deps.sh installs it)"
    exit 77
fi
if ! command -v gnuplot >/dev/null; then
    echo "SKIP: gnuplot is not installed (scripts/deps.sh)"
    exit 77
fi

dir=$(mktemp -d /tmp/fraglab-report-html-XXXXXX)
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL $*"; exit 1; }

"$fake" --write-fake "$dir"
"$loadgen" report "$dir" || fail "report exited $?"
cat "$dir/plots.log" 2>/dev/null || true

for png in overhead.png rss.png alloc.png bars.png; do
    [ -s "$dir/$png" ] || fail "no $png"
    magic=$(head -c 8 "$dir/$png" | od -An -tx1 | tr -d ' \n')
    [ "$magic" = 89504e470d0a1a0a ] || fail "$png is not a PNG (magic $magic)"
done

# Chromium wants a writable home and no crash reporter in a test.
export HOME="$dir/home"
mkdir -p "$HOME"
dom=$(timeout 40 "$browser" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
    --no-first-run --user-data-dir="$dir/profile" --dump-dom "file://$dir/index.html" \
    2>"$dir/chromium.log") || { cat "$dir/chromium.log"; fail "chromium exited $?"; }

rows=$(grep -o '<tr class="run[^"]*"' <<<"$dom" | wc -l)
[ "$rows" -eq 5 ] || fail "the DOM has $rows run rows, want 5"
for name in tpc-glibc ws-glibc ws-owner-glibc tpc-jemalloc; do
    grep -q "$name" <<<"$dom" || fail "the DOM does not name $name"
done
grep -q '&lt;script&gt;x&lt;/script&gt; &amp; gone' <<<"$dom" || fail "the error is not escaped text"
imgs=$(grep -o '<img src="[^"]*"' <<<"$dom" | sed 's/<img src="//; s/"$//')
[ "$(wc -l <<<"$imgs")" -eq 4 ] || fail "want 4 <img> elements, got: $imgs"
while read -r src; do
    [ -s "$dir/$src" ] || fail "<img src=\"$src\"> has no file"
done <<<"$imgs"
# The page as a 1400 px window lays it out: a script appended to a copy
# writes each table's right edge, the page's scroll width and the viewport's
# width (the window less its scrollbar) into the DOM.
cat >"$dir/fit.js" <<'EOF'
var out = [];
["matrix", "detail"].forEach(function (id) {
    var t = document.getElementById(id);
    out.push(id + "=" + (t ? Math.ceil(t.getBoundingClientRect().right) : -1));
});
out.push("page=" + document.documentElement.scrollWidth);
out.push("view=" + document.documentElement.clientWidth);
var p = document.createElement("pre");
p.id = "fit";
p.textContent = out.join(" ");
document.body.appendChild(p);
EOF
sed 's|</body>|<script src="fit.js"></script></body>|' "$dir/index.html" >"$dir/fit.html"
fit=$(timeout 40 "$browser" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
    --no-first-run --user-data-dir="$dir/profile" --window-size=1400,900 \
    --dump-dom "file://$dir/fit.html" 2>>"$dir/chromium.log" |
    sed -n 's/.*<pre id="fit">\([^<]*\)<.*/\1/p')
read -r matrix detail page view <<<"$(sed 's/[a-z]*=//g' <<<"$fit")"
[ -n "${view:-}" ] && [ "$view" -gt 1000 ] || fail "no measurement from chromium: '$fit'"
[ "$matrix" -le "$view" ] || fail "the table is $matrix px wide in a $view px window ($fit)"
[ "$detail" -le "$view" ] || fail "the detail table is $detail px wide in a $view px window ($fit)"
[ "$page" -le "$view" ] || fail "the page scrolls sideways: $page px in $view px ($fit)"

echo "PASS report html ($rows rows, $(wc -l <<<"$imgs") images)"
