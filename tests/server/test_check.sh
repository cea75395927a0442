#!/usr/bin/env bash
# fraglab-server --check: names the verified allocator and version for every
# allocator, reports real figures, records settings, refuses bad requests
# with one line on stderr and a non-zero exit.
# usage: test_check.sh SERVER_BINARY ALLOCATOR
set -u
server=$1 alloc=$2
fail() { echo "FAIL: $*" >&2; exit 1; }

out=$("$server" --allocator "$alloc" --check 2>/tmp/check.err.$$)
rc=$?
if [ $rc -ne 0 ] && grep -q 'sanitizer build' /tmp/check.err.$$; then
    echo "SKIP: $(cat /tmp/check.err.$$)"; rm -f /tmp/check.err.$$; exit 77
fi
rm -f /tmp/check.err.$$
[ $rc -eq 0 ] || fail "--allocator $alloc --check exited $rc"
sanitized=0
grep -qE '^allocator: +(asan|tsan)$' <<<"$out" && sanitized=1
[ $sanitized -eq 1 ] || grep -qE "^allocator: +$alloc\$" <<<"$out" || fail "allocator line: $out"
grep -qE '^version: +[^ ]+' <<<"$out" || fail "no version: $out"
grep -qE '^allocated: +[0-9]+$' <<<"$out" || fail "no allocated figure: $out"
case $alloc in
jemalloc | tcmalloc) grep -qE '^resident: +[0-9]+$' <<<"$out" || fail "no resident: $out" ;;
esac

# A setting name the allocator does not read: refused, with the names it does.
case $alloc in
jemalloc) bogus=jemalloc:bogus:1 known=dirty_decay_ms ;;
*) bogus=$alloc:bogus=1 known=$(case $alloc in glibc) echo arena_max ;; mimalloc) echo page_reset ;; *) echo release_rate ;; esac) ;;
esac
err=$("$server" --allocator "$bogus" --check 2>&1 >/dev/null) && fail "$bogus was accepted"
[ "$(wc -l <<<"$err")" -eq 1 ] || fail "$bogus: expected one line, got: $err"
grep -qF "unknown $alloc setting 'bogus'" <<<"$err" || fail "$bogus: $err"
grep -qF "$known" <<<"$err" || fail "$bogus: message does not list '$known': $err"

# Settings reach the allocator and are recorded in its own terms.
[ $sanitized -eq 1 ] && exit 0
case $alloc in
jemalloc) set_spec=jemalloc:dirty_decay_ms:1000 want='opt.dirty_decay_ms=1000' ;;
glibc) set_spec=glibc:arena_max=2 want='GLIBC_TUNABLES=glibc.malloc.arena_max=2' ;;
mimalloc) set_spec=mimalloc:page_reset=1 want='MIMALLOC_PAGE_RESET=1' ;;
tcmalloc) set_spec=tcmalloc:release_rate=10 want='TCMALLOC_RELEASE_RATE=10' ;;
esac
"$server" --allocator "$set_spec" --check | grep -q -- "$want" || fail "$set_spec: '$want' not recorded"

# Bad requests: non-zero exit, exactly one line naming the value.
expect_refused() {
    local err
    err=$("$server" --allocator "$1" --check 2>&1 >/dev/null) && fail "$1 was accepted"
    [ "$(wc -l <<<"$err")" -eq 1 ] || fail "$1: expected one line, got: $err"
    grep -qF -- "$2" <<<"$err" || fail "$1: message lacks '$2': $err"
}
expect_refused bogus "unknown allocator 'bogus'"
expect_refused /nonexistent/libnope.so "/nonexistent/libnope.so: No such file"
libz=$(ldconfig -p | awk '/libz\.so\.1 .*x86-64/ {print $NF; exit}')
[ -n "$libz" ] && expect_refused "$libz" "malloc is served by glibc"
expect_refused jemalloc:dirty_decay_ms=1 "MALLOC_CONF syntax"
[ -n "$libz" ] && expect_refused "$libz:arena_max=2" "set its own environment variables"

# glibc: every malloc tunable this glibc lists is a name fraglab accepts.
if [ "$alloc" = glibc ]; then
    ldso=$(ldd "$server" | awk '/ld-linux/ {print $1; exit}')
    for t in $("$ldso" --list-tunables | sed -n 's/^glibc\.malloc\.\([a-z_]*\):.*/\1/p'); do
        "$server" --allocator "glibc:$t=1" --check >/dev/null 2>&1 || fail "glibc tunable $t refused"
    done
fi
echo "PASS: $alloc"
