# shellcheck shell=sh disable=SC2034 # sets ADDR, DAEMON_PID for the caller
# tools/bench_lib.sh — shell helpers shared by tools/bench.sh, tools/bench_compare.sh and
# tools/bench_shapes.sh (sourced, not run). The caller sets B (the build directory holding
# symlorad, gen_model ...) and may set CMDS_FILE (every daemon command line is appended to it).

# bench_renice SCRIPT ARGS...: runs SCRIPT again at nice -10 when this user may raise priority
# (the machine is shared: the other load then yields to the benchmark); SL_BENCH_NICED marks
# the second run (and lets a caller keep its own niceness: SL_BENCH_NICED=1).
bench_renice() {
    if [ -z "${SL_BENCH_NICED:-}" ] && [ "$(nice)" -gt -10 ] && nice -n -10 true 2>/dev/null; then
        SL_BENCH_NICED=1 exec nice -n -10 "$@"
    fi
}

# The yardstick follows the kernels: when SL_KERNELS forces a lower kernel set, OpenBLAS
# (Debian's build picks its kernels at run time) is forced to the same ISA, so that "ratio to
# sgemm peak" compares like with like (an AVX2 kernel against an AVX-512 sgemm could never
# reach 0.6). An OPENBLAS_CORETYPE already set wins; bench_engine reports the core it ran.
case "${SL_KERNELS:-}" in
avx2) OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-Haswell} && export OPENBLAS_CORETYPE ;;
generic) OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-Nehalem} && export OPENBLAS_CORETYPE ;;
esac

# bench_openblas_core: picks the yardstick's OpenBLAS kernels, once B holds bench_engine.
# Debian 12's OpenBLAS (0.3.21) picks its kernels by CPU model and falls back to old ones on a
# CPU newer than itself: on an Intel Xeon of family 6 model 207 it ran its SSE3 "Prescott"
# kernels, 65 GFLOP/s where its SkylakeX kernels give 237, which would flatter every ratio to
# sgemm peak. Unless OPENBLAS_CORETYPE is set (by the user, or above for a forced kernel set),
# this measures sgemm with the kernels OpenBLAS detects and with each of Haswell (AVX2, FMA),
# SkylakeX (AVX-512) and Cooperlake (AVX-512 BF16) that this CPU runs, keeps the fastest for
# every program of the run (exports OPENBLAS_CORETYPE) and appends what it measured to
# $B/bench_openblas_cores.txt ("kernels GFLOP/s" lines; bench.sh records them when
# OB_CORES_TRIED=1).
bench_openblas_core() {
    OB_CORES_TRIED=0
    [ -n "${OPENBLAS_CORETYPE:-}" ] && return 0
    OB_CORES_TRIED=1
    flags=" $(grep -m1 '^flags' /proc/cpuinfo | cut -d: -f2) "
    cands=detected
    case $flags in *" avx2 "*) case $flags in *" fma "*) cands="$cands Haswell" ;; esac ;; esac
    avx512=1
    for f in avx512f avx512cd avx512bw avx512dq avx512vl; do
        case $flags in *" $f "*) ;; *) avx512=0 ;; esac
    done
    if [ "$avx512" = 1 ]; then
        cands="$cands SkylakeX"
        case $flags in *" avx512_bf16 "*) cands="$cands Cooperlake" ;; esac
    fi
    best="" best_g=0
    : >"$B/bench_openblas_cores.txt"
    for c in $cands; do
        if [ "$c" = detected ]; then
            out=$(env -u OPENBLAS_CORETYPE "$B/bench_engine" --sgemm-peak 2048) || continue
        else
            out=$(OPENBLAS_CORETYPE=$c "$B/bench_engine" --sgemm-peak 2048) || continue
        fi
        g=${out%% *} name=${out#* }
        echo "$c($name) $g" >>"$B/bench_openblas_cores.txt"
        if awk "BEGIN { exit !($g > $best_g) }"; then best=$c best_g=$g; fi
    done
    echo "bench: OpenBLAS sgemm GFLOP/s by kernels: $(tr '\n' ' ' <"$B/bench_openblas_cores.txt")-> $best"
    if [ -n "$best" ] && [ "$best" != detected ]; then
        OPENBLAS_CORETYPE=$best
        export OPENBLAS_CORETYPE
    fi
}

# bench_init BUILD: goes to the repository root; sets B (the build directory), DATA (its cache of
# generated models and adapters) and OUT (bench.json, SL_BENCH_JSON) and creates their directories.
bench_init() {
    B=$1
    cd "$(dirname "$0")/.." || exit 1
    DATA=$B/data
    OUT=${SL_BENCH_JSON:-build/bench.json}
    mkdir -p "$DATA" "$(dirname "$OUT")"
}

TOKENIZER=${TOKENIZER:-tests/fixtures/tokenizers/llama3-bpe/tokenizer.json}
DAEMON_PIDS=""

# cached DIR CMD...: runs CMD to produce DIR unless DIR/.stamp records the same command.
cached() {
    dir=$1
    shift
    if [ -f "$dir/.stamp" ] && [ "$(cat "$dir/.stamp")" = "$*" ]; then
        echo "bench: $dir: cached"
        return 0
    fi
    rm -rf "$dir"
    echo "bench: generating $dir"
    "$@"
    printf '%s' "$*" >"$dir/.stamp"
}

# make_http_model SRC DST: DST = SRC's files (symlinks) with a copy of the fixture tokenizer
# extended to 49152 ids (" w01024" ...): the fixture's 1024 ids would make every sampled id of
# a random model of the SmolLM2 shape decode to nothing, and the stream would carry no text.
make_http_model() {
    src=$1
    dst=$2
    stamp="tokenizer $TOKENIZER extended to 49152 ids; links to $src"
    if [ -f "$dst/.stamp" ] && [ "$(cat "$dst/.stamp")" = "$stamp" ]; then return 0; fi
    rm -rf "$dst"
    mkdir -p "$dst"
    for f in config.json model.safetensors generation_config.json tokenizer_config.json; do
        if [ -e "$src/$f" ]; then ln -s "../$(basename "$src")/$f" "$dst/$f"; fi
    done
    python3 - "$TOKENIZER" "$dst/tokenizer.json" <<'PYEOF'
import json, sys
j = json.load(open(sys.argv[1]))
v = j["model"]["vocab"]
n = max(max(v.values()), max((t["id"] for t in j.get("added_tokens", [])), default=0)) + 1
for i in range(n, 49152):
    v["\u0120w%05d" % i] = i  # byte-level: "\u0120" is a space
json.dump(j, open(sys.argv[2], "w"), ensure_ascii=False)
PYEOF
    printf '%s' "$stamp" >"$dst/.stamp"
}

# start_daemon NAME [ENV=VAL ...] -- [symlorad options]: starts $B/symlorad on a free loopback
# port (--listen 127.0.0.1:0; the port is read from its log $B/bench_NAME.log), sets $ADDR and
# $DAEMON_PID.
start_daemon() {
    name=$1
    shift
    envs=""
    while [ $# -gt 0 ] && [ "$1" != "--" ]; do envs="$envs $1"; shift; done
    [ $# -gt 0 ] && shift
    log=$B/bench_$name.log
    echo "bench: daemon $name:${envs:- (OPENBLAS_NUM_THREADS unset)} $B/symlorad --listen 127.0.0.1:0 $*" | tee -a "${CMDS_FILE:-/dev/null}"
    # shellcheck disable=SC2086 # envs is a plain word list
    env $envs "$B/symlorad" --listen 127.0.0.1:0 "$@" >"$log" 2>&1 &
    pid=$!
    DAEMON_PIDS="$DAEMON_PIDS $pid"
    DAEMON_PID=$pid
    i=0
    while :; do
        ADDR=$(sed -n 's/.*listening on http:\/\/\([0-9.]*:[0-9]*\).*/\1/p' "$log" | head -n 1)
        [ -n "$ADDR" ] && break
        if ! kill -0 "$pid" 2>/dev/null || [ $i -ge 1200 ]; then
            echo "bench: symlorad ($name) did not start:" >&2
            cat "$log" >&2
            return 1
        fi
        i=$((i + 1))
        sleep 0.1
    done
}

stop_daemon() {
    pid=$1
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    rest=""
    for p in $DAEMON_PIDS; do [ "$p" = "$pid" ] || rest="$rest $p"; done
    DAEMON_PIDS=$rest
}

stop_all_daemons() {
    for p in $DAEMON_PIDS; do kill -TERM "$p" 2>/dev/null || true; done
    for p in $DAEMON_PIDS; do wait "$p" 2>/dev/null || true; done
    DAEMON_PIDS=""
}

# vm_rss_kib PID: resident set size of a process (VmRSS, KiB), or nothing.
vm_rss_kib() {
    sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$1/status" 2>/dev/null
}
