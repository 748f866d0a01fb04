#!/bin/bash
# End-to-end: nnc's command line itself -- each command's own usage
# (`nnc build --help`, `nnc help build`), a misspelt command's suggestion,
# --help naming the environment variables and the documents, messages that
# never name a temporary file nnc deleted, and `make install` (PREFIX,
# DESTDIR) giving an nnc that finds its runtime.
cd "$(dirname "$0")/../.."
ROOT=$PWD
. tests/lib.sh
D="$T_OUT/cli"
rm -rf "$D"
mkdir -p "$D"
XOR=examples/xor.nn

for c in build check explain run; do
    t_begin "cli/$c-help"
    if ! "$NNC" $c --help >"$D/$c.help" 2>&1; then
        t_fail "nnc $c --help failed: $(head -3 "$D/$c.help")"
    elif [ "$(head -c $((11 + ${#c})) "$D/$c.help")" != "usage: nnc $c" ]; then
        t_fail "nnc $c --help should start with 'usage: nnc $c', got: $(head -1 "$D/$c.help")"
    elif ! "$NNC" help $c | cmp -s - "$D/$c.help"; then
        t_fail "nnc help $c differs from nnc $c --help"
    else
        t_pass
    fi
done

t_begin "cli/help"
if "$NNC" help >"$D/help" 2>&1 && grep -q '^usage: nnc MODEL.nn' "$D/help" &&
   "$NNC" help sweep | grep -q '^usage: nnc sweep'; then t_pass
else t_fail "nnc help: $(head -3 "$D/help")"; fi

t_begin "cli/help-names-environment-and-docs"
"$NNC" --help >"$D/global.help" 2>&1
missing=""
for w in CC NNC_CFLAGS NNC_RUNTIME NNC_CACHE_DIR NNC_DATASETS NNRT_THREADS tutorial.md \
         language.md trainer.md teaching.md sweep.md jit.md; do
    grep -qw -- "$w" "$D/global.help" || missing+=" $w"
done
if [ -z "$missing" ]; then t_pass; else t_fail "nnc --help does not mention:$missing"; fi

t_begin "cli/misspelt-command"
"$NNC" biuld $XOR -o "$D/x" >"$D/biuld.out" 2>&1
rc=$?
if [ $rc = 2 ] && grep -q "unknown command 'biuld' (did you mean 'build'?)" "$D/biuld.out"; then t_pass
else t_fail "status $rc, expected 2 and a suggestion of build: $(cat "$D/biuld.out")"; fi

t_begin "cli/no-temporary-paths"   # nnc check's trainer is named as the user called it
"$NNC" check $XOR --bogus >"$D/bogus.out" 2>&1
if grep -q '/tmp/nnc-check' "$D/bogus.out"; then
    t_fail "the message names nnc check's temporary trainer: $(cat "$D/bogus.out")"
elif ! grep -q "see nnc check $XOR --help" "$D/bogus.out"; then
    t_fail "expected 'see nnc check $XOR --help', got: $(cat "$D/bogus.out")"
else
    t_pass
fi

t_begin "cli/failed-compile-keeps-the-c"   # cc's messages name the file: it must exist
NNC_CFLAGS=--no-such-flag "$NNC" build $XOR -o "$D/bad" >"$D/bad.out" 2>&1
kept=$(sed -n 's/^nnc: note: the generated C is kept in //p' "$D/bad.out")
if [ -z "$kept" ] || [ ! -f "$kept" ]; then
    t_fail "no generated C left to read after cc failed: $(cat "$D/bad.out")"
elif ! grep -q 'check CC and NNC_CFLAGS' "$D/bad.out"; then
    t_fail "with NNC_CFLAGS set, the message should point at it: $(cat "$D/bad.out")"
else
    t_pass
fi

# make install into a staging directory (DESTDIR) for PREFIX=/opt/nnc: the
# installed nnc finds its runtime in /opt/nnc/lib/nnc, i.e. in the staging
# copy when run from there.  -o all: install what this test run uses
# (make asan's build as well) without rebuilding it.
t_begin "cli/make-install"
nb=${NNC#$ROOT/}
rd=$(dirname "$nb")/runtime
[ "$rd" = ./runtime ] && rd=runtime
stage=$D/stage
if ! t_run make -s -C "$ROOT" -o all install DESTDIR="$stage" PREFIX=/opt/nnc BUILD="${BUILD:-build}" \
        NNC_BIN="$nb" RT_DIR="$rd"; then
    t_fail "make install failed"
else
    inst=$stage/opt/nnc
    missing=""
    for f in bin/nnc lib/nnc/libnnrt.a lib/nnc/libnnrt.ldflags lib/nnc/nnrt.h \
             share/doc/nnc/tutorial.md share/doc/nnc/README.md; do
        [ -f "$inst/$f" ] || missing+=" $f"
    done
    if [ -n "$missing" ]; then
        t_fail "not installed:$missing"
    elif ! "$inst/bin/nnc" --help | grep -q "now $inst/lib/nnc)"; then
        t_fail "the installed nnc does not name its runtime $inst/lib/nnc: $("$inst/bin/nnc" --help | grep NNC_RUNTIME)"
    elif ! t_run "$inst/bin/nnc" build $XOR -o "$D/xor-installed" ||
         ! t_run "$D/xor-installed" train --epochs 1; then
        t_fail "the installed nnc could not build a trainer that trains"
    elif [ -f "$inst/lib/nnc/nnc-jit.so" ] && ! t_run "$inst/bin/nnc" run $XOR --epochs 1; then
        t_fail "the installed nnc run failed"
    else
        t_pass
    fi
fi
