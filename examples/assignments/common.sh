# common.sh - sourced by every assignment's run.sh.
#
#   run.sh [--quick] [--out DIR]
#     --quick     a short version of every step (seconds; what `make test` runs)
#     --out DIR   where the results go (default: out/ beside run.sh)
# Sets ROOT (the nnc checkout), NNC, PY (python3 with numpy, for the stand-in
# data files and the independent checks), HERE, OUT, QUICK; defines the
# helpers below.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
NNC=${NNC:-$ROOT/nnc}
PY=${PY:-/usr/bin/python3}
QUICK=0
OUT=$HERE/out
while [ $# -gt 0 ]; do
    case $1 in
    --quick) QUICK=1 ;;
    --out) OUT=$2; shift ;;
    *) echo "usage: $0 [--quick] [--out DIR]" >&2; exit 2 ;;
    esac
    shift
done
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
[ -x "$NNC" ] || { echo "error: $NNC not found: run 'make' in $ROOT first" >&2; exit 1; }

step() { printf '\n== %s\n' "$*"; }
# show CMD...: print a command as one would type it (nnc for $NNC, quotes
# around arguments with spaces or shell characters), then run it
show() {
    local a line="\$"
    for a in "$@"; do
        [ "$a" = "$NNC" ] && a=nnc
        [ "$a" = "$PY" ] && a=python3
        [ "$OUT" = "$HERE/out" ] && a=${a/#$HERE\//../}
        case $a in
        *[\ \"\(\)\*\;\&\|\<\>]*) line+=" '$a'" ;;
        *) line+=" $a" ;;
        esac
    done
    echo "$line"
    "$@"
}

# plot PNG TITLE XLABEL YLABEL 'CSV:XCOL:YCOL:LEGEND[:ERRCOL]' ...
# A line plot of columns (by header name) of CSV files, drawn by gnuplot;
# the gnuplot script is kept beside the PNG (PNG.gp) for restyling.
# PLOT_EXTRA: more gnuplot commands (e.g. 'set logscale xy').
plot() {
    local png=$1 title=$2 xl=$3 yl=$4; shift 4
    command -v gnuplot >/dev/null || { echo "note: no gnuplot (apt-get install gnuplot-nox): $png not drawn"; return 0; }
    local gp=${png%.png}.gp sep="plot"
    {
        echo "set terminal pngcairo size 800,500 font 'sans,11' noenhanced"
        echo "set output '$png'"
        echo "set datafile separator ','"
        echo "set title '$title'"
        echo "set xlabel '$xl'; set ylabel '$yl'; set grid; set key top right"
        echo "${PLOT_EXTRA:-}"
        for s in "$@"; do
            IFS=: read -r csv xc yc legend ec <<<"$s"
            if [ -n "$ec" ]; then   # with error bars from column ec
                printf "%s '%s' using '%s':'%s':'%s' with yerrorlines title '%s'" "$sep" "$csv" "$xc" "$yc" "$ec" "$legend"
            else
                printf "%s '%s' using '%s':'%s' with linespoints title '%s'" "$sep" "$csv" "$xc" "$yc" "$legend"
            fi
            sep=", \\
    "
        done
        echo
    } > "$gp"
    gnuplot "$gp" && echo "wrote $png"
}
