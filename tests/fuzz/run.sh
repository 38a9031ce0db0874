#!/bin/sh
# tests/fuzz/run.sh — runs the libFuzzer targets built by `make fuzz-build` (tests/fuzz/fuzz.mk).
#
#   tests/fuzz/run.sh [--dir build/fuzz] [--seconds N | --total-seconds N] [--keep-going]
#                     [--no-replay] [target ...]
#
#   --seconds N        run each target for N seconds (default 60)
#   --total-seconds N  share N seconds between the targets (make fuzz-ci)
#   --keep-going       libFuzzer fork mode: keep fuzzing after a finding (long runs); every
#                      finding is still saved and still fails the run at the end
#   --no-replay        skip replaying the known reproducers tests/fuzz/crashes/<target>-*
#   FUZZ_JOBS=2        run two targets at a time
#
# Per target: the working corpus is DIR/corpus/<target> (new inputs go there), seeded from
# tests/fuzz/corpus/<target>; findings go to DIR/artifacts/<target>/, the log to
# DIR/logs/<target>.log; one line per run is appended to DIR/stats.tsv
# (date, target, seconds, executions, result). Exit status: 0 only if no target found anything
# (crash, leak, UBSan report, timeout, out-of-memory) and every known reproducer passes.
cd "$(dirname "$0")/../.." || exit 2
DIR=build/fuzz
SECONDS_EACH=60
TOTAL=
KEEP_GOING=0
REPLAY=1
while [ $# -gt 0 ]; do
    case $1 in
    --dir) DIR=$2; shift 2 ;;
    --seconds) SECONDS_EACH=$2; shift 2 ;;
    --total-seconds) TOTAL=$2; shift 2 ;;
    --keep-going) KEEP_GOING=1; shift ;;
    --no-replay) REPLAY=0; shift ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    --) shift; break ;;
    -*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
    *) break ;;
    esac
done
TARGETS=$*
if [ -z "$TARGETS" ]; then # every target that is built
    for b in "$DIR"/fuzz_*; do [ -x "$b" ] && TARGETS="$TARGETS ${b##*/fuzz_}"; done
fi
[ -n "$TARGETS" ] || { echo "run.sh: no fuzz target built in $DIR (make fuzz-build)" >&2; exit 2; }
set -- $TARGETS
if [ -n "$TOTAL" ]; then
    SECONDS_EACH=$((TOTAL / $#))
    [ "$SECONDS_EACH" -ge 1 ] || SECONDS_EACH=1
fi

# Options of each target: the longest input worth trying and the resource limits that turn a
# runaway allocation or loop into a finding. A single malloc over -malloc_limit_mb from inputs
# this small is an amplification bug, not a legitimate need.
options() {
    common="-timeout=10 -rss_limit_mb=1024 -malloc_limit_mb=256 -print_final_stats=1"
    case $1 in
    safetensors)      echo "$common -max_len=16384" ;;
    model_config)     echo "$common -max_len=4096" ;;
    adapter)          echo "$common -max_len=40960" ;;
    adapter_patterns) echo "$common -max_len=4096" ;;
    tokenizer_load)   echo "$common -max_len=65536" ;;
    tokenizer_encode) echo "$common -max_len=4096" ;;
    http_request)     echo "$common -max_len=8192" ;;
    http_multipart)   echo "$common -max_len=16384" ;;
    toolcall)         echo "$common -max_len=4096" ;;
    template)         echo "$common -max_len=16384" ;;
    schema|regex|gbnf) echo "$common -max_len=4096" ;;
    *) return 1 ;;
    esac
}

export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=1:abort_on_error=0:symbolize=1"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}halt_on_error=1:print_stacktrace=1"

mkdir -p "$DIR/logs"
STATUS_DIR=$(mktemp -d "${TMPDIR:-/tmp}/slfuzz.XXXXXX") || exit 2
trap 'rm -rf "$STATUS_DIR"' EXIT

run_target() {
    t=$1
    bin=$DIR/fuzz_$t
    opts=$(options "$t") || { echo "fuzz $t: unknown target" >&2; echo fail >"$STATUS_DIR/$t"; return; }
    [ -x "$bin" ] || { echo "fuzz $t: $bin is not built (make fuzz-build)" >&2; echo fail >"$STATUS_DIR/$t"; return; }
    result=ok
    # 1. Known reproducers must no longer crash (each run once, as a regression test).
    if [ "$REPLAY" = 1 ]; then
        for c in tests/fuzz/crashes/"$t"-*; do
            [ -f "$c" ] || continue
            rlog=$DIR/logs/replay-${c##*/}.log
            if ! "$bin" $opts "$c" >"$rlog" 2>&1; then
                echo "fuzz $t: known reproducer $c still fails (log: $rlog)"
                grep -E '^(SUMMARY|.*runtime error|.*invariant failed)' "$rlog" | head -n 2 | sed 's/^/    /'
                result=fail
            fi
        done
    fi
    # 2. Fuzz.
    art=$DIR/artifacts/$t
    rm -rf "$art"
    mkdir -p "$art" "$DIR/corpus/$t"
    dict=
    [ -f "tests/fuzz/dict/$t.dict" ] && dict="-dict=tests/fuzz/dict/$t.dict"
    fork=
    [ "$KEEP_GOING" = 1 ] && fork="-fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1"
    log=$DIR/logs/$t.log
    # shellcheck disable=SC2086
    "$bin" $opts $dict $fork -max_total_time="$SECONDS_EACH" -artifact_prefix="$art/" \
        "$DIR/corpus/$t" "tests/fuzz/corpus/$t" >"$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    if [ -z "$execs" ]; then # fork mode: the last status line "#N ..." of the parent
        execs=$(sed -n 's/^#\([0-9][0-9]*\)[:[:space:]].*/\1/p' "$log" | tail -n 1)
    fi
    execs=${execs:-0}
    found=$(find "$art" -type f | wc -l)
    if [ "$rc" -ne 0 ] || [ "$found" -ne 0 ]; then
        result=fail
        echo "fuzz $t: FINDING (exit $rc, $found artifact(s) in $art/; log: $log)"
        grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error|.*invariant failed|.*ERROR: libFuzzer)' "$log" | head -n 8 | sed 's/^/    /'
    fi
    printf '%s\t%s\t%s\t%s\t%s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$t" "$SECONDS_EACH" "$execs" "$result" >>"$DIR/stats.tsv"
    echo "fuzz $t: $execs executions in ${SECONDS_EACH}s: $result"
    echo "$result" >"$STATUS_DIR/$t"
}

JOBS=${FUZZ_JOBS:-1}
running=0
for t in $TARGETS; do
    run_target "$t" &
    running=$((running + 1))
    if [ "$running" -ge "$JOBS" ]; then
        wait
        running=0
    fi
done
wait

fail=0
for t in $TARGETS; do
    [ "$(cat "$STATUS_DIR/$t" 2>/dev/null)" = ok ] || fail=1
done
[ "$fail" = 0 ] && echo "fuzz: all targets clean" || echo "fuzz: FAILED (see above)"
exit "$fail"
