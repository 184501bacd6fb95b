#!/bin/sh
# tests/fuzz/run.sh TARGET [SECONDS]: seed TARGET's corpus from tests/data (first run only),
# then fuzz it for SECONDS (default 180), one process, final stats printed.
# Run from the build folder of `./configure CC=clang --enable-fuzzing && make fuzz`.
set -eu
t=$1
secs=${2:-180}
src=$(cd "$(dirname "$0")/../.." && pwd)
data=$src/tests/data
corpus=tests/fuzz/corpus/$t
sep='
----8<----
'
mkdir -p "$corpus" "tests/fuzz/crashes/$t"
if [ -z "$(ls -A "$corpus")" ]; then
    case $t in
    config)
        for f in "$src"/configs/*.ini; do cp "$f" "$corpus/"; done
        { cat "$src/configs/quickstart.ini"; printf '%s' "$sep"; printf 'train.seed=4\nlayer.d_state=0\n'; } \
            > "$corpus/with_sets" ;;
    checkpoint|safetensors)
        w=$(mktemp -d)
        printf '[model]\nd_model = 8\nn_layers = 1\nlayer = s4d\npooling = last\n[layer]\nd_state = 4\n[data]\ntask = recall\nseq_len = 16\nn_train = 8\nn_val = 8\nn_test = 8\n[train]\nbatch_size = 8\nmax_steps = 2\nthreads = 1\n' > "$w/tiny.ini"
        ASAN_OPTIONS=detect_leaks=0 tools/ssmtrain "$w/tiny.ini" --out "$w/run" >/dev/null
        if [ "$t" = checkpoint ]; then
            cp "$w/run/ckpt/last.h5" "$corpus/tiny.h5"
            cp "$data/adam.h5" "$corpus/"   # an HDF5 file that is not a checkpoint
            cp "$data/ckpt_format1.h5" "$corpus/"   # format 1: no header, read unverified
        else
            ASAN_OPTIONS=detect_leaks=0 tools/ssmexport "$w/run/ckpt/last.h5" "$w/exp" >/dev/null
            cp "$w/exp/model.safetensors" "$corpus/"
        fi
        rm -rf "$w" ;;
    listops) cp "$data"/listops_*.tsv "$corpus/" ;;
    idx)
        for s in train t10k; do
            { cat "$data/mnist/$s-images-idx3-ubyte"; printf '%s' "$sep"; cat "$data/mnist/$s-labels-idx1-ubyte"; } > "$corpus/$s"
        done ;;
    aan)
        { cat "$data/aan/new_aan_pairs.train.tsv"; printf '%s' "$sep"; cat "$data/aan/new_aan_pairs.eval.tsv"
          printf '%s' "$sep"; cat "$data/aan/new_aan_pairs.test.tsv"; } > "$corpus/aan" ;;
    cifar) cp "$data/cifar/data_batch_1.bin" "$data/cifar_bad/"*.bin "$corpus/" ;;
    pathfinder)
        i=0
        for png in $(find "$data/pathfinder32" "$data/pathfinder_bad" -name '*.png' | sort | head -20); do
            { printf 'imgs/0 sample_0.png 0 1 0 0 0 0 0 0 0\n'; cat "$png"; } > "$corpus/pf$i"
            i=$((i + 1))
        done ;;
    imdb) cp "$data"/imdb/reviews.json "$data"/imdb/reviews.json.gz "$corpus/" ;;
    config_json) # the three layouts as ssmexport writes them, and malformed ones
        cp "$src"/tests/fuzz/regressions/config_json/* "$corpus/" ;;
    *) echo "run.sh: unknown target $t" >&2; exit 2 ;;
    esac
fi
dict=
case $t in
config) dict=-dict=tests/fuzz/config.dict ;;
imdb|safetensors|config_json) dict=-dict=$src/tests/fuzz/json.dict ;;
esac
# leaks: a reader that leaks on an error path is a bug too (libFuzzer reports it); HDF5
# 1.10's own leaks on corrupted files are suppressed as in the CI
export LSAN_OPTIONS="suppressions=$src/.ci/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
exec tests/fuzz/fuzz_"$t" "$corpus" $dict -max_total_time="$secs" -print_final_stats=1 \
 -max_len=65536 -rss_limit_mb=2048 -timeout=10 \
    -artifact_prefix="tests/fuzz/crashes/$t/" </dev/null
