#!/bin/bash
# diagnostics.sh - end-to-end: models with mistakes, and exactly what nnc
# says about them.
#
# Each tests/e2e/errors/NAME.nn is one test, and holds what to expect in
# comment lines of its own (anywhere in the file; by habit at the end):
#
#   # expect: TEXT    one line of nnc's standard error: TEXT is everything
#                     after "# expect: ", blanks included ("# expect:" alone
#                     is an empty line).  In order, these lines are the
#                     whole standard error, compared exactly.
#   # args: ARGS      more arguments for nnc, split at blanks (-D H=3)
#   # exit: N         the exit status, when it is not 1 (nnc exits with 2
#                     for a mistake on its command line)
#
# The test runs, from tests/e2e/errors (so messages name the file NAME.nn),
#
#   nnc NAME.nn -o DIR/out.c ARGS
#
# with DIR a fresh empty directory, and passes when the exit status and the
# standard error are as expected, nothing was written to standard output,
# and DIR is still empty (no output file, no temporary file left behind),
# nor did anything appear next to the model.
#
# A new test: write the model with a comment saying what it is about, run
#   (cd tests/e2e/errors && ../../../nnc NAME.nn -o /tmp/x.c ARGS 2>&1 | sed 's/^/# expect: /')
# read every message and caret as a user would, and append the lines once
# they are right (a wrong message is a bug to report, not to bless).
cd "$(dirname "$0")/../.."
ROOT=$PWD
. tests/lib.sh
D="$T_OUT/e2e-errors"
rm -rf "$D"
mkdir -p "$D"
E=tests/e2e/errors
listing=$(ls -A "$E")

for nn in "$E"/*.nn; do
    name=$(basename "$nn" .nn)
    t_begin "e2e/errors/$name"
    want_status=$(sed -n 's/^# exit: *//p' "$nn" | head -n 1)
    want_status=${want_status:-1}
    read -ra args <<<"$(sed -n 's/^# args: //p' "$nn" | head -n 1)"
    sed -n -e 's/^# expect: //p' -e 's/^# expect:$//p' "$nn" >"$D/$name.want"
    if [ ! -s "$D/$name.want" ]; then
        t_fail "$nn has no '# expect:' lines"
        continue
    fi
    dir="$D/$name.out"
    mkdir -p "$dir"
    echo "\$ (cd $E && nnc $name.nn -o $dir/out.c ${args[*]})" >>"$t_log"
    (cd "$E" && "$NNC" "$name.nn" -o "$dir/out.c" "${args[@]}") >"$D/$name.stdout" 2>"$D/$name.stderr"
    status=$?
    left=$(ls -A "$dir")
    if [ "$status" != "$want_status" ]; then
        cat "$D/$name.stderr" >>"$t_log"
        t_fail "exit status $status, expected $want_status"
    elif ! cmp -s "$D/$name.want" "$D/$name.stderr"; then
        diff -u --label expected --label got "$D/$name.want" "$D/$name.stderr" >>"$t_log"
        t_fail "standard error differs from the '# expect:' lines (diff: expected, got)"
    elif [ -s "$D/$name.stdout" ]; then
        cat "$D/$name.stdout" >>"$t_log"
        t_fail "nnc wrote to standard output"
    elif [ -n "$left" ]; then
        echo "$left" >>"$t_log"
        t_fail "files left in the output directory: $(echo $left)"
    elif [ "$(ls -A "$E")" != "$listing" ]; then
        diff <(echo "$listing") <(ls -A "$E") >>"$t_log"
        t_fail "files appeared next to the model"
    else
        t_pass
    fi
done

# an expression nested too deeply: an error at the operator that crosses
# the limit, not a crash of the passes that recurse (a sum of 20,000
# terms overflowed the stack); parentheses beyond bison's stack are named
t_begin "e2e/errors/expression-nested-too-deeply"
{ printf 'input x[2]\ntarget y[1]\nloss = sum(x'; for _ in $(seq 20000); do printf ' + x'; done
  printf ') + sum(y)\n'; } >"$D/deep.nn"
{ printf 'input x[2]\ntarget y[1]\nloss = sum('; for _ in $(seq 12000); do printf '('; done; printf 'x'
  for _ in $(seq 12000); do printf ')'; done; printf ') + sum(y)\n'; } >"$D/parens.nn"
"$NNC" "$D/deep.nn" -o "$D/deep.c" 2>"$D/deep.err"; rc=$?; out=$(head -n 1 "$D/deep.err")
"$NNC" "$D/parens.nn" -o "$D/parens.c" 2>"$D/parens.err"; rc2=$?; out2=$(head -n 1 "$D/parens.err")
if [ "$rc" = 1 ] && [ "$out" = "$D/deep.nn:3:8014: error: this expression is nested more than 2000 operators deep; split it into several statements" ] &&
   [ "$rc2" = 1 ] && [ "$out2" = "$D/parens.nn:3:10005: error: parentheses or brackets nested too deeply (more than the parser's 10000)" ] &&
   [ ! -e "$D/deep.c" ] && [ ! -e "$D/parens.c" ]; then
    t_pass
else
    t_fail "expected the two nesting errors: exit $rc: $out; exit $rc2: $out2"
fi

# a directory given as the model: said so, not parsed as an empty model
t_begin "e2e/errors/model-is-a-directory"
mkdir -p "$D/dir.nn"
out=$("$NNC" "$D/dir.nn" -o "$D/dir.c" 2>&1); rc=$?
out2=$("$NNC" sweep "$D/dir.nn" 2>&1); rc2=$?
if [ $rc = 1 ] && [ "$out" = "nnc: error: cannot read '$D/dir.nn': Is a directory" ] &&
   [ $rc2 = 1 ] && [ "$out2" = "nnc sweep: error: cannot read '$D/dir.nn': Is a directory" ]; then
    t_pass
else
    t_fail "expected exit 1 and 'cannot read ... Is a directory': exit $rc: $out; sweep: exit $rc2: $out2"
fi

# nnc build into a directory that does not exist: the message names the
# trainer asked for, not the temporary C file beside it
t_begin "e2e/errors/build-into-missing-directory"
out=$("$NNC" build examples/xor.nn -o "$D/no/such/dir/xor" 2>&1); rc=$?
if [ $rc = 1 ] && [ "$out" = "nnc: error: cannot write '$D/no/such/dir/xor': No such file or directory" ]; then
    t_pass
else
    t_fail "expected exit 1 and \"cannot write '$D/no/such/dir/xor'\": exit $rc: $out"
fi

t_begin "e2e/errors/build-onto-directory"
mkdir -p "$D/adir"
out=$("$NNC" build examples/xor.nn -o "$D/adir" 2>&1); rc=$?
if [ $rc = 1 ] && [ "$out" = "nnc: error: cannot write '$D/adir': Is a directory" ]; then
    t_pass
else
    t_fail "expected exit 1 and \"cannot write '$D/adir': Is a directory\": exit $rc: $out"
fi
