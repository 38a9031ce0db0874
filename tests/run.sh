#!/bin/sh
# Runs every test against the binaries in BUILD (default build/):
#   unit tests    BUILD/tests/test_*          (C, one binary per module; the kernel-sensitive
#                                             ones again under each lower kernel set)
#   black-box     tests/blackbox/test_*.py    (a real symlorad on a loopback port)
#                 tests/blackbox/test_*.mjs   (Node, e.g. the official OpenAI SDK)
# Every test program prints "# N passed, N failed" last; this script sums them
# and ends with the same line. Exit status is non-zero if anything failed.
BUILD=${1:-build}
export SL_BUILD="$BUILD"
cd "$(dirname "$0")/.." || exit 2
passed=0; failed=0; broken=""
run_one() {
    name=$1; shift
    echo "== $name"
    out=$("$@" 2>&1); rc=$?
    printf '%s\n' "$out"
    line=$(printf '%s\n' "$out" | grep -E '^# [0-9]+ passed, [0-9]+ failed' | tail -n 1)
    if [ -z "$line" ]; then
        failed=$((failed + 1)); broken="$broken $name(no summary, rc=$rc)"; return
    fi
    p=$(echo "$line" | sed -E 's/^# ([0-9]+) passed.*/\1/')
    f=$(echo "$line" | sed -E 's/^# [0-9]+ passed, ([0-9]+) failed.*/\1/')
    passed=$((passed + p)); failed=$((failed + f))
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        failed=$((failed + 1)); broken="$broken $name(rc=$rc)"
    fi
}
for t in "$BUILD"/tests/test_*; do
    [ -x "$t" ] || continue
    run_one "$(basename "$t")" "$t"
done
# The kernel-sensitive unit tests again under every other kernel set this CPU runs (forced
# with SL_KERNELS; lib/kernels/kernels.h), so an AVX-512 machine also tests the AVX2 and
# generic kernels: values, fixture parity and bit-identical batching for each set.
sets=$("$BUILD/symlorad" --version 2>/dev/null | sed -n 's/.*this CPU runs: *//p')
best=${sets%% *}
for k in $sets; do
    [ "$k" = "$best" ] && continue
    for t in test_gemm test_lowrank test_attention test_model test_adapter test_engine test_sampler; do
        [ -x "$BUILD/tests/$t" ] || continue
        run_one "$t (SL_KERNELS=$k)" env SL_KERNELS="$k" "$BUILD/tests/$t"
    done
done
# The adapter paths again with their pages touched and walked by the prefetches (bigalloc.h:
# sl_prefetch_walks_pages; the machine picks one), and the GEMM with either hint for its
# decode tiles' next panels (which follows the same answer): the same bits either way.
for w in touch prefetch; do
    for t in test_gemm test_adapter test_engine; do
        [ -x "$BUILD/tests/$t" ] || continue
        run_one "$t (SL_PAGE_WALK=$w)" env SL_PAGE_WALK="$w" "$BUILD/tests/$t"
    done
done
for t in tests/blackbox/test_*.py; do
    [ -f "$t" ] || continue
    run_one "$(basename "$t")" python3 "$t"
done
for t in tests/blackbox/test_*.mjs; do
    [ -f "$t" ] || continue
    run_one "$(basename "$t")" node "$t"
done
[ -n "$broken" ] && echo "broken:$broken"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
