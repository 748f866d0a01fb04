# embed.sh - `make bench`'s section on embeddings, sourced by bench/run.sh
# (uses its say, stats, R and B): a gather (E[tok], E[seq[t]]) reads the
# rows its indices name, where a one-hot input multiplies by every row.
# Two pairs of models, each run alternately on the same data, R times; the
# training seconds the runtime logs (metrics.csv):
#  - examples/charlm/charlm.nn (integer windows, E[seq[t]]) against the
#    same RNN with one-hot characters (bench/models/charlm_onehot.nn:
#    Wx @ x[t] over all 28, its data 28 times larger);
#  - one word of a vocabulary of V = 4096 embedded (bench/models/
#    embed_gather.nn, E[tok]) against E @ x with x one-hot (embed_onehot.nn),
#    2000 random samples: the product's work grows with V, the gather's not.
say ""
say "== embeddings: a gather against a one-hot product, 3 epochs, batch 32 (seconds, training only), median of $R"
C=$B/embed
rm -rf "$C"
mkdir -p "$C"
/usr/bin/python3 examples/charlm/make_text.py "$C" >/dev/null
/usr/bin/python3 -c '
import numpy as np, sys
d = sys.argv[1]
s = np.load(d + "/windows.npz")["seq"]
eye = np.eye(28, dtype=np.float32)
np.savez(d + "/charlm_onehot.npz", x=eye[s[:, :-1]], y=eye[s[:, 1:]])
r = np.random.default_rng(1)
tok = r.integers(0, 4096, size=2000)
c = tok % 8                          # a label the embedding can learn
np.savez(d + "/tokens.npz", tok=tok.astype(np.int32), c=c)
x = np.zeros((2000, 4096), np.float32)
x[np.arange(2000), tok] = 1
np.savez(d + "/onehot.npz", x=x, c=c)' "$C"
./nnc build examples/charlm/charlm.nn -o "$C/charlm"
./nnc build bench/models/charlm_onehot.nn -o "$C/charlm_onehot"
./nnc build bench/models/embed_gather.nn -o "$C/embed_gather"
./nnc build bench/models/embed_onehot.nn -o "$C/embed_onehot"
# the train_seconds of a metrics.csv's epochs, added up
train_secs() { awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "train_seconds") c = i }
    NR > 1 { s += $c } END { print s }' "$1"; }
for m in charlm charlm_onehot embed_gather embed_onehot; do : >"$C/t_$m"; done
for _ in $(seq "$R"); do
    for m in charlm:windows charlm_onehot:charlm_onehot embed_gather:tokens embed_onehot:onehot; do
        rm -rf "$C/run_${m%%:*}"
        (cd "$C" && "./${m%%:*}" train --epochs 3 --data "${m#*:}.npz" --quiet --log "run_${m%%:*}") >/dev/null 2>&1
        train_secs "$C/run_${m%%:*}/metrics.csv" >>"$C/t_${m%%:*}"
    done
done
final_loss() { awk -F, 'END { print $3 }' "$C/run_$1/metrics.csv"; }
for pair in "charlm charlm_onehot E[seq[t]],_V_=_28_(examples/charlm) Wx_@_x[t],_one-hot" \
            "embed_gather embed_onehot E[tok],_V_=_4096 E_@_x,_one-hot"; do
    read -r g o gl ol <<<"$pair"
    read -r _ mg lg hg < <(stats x "$C/t_$g"); read -r _ mo lo ho < <(stats x "$C/t_$o")
    say "$(printf '  %-36s %8.3f s  (%.3f-%.3f)  loss %s' "${gl//_/ }" "$mg" "$lg" "$hg" "$(final_loss "$g")")"
    say "$(printf '  %-36s %8.3f s  (%.3f-%.3f)  loss %s  one-hot / gather x%.1f' "${ol//_/ }" "$mo" "$lo" "$ho" \
        "$(final_loss "$o")" "$(echo "$mo / $mg" | bc -l)")"
done
