# lib.sh - helpers for the shell test scripts (sourced).
#
#   t_begin NAME      start a test (its output is kept in tests/out/NAME.log)
#   t_pass / t_fail MSG / t_skip WHY
#   t_run CMD...      run, appending output to the test's log; returns the status
#   t_build FILE.nn EXE [nnc flags]   nnc build, failing the test on error
#   t_build_native ...                the same with nnc build's default C flags
# A failing test prints what was computed and what was expected.
: "${NNC:=$ROOT/nnc}"
T_OUT="$ROOT/tests/out"
mkdir -p "$T_OUT"
# the compile cache (docs/cache.md) of the tests' own, emptied with
# tests/out by each run of tests/run.sh, so the user's cache is untouched
export NNC_CACHE_DIR="${NNC_CACHE_DIR:-$T_OUT/cache}"
t_name=""

t_begin() { t_name=$1; t_log="$T_OUT/$(echo "$1" | tr '/ ' '__').log"; : >"$t_log"; }
t_pass()  { echo "PASS  $t_name"; }
t_skip()  { echo "SKIP  $t_name: $*"; }
t_fail()  {
    echo "FAIL  $t_name"
    echo "      | $*"
    tail -n 30 "$t_log" | sed 's/^/      | /'
}
t_run()   { echo "\$ $*" >>"$t_log"; "$@" >>"$t_log" 2>&1; }
t_build() {
    local src=$1 exe=$2; shift 2
    t_run "$NNC" build "$src" -o "$exe" "$@"
}
# t_build_native FILE.nn EXE [nnc flags]: t_build with nnc build's default C
# flags (-O3 -march=native ..., from nnc --help) after NNC_CFLAGS, for a
# trainer compared bit for bit with nnc run's JIT, which follows those
# flags; make asan's NNC_CFLAGS keep their sanitizers, their -O1 is overridden
t_build_native() {
    local native
    native=$("$NNC" --help | awk '/^  NNC_CFLAGS/ { getline; sub(/^ +/, ""); print; exit }')
    NNC_CFLAGS="${NNC_CFLAGS:+$NNC_CFLAGS }$native" t_build "$@"
}
