#!/bin/bash
# The CUDA kernels' registers, stack frames and spills as ptxas reports them, one line a
# kernel (needs nvcc; no GPU). A stack frame in a kernel without recursion or a big
# array means a per-thread array the compiler could not keep in registers (a loop
# indexes it with a value not known when compiling): read and written in local memory,
# often inside the hot loop (docs/BENCHMARKS.md, session 7). sincos's slow path for huge
# arguments also takes a frame, which only that path uses.
#   bench/kernel_resources.sh [--stack-only] [FILE.cu ...]   (default: cuda/*.cu)
set -eu
cd "$(dirname "$0")/.."
only=0
[ "${1:-}" = --stack-only ] && { only=1; shift; }
NVCC=${NVCC:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}
files=("$@")
[ ${#files[@]} -gt 0 ] || files=(cuda/*.cu)
printf "%-18s %5s %6s %6s  %s\n" file regs stack spill kernel
for f in "${files[@]}"; do
    "$NVCC" -O3 -std=c++17 -gencode arch=compute_90,code=sm_90 -I lib -I . --resource-usage \
        -c "$f" -o /dev/null 2>&1 |
        awk -v f="$(basename "$f")" -v only=$only '
            /Function properties for/ { name = $NF }
            /stack frame/ { stack = $1; spill = $5 }
            /Used [0-9]+ registers/ {
                for (i = 1; i <= NF; i++) if ($(i + 1) == "registers,") regs = $i
                if (!only || stack + 0 > 0 || spill + 0 > 0)
                    printf "%-18s %5s %6s %6s  %s\n", f, regs, stack, spill, name
            }' | c++filt | cut -c1-160
done
