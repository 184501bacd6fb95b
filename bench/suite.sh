#!/bin/bash
# The benchmark table of docs/BENCHMARKS.md in one command, on the CUDA device:
#
#   bench/suite.sh [--bin DIR] [--baseline DIR] [--only LIST] [--reps N]
#
# DIR holds the binaries (bench_s4, bench_mamba, ssmtrain; default: this build's), as
# ../shared/tools/device-bundle packs them; --baseline DIR runs each row with a second
# build too (an earlier commit's) right after this one's, so the two are compared on the
# same machine in the same call (rows alternate: baseline, this build, baseline, this).
# LIST is a comma-separated subset of the row groups: s4d, s4, block, scan, lm, listops, pad
# (default: all). Each row prints the median figures of both builds and this build's
# ratio; the device goes to standard error.
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
bin=
base=
only=s4d,s4,block,scan,lm,listops,pad
reps=2
while [ $# -gt 0 ]; do
    case $1 in
    --bin) bin=$2; shift 2 ;;
    --baseline) base=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --reps) reps=$2; shift 2 ;;
    -h | --help) sed -n '2,12p' "$0" | cut -c3-; exit 0 ;;
    *) echo "bench/suite.sh: unknown option '$1' (--help lists them)" >&2; exit 2 ;;
    esac
done
# this build's binaries: the libtool wrappers in the tree, or --bin
exe() { if [ -n "$bin" ]; then echo "$bin/$1"; elif [ -x "$here/bench/$1" ]; then echo "$here/bench/$1"; else echo "$here/tools/$1"; fi; }
want() { case ",$only," in *",$1,"*) return 0 ;; esac; return 1; }

# One figure from one run: the value of key=VALUE (bench_s4, bench_mamba) or of the
# ssmtrain --bench line's "X ms/step" / "Y tokens/s" / "peak device memory Z MiB".
figure() { # KEY OUTPUT
    case $1 in
    ms_step) sed -n 's/.* \([0-9.]*\) ms\/step.*/\1/p' <<<"$2" | tail -1 ;;
    tok_s) sed -n 's/.* \([0-9]*\) tokens\/s.*/\1/p' <<<"$2" | tail -1 ;;
    peak) sed -n 's/.*peak device memory \([0-9]*\) MiB.*/\1/p' <<<"$2" | tail -1 ;;
    *) tr ' ' '\n' <<<"$2" | sed -n "s/^$1=//p" | tail -1 ;;
    esac
}

median() { sort -g | awk 'NF {v[++n]=$1} END {if (n) print v[int((n+1)/2)]}'; }

# row NAME KEYS PROGRAM ARGS...: runs PROGRAM (a name looked up in each build) reps times
# per build, alternating, and prints the median of each of KEYS (comma-separated) for
# each build, a line per key
row() {
    local name=$1 keys=$2 prog=$3
    shift 3
    local outa=() outb=() out r k
    for ((r = 0; r < reps; r++)); do
        [ -n "$base" ] && outa+=("$(timeout 300 "$base/$prog" "$@" 2>&1)")
        out=$(timeout 300 "$(exe "$prog")" "$@" 2>&1)
        outb+=("$out")
        [ -n "$(figure "${keys%%,*}" "$out")" ] ||
            { echo "$name: no ${keys%%,*} in the output of $prog:" >&2; tail -3 <<<"$out" >&2; }
    done
    for k in ${keys//,/ }; do
        local a=- b
        b=$(for out in "${outb[@]}"; do figure "$k" "$out"; done | median)
        if [ -n "$base" ]; then
            a=$(for out in "${outa[@]}"; do figure "$k" "$out"; done | median)
            awk -v n="$name" -v k="$k" -v a="${a:--}" -v b="${b:--}" 'BEGIN {
                printf "| %-48s | %-15s | %10s | %10s | %6s |\n", n, k, a, b,
                       (a + 0 > 0 && b + 0 > 0) ? sprintf("%.3f", b / a) : "-" }'
        else
            printf "| %-48s | %-15s | %10s |\n" "$name" "$k" "${b:--}"
        fi
        name=""
    done
}

if [ -n "$base" ]; then
    echo "| benchmark | figure | baseline | this build | ratio |"
    echo "|---|---|---|---|---|"
else
    echo "| benchmark | figure | this build |"
    echo "|---|---|---|"
fi
nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | sed 's/^/device: /' >&2
S4="--device cuda --B 16 --H 256 --N 64 --L 4096"
MB="--device cuda --case block --batch 8 --d_model 768 --d_inner 1536 --L 2048 --d_state 16"
if want s4d; then
    row "S4D layer B16 H256 N64 L4096, tf32" fwdbwd_ms,fwdbwd_graph_ms,fwd_ms,peak_mib bench_s4 $S4 --layer s4d --precision tf32
    row "S4D layer, fp32" fwdbwd_ms bench_s4 $S4 --layer s4d --precision fp32
fi
want s4 && row "S4 layer, same shape, tf32" fwdbwd_ms,fwdbwd_graph_ms,peak_mib bench_s4 $S4 --layer s4 --precision tf32
if want block; then
    row "Mamba block d768 B8 L2048, bf16" fwdbwd_ms,fwdbwd_graph_ms,fwd_ms,peak_mib bench_mamba $MB --precision bf16
    row "Mamba block, tf32" fwdbwd_ms,fwdbwd_graph_ms,peak_mib bench_mamba $MB --precision tf32
    row "Mamba block, fp32" fwdbwd_ms,peak_mib bench_mamba $MB --precision fp32
fi
if want scan; then # the selective scan alone at the chunks (saved-state spacing) worth having
    for ch in 16 32 64; do
        row "Mamba scan B8 D1536 N16 L2048, chunk $ch" fwdbwd_ms,fwd_ms bench_mamba \
            --device cuda --case scan --batch 8 --d_inner 1536 --L 2048 --d_state 16 --chunk $ch
    done
fi
LM="$here/bench/lm_mamba130m.ini --device cuda --bench 20"
if want lm; then
    row "Mamba LM 24 x d768, B8 L2048, bf16" ms_step,tok_s,peak ssmtrain $LM --set train.precision=bf16
    row "Mamba LM, tf32" ms_step,tok_s,peak ssmtrain $LM --set train.precision=tf32
fi
# ListOps S4D (the run's config; 10,000 generated training expressions are enough for
# 65 steps of 50)
LO="$here/docs/runs/listops_s4d/config.ini --device cuda --set train.precision=tf32 --set train.tf32=true --set data.n_train=10000 --bench 60"
want listops && row "ListOps S4D step (B50, L<=2000, 8 x H128), tf32" ms_step,peak ssmtrain $LO
if want pad; then # data.pad_multiple: a build without the key fails these rows
    row "ListOps, data.pad_multiple = 128" ms_step ssmtrain $LO --set data.pad_multiple=128
    row "ListOps, data.pad_multiple = 256" ms_step ssmtrain $LO --set data.pad_multiple=256
fi
