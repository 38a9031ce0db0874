#!/bin/sh
# tools/bench.sh BUILD — the benchmarks of `make bench` (issue 8), on the SmolLM2-135M shape.
#
#   make bench              (builds BUILD=build/bench with the normal flags, then runs this)
#   tools/bench.sh build/bench
#
# 1. generates (once; cached in BUILD/data) a random SmolLM2-135M-shape model and 64 rank-16
#    SymLoRA (F32, and the same values in BF16) + 64 rank-16 LoRA adapters on all seven modules
#    (BUILD/gen_model);
# 2. runs BUILD/bench_engine: machine limits, decode/prefill throughput, 64 tenants per batch,
#    batch 64 with the KV cache in F32 against F16 (the default), and batch 1 with a
#    4096-token context;
# 3. runs BUILD/bench_tokenizer on the llama3-bpe fixture tokenizer, when that program exists;
# 4. HTTP end to end and hot swap (parts 5-6): BUILD/symlorad on a free loopback port, driven by
#    BUILD/loadgen (tools/loadgen.c); uploads the 64 SymLoRA adapters, streams 1-64 completions
#    over 1-64 adapters, times PUT -> first token of a new version and cold loads from the store;
# 5. merges everything into build/bench.json (numbers; null = not measured) and prints a table;
# `make bench` then runs tools/bench_report.py (the "targets" object of issue 13: ratio, bar, met,
# and the kernel set), tools/bench_compare.sh (symlorad vs llama.cpp) and tools/bench_shapes.sh
# (real model shapes), which add their keys to the same bench.json.
#
# Speed is measured, never asserted: this script fails only when a benchmark program fails.
# Environment: SL_BENCH_MIN_TIME (seconds per decode measurement, default 1.5),
# SL_BENCH_MAX_STEPS (default 24), SL_BENCH_JSON (default build/bench.json), SL_BENCH_ENGINE=0
# (reuse BUILD/bench_engine.json of an earlier run), SL_BENCH_HTTP* (parts 5-6, see below).
set -eu

# Everything runs at nice -10 when this user may raise priority (bench_lib.sh: bench_renice);
# the niceness used is recorded in bench.json.
# shellcheck source=tools/bench_lib.sh
. "$(dirname "$0")/bench_lib.sh"
bench_renice "$0" "$@"
B=${1:-build/bench}
cd "$(dirname "$0")/.."
DATA=$B/data
OUT=${SL_BENCH_JSON:-build/bench.json}
MODEL=$DATA/smollm2-135m-f32
SYM=$DATA/symlora-r16-all-x64
SYM16=$DATA/symlora-r16-all-x64-bf16
LORA=$DATA/lora-r16-all-x64
TOKENIZER=tests/fixtures/tokenizers/llama3-bpe/tokenizer.json # also what bench_lib.sh extends

for prog in gen_model bench_engine; do
    [ -x "$B/$prog" ] || { echo "bench.sh: $B/$prog is missing (run make bench)" >&2; exit 1; }
done
bench_openblas_core # the yardstick's kernels (bench_lib.sh)
mkdir -p "$DATA" "$(dirname "$OUT")"

cached "$MODEL" "$B/gen_model" model --preset smollm2-135m --out "$MODEL" --dtype f32 --seed 1
cached "$SYM" "$B/gen_model" adapters --model "$MODEL" --out "$SYM" --count 64 --kind symlora --rank 16 --targets all --seed 2
cached "$SYM16" "$B/gen_model" adapters --model "$MODEL" --out "$SYM16" --count 64 --kind symlora --rank 16 --targets all --seed 2 --dtype bf16
cached "$LORA" "$B/gen_model" adapters --model "$MODEL" --out "$LORA" --count 64 --kind lora --rank 16 --targets all --seed 3

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
ENGINE_CMD="$B/bench_engine --model $MODEL --symlora $SYM --symlora-bf16 $SYM16 --lora $LORA --adapters 64 --min-time ${SL_BENCH_MIN_TIME:-1.5} --max-steps ${SL_BENCH_MAX_STEPS:-24}"
if [ "${SL_BENCH_ENGINE:-1}" = 0 ] && [ -s "$B/bench_engine.json" ]; then
    echo "bench.sh: SL_BENCH_ENGINE=0: engine numbers reused from $B/bench_engine.json (an earlier run)"
else
    echo "bench.sh: $ENGINE_CMD"
    # shellcheck disable=SC2086 # the command is a plain word list
    $ENGINE_CMD >"$B/bench_engine.json"
fi

# The bundled fixture model too (issue 2 asks for both): prefill/decode tok/s only.
FIXTURE_CMD="$B/bench_engine --model tests/fixtures/models/llama-tiny --min-time 0.5 --max-steps 12"
echo "bench.sh: $FIXTURE_CMD"
# shellcheck disable=SC2086 # the command is a plain word list
$FIXTURE_CMD >"$B/bench_fixture.json" 2>"$B/bench_fixture.err" || { cat "$B/bench_fixture.err" >&2; exit 1; }

# The KV cache's element type at batch 64 (128-token contexts, no adapter): F32 (exact) against
# F16 (the default), alternated twice, each the best of its two runs — the figure behind the
# default in the README.
KV_CMD="$B/bench_engine --model $MODEL --profile 64:none --profile-steps 24 --kv-dtype"
echo "bench.sh: $KV_CMD f32|f16 (alternated, twice)"
: >"$B/bench_kv.out"
for _ in 1 2; do
    for kvt in f32 f16; do
        # shellcheck disable=SC2086 # the command is a plain word list
        tps=$($KV_CMD $kvt 2>&1 | sed -n 's/^profile: .*: \([0-9.]*\) tok\/s (mean.*/\1/p')
        echo "$kvt ${tps:-}" >>"$B/bench_kv.out"
    done
done

# Decode at batch 1 with a 4096-token context (attention reads 16 MB of F16 KV per step next
# to the 540 MB of F32 weights; rows over 512 positions run in parts dealt to every thread:
# kernels.h), twice, the best: against decode_b1_tok_s (128-token contexts).
LONG_CMD="$B/bench_engine --model $MODEL --ctx 4096 --profile 1:none --profile-steps 24"
echo "bench.sh: $LONG_CMD (twice)"
: >"$B/bench_long.out"
for _ in 1 2; do
    # shellcheck disable=SC2086 # the command is a plain word list
    tps=$($LONG_CMD 2>&1 | sed -n 's/^profile: .*: \([0-9.]*\) tok\/s (mean.*/\1/p')
    echo "${tps:-}" >>"$B/bench_long.out"
done

TOK_CMD=""
: >"$B/bench_tokenizer.out"
if [ -x "$B/bench_tokenizer" ]; then
    TOK_CMD="$B/bench_tokenizer $TOKENIZER"
    echo "bench.sh: $TOK_CMD"
    $TOK_CMD >"$B/bench_tokenizer.out" || { echo "bench.sh: bench_tokenizer failed" >&2; exit 1; }
else
    echo "bench.sh: tokenizer encode MB/s: not measured yet ($B/bench_tokenizer does not exist)"
fi

# Parts 5-6: HTTP end to end and hot swap, against a real symlorad on loopback, driven by
# BUILD/loadgen (tools/loadgen.c: one C process, poll(2), HTTP/1.1 keep-alive, SSE parsing) so
# the client costs the daemon as little CPU as possible. Each step appends one JSON line to
# $HTTP_OUT; the merge below turns them into keys. Knobs (environment):
#   SL_BENCH_HTTP=0            skip parts 5-6
#   SL_BENCH_HTTP_TOKENS       tokens per completion (default 64; ignore_eos, usage counts them)
#   SL_BENCH_HTTP_PROMPT       the prompt of every completion (default "Once upon a time": 8 tokens
#                              with BOS on the fixture tokenizer; short, so that tok/s is mostly decode)
#   SL_BENCH_HTTP_CELLS        "CxA ..." streams x adapters (default below; A=0: the base model).
#                              C<A cells are left out: one request per stream (two at C=1) would
#                              touch only C adapters. 32x8 is the one behind the http_c32_* keys.
#   SL_BENCH_SWAPS             timed hot swaps (default 20); SL_BENCH_COLD cold loads (default 16)
HTTP_OUT=$B/bench_http.jsonl
HTTP_CMDS=$B/bench_http.cmds
: >"$HTTP_OUT"
: >"$HTTP_CMDS"
# The daemon serves the cached model through a copy of the fixture tokenizer extended to the
# model's 49152 ids (" w01024" ...): the fixture's 1024 ids would make every sampled id of this
# random model decode to nothing, and the stream would carry no text events to time.
HTTP_MODEL=$DATA/smollm2-135m-f32-vocab49152
HTTP_TOKENS=${SL_BENCH_HTTP_TOKENS:-64}
HTTP_PROMPT=${SL_BENCH_HTTP_PROMPT:-Once upon a time}
HTTP_CELLS=${SL_BENCH_HTTP_CELLS:-"1x1 8x1 8x8 32x0 32x1 32x8 32x64 64x1 64x8 64x64"}
DAEMON_OPTS="--model-name smollm2-135m --max-running 64 --max-batch-tokens 512 --prefill-chunk 256 --max-waiting 256 --store-rescan-ms 0 --connection-timeout 600"
CMDS_FILE=$HTTP_CMDS

cleanup_http() {
    stop_all_daemons
    [ -n "${STORE:-}" ] && rm -rf "$STORE"
}

# lg TAG loadgen-args...: runs the load generator, appends {"cell": TAG, ...} to $HTTP_OUT.
lg() {
    tag=$1
    shift
    echo "bench.sh: [$tag] $B/loadgen $*" | tee -a "$HTTP_CMDS"
    if ! line=$("$B/loadgen" "$@"); then
        echo "bench.sh: loadgen [$tag] reported failed requests" >&2
    fi
    [ -n "$line" ] || { echo "bench.sh: loadgen [$tag] printed nothing" >&2; return 1; }
    echo "   $line"
    printf '{"cell": "%s", "load_average": "%s", %s\n' "$tag" "$(cut -d' ' -f1-3 /proc/loadavg)" "${line#\{}" >>"$HTTP_OUT"
}

# models PREFIX N: the comma-separated names PREFIX000..PREFIX<N-1> (N=0: the base model).
models() {
    i=0
    list=""
    [ "$2" -eq 0 ] && list=smollm2-135m
    while [ $i -lt "$2" ]; do list="$list${list:+,}$(printf '%s%03d' "$1" $i)"; i=$((i + 1)); done
    echo "$list"
}

http_bench() {
    if [ ! -x "$B/symlorad" ] || [ ! -x "$B/loadgen" ]; then
        echo "bench.sh: HTTP end to end: not measured ($B/symlorad or $B/loadgen is missing)"
        return 0
    fi
    make_http_model "$MODEL" "$HTTP_MODEL"
    STORE=$(mktemp -d "${TMPDIR:-/tmp}/symlora-bench-store.XXXXXX")
    DAEMON_ARGS="--model $HTTP_MODEL --store $STORE $DAEMON_OPTS"
    trap cleanup_http EXIT INT TERM
    # A: OpenBLAS threads as the engine benchmark had them (unset: one per core).
    # shellcheck disable=SC2086 # DAEMON_ARGS is a plain word list
    start_daemon A -- $DAEMON_ARGS --adapter-cache-bytes 4294967296
    A_PID=$DAEMON_PID
    A_ADDR=$ADDR
    lg upload "upload" --addr "$A_ADDR" --prefix sym --dir "$SYM" --count 64
    lg warmup "stream" --addr "$A_ADDR" --concurrency 8 --models "$(models sym 8)" --max-tokens 4 --label warmup
    for cell in $HTTP_CELLS; do
        c=${cell%x*}
        a=${cell#*x}
        r=1
        [ "$c" -eq 1 ] && r=2
        [ "$cell" = "32x0" ] && engine_adjacent 1
        lg "c${c}_a${a}" stream --addr "$A_ADDR" --concurrency "$c" --models "$(models sym "$a")" \
            --requests $r --max-tokens "$HTTP_TOKENS" --prompt "$HTTP_PROMPT" --label "c${c}_a${a}"
        if [ "$cell" = "32x8" ]; then
            # B: the same on OPENBLAS_NUM_THREADS=1 (same store, warmed first), then A and B
            # once more: A, B, A, B, so that a change of load on the shared machine hits both.
            # The step calls no BLAS any more (lib/model/gemm.c, lib/model/lowrank.c), so A and B run the
            # same code: their difference is the machine's noise between adjacent runs.
            # shellcheck disable=SC2086 # DAEMON_ARGS is a plain word list
            start_daemon B OPENBLAS_NUM_THREADS=1 -- $DAEMON_ARGS --adapter-cache-bytes 4294967296
            B_PID=$DAEMON_PID
            B_ADDR=$ADDR
            lg warmup_ob1 "stream" --addr "$B_ADDR" --concurrency 8 --models "$(models sym 8)" --max-tokens 4 --label warmup
            lg "c32_a8_ob1" stream --addr "$B_ADDR" --concurrency 32 --models "$(models sym 8)" \
                --requests 1 --max-tokens "$HTTP_TOKENS" --prompt "$HTTP_PROMPT" --label c32_a8_ob1
            lg "c32_a8_r2" stream --addr "$A_ADDR" --concurrency 32 --models "$(models sym 8)" \
                --requests 1 --max-tokens "$HTTP_TOKENS" --prompt "$HTTP_PROMPT" --label c32_a8_r2
            lg "c32_a8_ob1_r2" stream --addr "$B_ADDR" --concurrency 32 --models "$(models sym 8)" \
                --requests 1 --max-tokens "$HTTP_TOKENS" --prompt "$HTTP_PROMPT" --label c32_a8_ob1_r2
            stop_daemon "$B_PID"
            engine_adjacent 2
        fi
    done
}

# engine_adjacent N: the engine alone at batch 32 (bench_engine --profile: no HTTP, no adapter,
# 128-token contexts), between the HTTP c32 cells: the same machine state, for a ratio less
# disturbed by other load than decode_b32_tok_s (measured minutes earlier).
engine_adjacent() {
    cmd="$B/bench_engine --model $MODEL --profile 32:none --profile-steps 12"
    echo "bench.sh: [engine_b32_adjacent_$1] $cmd" | tee -a "$HTTP_CMDS"
    # shellcheck disable=SC2086
    $cmd 2>"$B/bench_engine_adjacent.err" || cat "$B/bench_engine_adjacent.err" >&2
    prof=$(grep '^profile:' "$B/bench_engine_adjacent.err" || true)
    echo "   $prof"
    best=$(echo "$prof" | sed -n 's/.*: \([0-9.]*\) tok\/s (mean \([0-9.]*\)).*/\1/p')
    mean=$(echo "$prof" | sed -n 's/.*: \([0-9.]*\) tok\/s (mean \([0-9.]*\)).*/\2/p')
    if [ -n "$best" ] && [ -n "$mean" ]; then
        printf '{"cell": "engine_b32_adjacent_%s", "load_average": "%s", "tok_s": %s, "mean_tok_s": %s}\n' \
            "$1" "$(cut -d' ' -f1-3 /proc/loadavg)" "$best" "$mean" >>"$HTTP_OUT"
    fi
}

swap_bench() {
    [ -n "${A_PID:-}" ] || {
        echo "bench.sh: hot swap and cold load: not measured (no daemon)"
        return 0
    }
    # Hot swap on daemon A (64 adapters resident, idle): one untimed first upload, then
    # ${SL_BENCH_SWAPS:-20} new versions, each with other weights (DIR/000, 001, ...).
    lg swap_first put --addr "$A_ADDR" --name swap --dir "$SYM/063"
    lg swap swap --addr "$A_ADDR" --name swap --dir "$SYM" --count "${SL_BENCH_SWAPS:-20}" --adapters 63 --prompt "$HTTP_PROMPT"
    stop_daemon "$A_PID"
    # Cold loads: a restarted daemon whose adapter cache holds nothing idle (1 byte), so every
    # request for another adapter loads it from the store (and evicts the one before).
    n=${SL_BENCH_COLD:-16}
    # shellcheck disable=SC2086 # DAEMON_ARGS is a plain word list
    start_daemon C -- $DAEMON_ARGS --adapter-cache-bytes 1
    C_PID=$DAEMON_PID
    C_ADDR=$ADDR
    lg warmup_cold "stream" --addr "$C_ADDR" --concurrency 1 --models smollm2-135m --max-tokens 4 --label warmup
    lg cold cold --addr "$C_ADDR" --prefix sym --count "$n" --start 0 --prompt "$HTTP_PROMPT"
    lg cold_disk cold --addr "$C_ADDR" --prefix sym --count "$n" --start "$n" --drop-cache "$STORE" --prompt "$HTTP_PROMPT"
    stop_daemon "$C_PID"
    cleanup_http
    trap - EXIT INT TERM
}
if [ "${SL_BENCH_HTTP:-1}" != 0 ]; then
    http_bench
    swap_bench
else
    echo "bench.sh: HTTP end to end and hot swap: skipped (SL_BENCH_HTTP=0)"
fi
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

ENGINE_JSON="$B/bench_engine.json" FIXTURE_JSON="$B/bench_fixture.json" FIXTURE_CMD="$FIXTURE_CMD" TOK_OUT="$B/bench_tokenizer.out" OUT="$OUT" \
ENGINE_CMD="$ENGINE_CMD" KV_CMD="$KV_CMD" LONG_CMD="$LONG_CMD" TOK_CMD="$TOK_CMD" HTTP_OUT="$HTTP_OUT" HTTP_CMDS="$HTTP_CMDS" \
HTTP_TOKENS="$HTTP_TOKENS" HTTP_PROMPT="$HTTP_PROMPT" DAEMON_OPTS="$DAEMON_OPTS" NICENESS="$(nice)" OB_THREADS="${OPENBLAS_NUM_THREADS:-unset}" OB_CORES_TRIED="$OB_CORES_TRIED" LOAD_BEFORE="$LOAD_BEFORE" LOAD_AFTER="$LOAD_AFTER" \
python3 - <<'EOF'
import json, os, re

env = os.environ
res = json.load(open(env["ENGINE_JSON"]))
commands = {k: "make bench -> " + env["ENGINE_CMD"] for k in res}
fix = json.load(open(env["FIXTURE_JSON"]))
for k in ("prefill_tok_s", "decode_b1_tok_s", "decode_b8_tok_s", "decode_b32_tok_s", "decode_b64_tok_s", "decode_b128_tok_s"):
    if fix.get(k) is not None:
        res["fixture_llama_tiny_" + k] = fix[k]
        commands["fixture_llama_tiny_" + k] = "make bench -> " + env["FIXTURE_CMD"]

tok = None
for line in open(env["TOK_OUT"]):
    line = line.strip()
    if line.startswith("{"):
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if isinstance(obj, dict) and "tokenizer_encode_mb_s" in obj:
            tok = obj
if tok:
    for k, v in tok.items():
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            key = k if k.startswith("tokenizer_") else "tokenizer_" + k
            res[key] = v
            commands[key] = "make bench -> " + env["TOK_CMD"]
res.setdefault("tokenizer_encode_mb_s", None)

# The KV element type at batch 64 (the lines of bench_kv.out: "f32 TOK_S" / "f16 TOK_S").
kv_best = {}
for line in open(os.path.join(os.path.dirname(env["ENGINE_JSON"]), "bench_kv.out")):
    parts = line.split()
    if len(parts) == 2:
        kv_best[parts[0]] = max(kv_best.get(parts[0], 0.0), float(parts[1]))
res["b64_kv_f32_tok_s"] = kv_best.get("f32")
res["b64_kv_f16_tok_s"] = kv_best.get("f16")
res["ratio_b64_kv_f16_over_f32"] = (round(kv_best["f16"] / kv_best["f32"], 3)
                                    if kv_best.get("f16") and kv_best.get("f32") else None)
for k in ("b64_kv_f32_tok_s", "b64_kv_f16_tok_s", "ratio_b64_kv_f16_over_f32"):
    commands[k] = "make bench -> " + env["KV_CMD"] + " f32|f16, alternated twice, best of each"

# Batch 1 with a 4096-token context (bench_long.out: one tok/s per line), against 128 tokens.
longs = [float(l) for l in open(os.path.join(os.path.dirname(env["ENGINE_JSON"]), "bench_long.out")) if l.strip()]
res["decode_b1_ctx4096_tok_s"] = max(longs) if longs else None
res["ratio_b1_ctx4096_over_ctx128"] = (round(res["decode_b1_ctx4096_tok_s"] / res["decode_b1_tok_s"], 3)
                                       if longs and res.get("decode_b1_tok_s") else None)
for k in ("decode_b1_ctx4096_tok_s", "ratio_b1_ctx4096_over_ctx128"):
    commands[k] = "make bench -> " + env["LONG_CMD"] + ", twice, the best (decode_b1_tok_s: 128-token contexts)"

# Parts 5-6 (tools/loadgen.c against symlorad; the lines of HTTP_OUT, one per step).
http = {}
if os.path.exists(env["HTTP_OUT"]):
    for line in open(env["HTTP_OUT"]):
        line = line.strip()
        if line:
            obj = json.loads(line)
            http[obj["cell"]] = obj
http_cmd = "make bench -> tools/bench.sh: " + "; ".join(
    l.strip() for l in open(env["HTTP_CMDS"]) if l.strip()) if os.path.exists(env["HTTP_CMDS"]) else ""
metrics = ("tok_s", "steady_tok_s", "ttft_p50_ms", "ttft_p99_ms", "itl_p50_ms", "itl_p99_ms", "tpot_p50_ms")
cells = {}
for tag, obj in http.items():
    if not re.match(r"c[0-9]+_a[0-9]+", tag):
        continue
    cells[tag] = {k: obj.get(k) for k in ("concurrency", "adapters", "requests", "prompt_tokens", "max_tokens", "tokens", "events",
                                          "failed", "short", "wall_s") + metrics + ("load_average",)}
    for m in metrics:
        if obj.get(m) is not None:
            key = "http_%s_%s" % (tag, m)
            res[key] = obj[m]
            commands[key] = http_cmd
def mean_of(tags, key):
    vals = [http[t][key] for t in tags if t in http and isinstance(http[t].get(key), (int, float))]
    return sum(vals) / len(vals) if vals else None

# The c32 keys: the mean of the two runs of cell c32_a8 (A, then B on one BLAS thread, A, B).
for src, dst in (("tok_s", "http_c32_tok_s"), ("steady_tok_s", "http_c32_steady_tok_s"),
                 ("ttft_p50_ms", "http_ttft_p50_ms"), ("ttft_p99_ms", "http_ttft_p99_ms"),
                 ("itl_p50_ms", "http_itl_p50_ms"), ("itl_p99_ms", "http_itl_p99_ms")):
    res[dst] = mean_of(("c32_a8", "c32_a8_r2"), src)
    commands[dst] = http_cmd
for src, dst in (("tok_s", "http_c32_ob1_tok_s"), ("steady_tok_s", "http_c32_ob1_steady_tok_s"),
                 ("ttft_p50_ms", "http_c32_ob1_ttft_p50_ms"), ("itl_p50_ms", "http_c32_ob1_itl_p50_ms")):
    res[dst] = mean_of(("c32_a8_ob1", "c32_a8_ob1_r2"), src)
    commands[dst] = http_cmd
base = http.get("c32_a0")
if base:
    res["http_c32_base_tok_s"] = base.get("tok_s")
    res["http_c32_base_steady_tok_s"] = base.get("steady_tok_s")
    commands["http_c32_base_tok_s"] = commands["http_c32_base_steady_tok_s"] = http_cmd
adj = ("engine_b32_adjacent_1", "engine_b32_adjacent_2")
if any(t in http for t in adj):
    res["engine_b32_adjacent_tok_s"] = mean_of(adj, "tok_s")
    res["engine_b32_adjacent_mean_tok_s"] = mean_of(adj, "mean_tok_s")
    commands["engine_b32_adjacent_tok_s"] = commands["engine_b32_adjacent_mean_tok_s"] = http_cmd
up = http.get("upload")
if up:
    res["http_upload_put_p50_ms"] = up.get("put_p50_ms")
    commands["http_upload_put_p50_ms"] = http_cmd
sw = http.get("swap")
if sw:
    for k in ("swap_put_to_serve_p50_ms", "swap_put_to_serve_p99_ms", "swap_put_p50_ms", "swap_put_p99_ms",
              "swap_ttft_after_put_p50_ms", "swap_ttft_after_put_p99_ms", "swap_ttft_again_p50_ms"):
        res[k] = sw.get(k)
        commands[k] = http_cmd
for tag, prefix in (("cold", "cold_load"), ("cold_disk", "cold_load_disk")):
    c = http.get(tag)
    if c:
        res[prefix + "_p50_ms"] = c.get("cold_ttft_p50_ms")
        res[prefix + "_p99_ms"] = c.get("cold_ttft_p99_ms")
        res[prefix + "_warm_ttft_p50_ms"] = c.get("warm_ttft_p50_ms")
        res[prefix + "_extra_p50_ms"] = c.get("cold_extra_p50_ms")
        for k in ("_p50_ms", "_p99_ms", "_warm_ttft_p50_ms", "_extra_p50_ms"):
            commands[prefix + k] = http_cmd
for k in ("http_c32_tok_s", "http_ttft_p50_ms", "http_itl_p50_ms", "swap_put_to_serve_p50_ms", "cold_load_p50_ms"):
    res.setdefault(k, None)

def ratio(a, b):
    x, y = res.get(a), res.get(b)
    return x / y if isinstance(x, (int, float)) and isinstance(y, (int, float)) and y else None

res["ratio_http_c32_over_engine_b32"] = ratio("http_c32_tok_s", "decode_b32_tok_s")
res["ratio_http_c32_over_engine_b32_mean"] = ratio("http_c32_tok_s", "decode_b32_mean_tok_s")
res["ratio_http_c32_steady_over_engine_b32"] = ratio("http_c32_steady_tok_s", "decode_b32_tok_s")
res["ratio_http_c32_over_engine_b32_adjacent_mean"] = ratio("http_c32_tok_s", "engine_b32_adjacent_mean_tok_s")
res["ratio_http_c32_base_over_engine_b32_adjacent_mean"] = ratio("http_c32_base_tok_s", "engine_b32_adjacent_mean_tok_s")
res["ratio_http_c32_base_steady_over_engine_b32_adjacent_mean"] = ratio("http_c32_base_steady_tok_s", "engine_b32_adjacent_mean_tok_s")
res["ratio_http_c32_ob1_over_ob_default"] = ratio("http_c32_ob1_tok_s", "http_c32_tok_s")
# The OpenBLAS kernels tried for the yardstick (bench_lib.sh: bench_openblas_core), one
# "kernels(name OpenBLAS gave) GFLOP/s" per line; absent when OPENBLAS_CORETYPE was set.
cores_file = os.path.join(os.path.dirname(env["ENGINE_JSON"]), "bench_openblas_cores.txt")
if env.get("OB_CORES_TRIED") == "1" and os.path.exists(cores_file):
    res["openblas_cores_measured"] = ", ".join(line.strip() for line in open(cores_file) if line.strip())
res["_meta"] = {
    "not_measured": sorted(k for k, v in res.items() if v is None),
    "load_average_before": env["LOAD_BEFORE"],
    "load_average_after": env["LOAD_AFTER"],
    "niceness": env["NICENESS"],
    "commands": commands,
    "http": {
        "cells": cells,
        "what": "cK_aN: K concurrent streaming completions (stream: true, ignore_eos, temperature 0, "
                "max_tokens %s, prompt %r of %s tokens) spread over N rank-16 all-module SymLoRA adapters "
                "(stream s uses adapter s mod N); tok_s = usage.completion_tokens of all requests / wall time "
                "(prefills included); steady_tok_s = text events/s while every stream of the first wave "
                "is decoding; ttft = request sent -> first SSE text event; itl = gaps between SSE text "
                "events of one request; http_c32_* = mean of the runs c32_a8 and c32_a8_r2; each cell starts its streams at once (a burst: "
                "ttft includes waiting for the other streams' prefills)"
                % (env["HTTP_TOKENS"], env["HTTP_PROMPT"], (http.get("c32_a8") or {}).get("prompt_tokens")),
        "daemon_options": env["DAEMON_OPTS"],
        "nice": env["NICENESS"],
        "openblas_num_threads": env["OB_THREADS"] + " (daemon A: every cell, swap, cold); 1 (daemon B: c32_a8_ob1*)",
        "engine_b32_adjacent": "bench_engine --profile 32:none --profile-steps 12, run just before c32_a0 and just "
                               "after c32_a8_ob1_r2; *_tok_s = 32 / fastest step, *_mean_tok_s = 32 * steps / time; "
                               "the keys are the mean of both runs",
        "swap": "PUT of a new version of a rank-16 all-module SymLoRA adapter (13.3 MB multipart, "
                "new weights each time) on an idle daemon with 64 adapters resident, then at once a "
                "streaming completion with it (max_tokens 1, the same prompt): start of the PUT -> first text "
                "event; swap_put_* = the PUT alone (until its 200), swap_ttft_after_put_* = the completion alone, "
                "swap_ttft_again_* = the same completion sent once more right after (no swap before it)",
        "cold_load": "daemon restarted with --adapter-cache-bytes 1 (an idle adapter is evicted at the next "
                     "lookup of another): TTFT of a streaming max_tokens=1 completion with an adapter "
                     "not resident (store files in the page cache), next to the TTFT of the same request "
                     "again (resident); cold_load_disk_*: the same after posix_fadvise(DONTNEED) on "
                     "every store file",
        "raw": http,
    },
}
with open(env["OUT"] + ".tmp", "w") as f:
    json.dump(res, f, indent=2)
    f.write("\n")
os.replace(env["OUT"] + ".tmp", env["OUT"])

def fmt(v, unit=""):
    if v is None:
        return "not measured yet"
    if abs(v) >= 1e6:
        return "%.4g%s" % (v, unit)
    return "%.2f%s" % (v, unit) if abs(v) < 100 else "%.1f%s" % (v, unit)

rows = [
    ("sgemm peak", "sgemm_peak_gflops", " GFLOP/s"),
    ("memory read bandwidth", "read_bandwidth_gbs", " GB/s"),
    ("TLB-cold 256 KB read, not prefetched", "tlbcold_read_us_none", " us"),
    ("TLB-cold 256 KB read, prefetched", "tlbcold_read_us_prefetch", " us"),
    ("TLB-cold 256 KB read, pages touched, prefetched", "tlbcold_read_us_touch_prefetch", " us"),
    ("TLB-cold 256 KB read, prefetched with the T0 hint", "tlbcold_read_us_prefetch_t0", " us"),
    ("model bytes (F32, resident)", "model_bytes", " B"),
    ("decode batch 1", "decode_b1_tok_s", " tok/s"),
    ("decode batch 8", "decode_b8_tok_s", " tok/s"),
    ("decode batch 32", "decode_b32_tok_s", " tok/s"),
    ("decode batch 64", "decode_b64_tok_s", " tok/s"),
    ("decode batch 128", "decode_b128_tok_s", " tok/s"),
    ("decode batch 64 achieved", "decode_b64_gflops", " GFLOP/s"),
    ("prefill, 512-token prompt", "prefill_tok_s", " tok/s"),
    ("fixture llama-tiny: prefill 512 tokens", "fixture_llama_tiny_prefill_tok_s", " tok/s"),
    ("fixture llama-tiny: decode batch 1", "fixture_llama_tiny_decode_b1_tok_s", " tok/s"),
    ("fixture llama-tiny: decode batch 64", "fixture_llama_tiny_decode_b64_tok_s", " tok/s"),
    ("batch 64, no adapter", "b64_none_tok_s", " tok/s"),
    ("batch 64, 64 SymLoRA r16 (7 modules)", "b64_symlora64_tok_s", " tok/s"),
    ("batch 64, 64 SymLoRA r16 BF16 (7 modules)", "b64_symlora64_bf16_tok_s", " tok/s"),
    ("batch 64, 64 LoRA r16 (7 modules)", "b64_lora64_tok_s", " tok/s"),
    ("SymLoRA r16 adapter, resident", "symlora_adapter_bytes", " B"),
    ("SymLoRA r16 BF16 adapter, resident", "symlora_bf16_adapter_bytes", " B"),
    ("LoRA r16 adapter, resident", "lora_adapter_bytes", " B"),
    ("tokenizer encode", "tokenizer_encode_mb_s", " MB/s"),
    ("HTTP 32 streams / 8 adapters", "http_c32_tok_s", " tok/s"),
    ("HTTP 32 streams, steady decode", "http_c32_steady_tok_s", " tok/s"),
    ("HTTP 32 streams, base model", "http_c32_base_tok_s", " tok/s"),
    ("engine b32 (no HTTP) next to it, mean", "engine_b32_adjacent_mean_tok_s", " tok/s"),
    ("HTTP 32 streams, OPENBLAS_NUM_THREADS=1", "http_c32_ob1_tok_s", " tok/s"),
    ("HTTP time to first token p50 (c32)", "http_ttft_p50_ms", " ms"),
    ("HTTP time to first token p99 (c32)", "http_ttft_p99_ms", " ms"),
    ("HTTP inter-token latency p50 (c32)", "http_itl_p50_ms", " ms"),
    ("HTTP inter-token latency p99 (c32)", "http_itl_p99_ms", " ms"),
    ("hot swap PUT -> first token p50", "swap_put_to_serve_p50_ms", " ms"),
    ("hot swap PUT -> first token p99", "swap_put_to_serve_p99_ms", " ms"),
    ("  of which the PUT, p50", "swap_put_p50_ms", " ms"),
    ("  and the completion after it, TTFT p50", "swap_ttft_after_put_p50_ms", " ms"),
    ("  the same completion again, TTFT p50", "swap_ttft_again_p50_ms", " ms"),
    ("cold load from store, TTFT p50", "cold_load_p50_ms", " ms"),
    ("cold load, page cache dropped, TTFT p50", "cold_load_disk_p50_ms", " ms"),
    ("  warm TTFT of the same request, p50", "cold_load_warm_ttft_p50_ms", " ms"),
]
print("\n== symlora benchmarks (SmolLM2-135M shape, random weights) -> %s" % env["OUT"])
print("   load average before %s, after %s (a busy machine lowers every number)" % (env["LOAD_BEFORE"], env["LOAD_AFTER"]))
for label, key, unit in rows:
    print("   %-40s %22s   %s" % (label, fmt(res.get(key), unit), key))

if cells:
    print("\n   HTTP cells (streams x adapters, %s tokens each)" % env["HTTP_TOKENS"])
    print("   %-12s %9s %9s %9s %9s %9s %9s %7s" % ("cell", "tok/s", "steady", "ttft p50", "ttft p99", "itl p50", "itl p99", "failed"))
    for tag, c in cells.items():
        f = lambda v: "-" if v is None else "%.1f" % v
        print("   %-12s %9s %9s %9s %9s %9s %9s %7s" % (tag, f(c["tok_s"]), f(c["steady_tok_s"]), f(c["ttft_p50_ms"]),
              f(c["ttft_p99_ms"]), f(c["itl_p50_ms"]), f(c["itl_p99_ms"]), c["failed"]))

targets = [
    ("decode_b64_gflops / sgemm_peak_gflops", "ratio_b64_gflops_over_peak", lambda r: r >= 0.5, ">= 0.5"),
    ("decode_b1 * model_bytes / read_bandwidth", "ratio_b1_bandwidth_use", lambda r: r >= 0.6, ">= 0.6"),
    ("b64_symlora64 / b64_none", "ratio_symlora64_over_none", lambda r: r >= 0.8, ">= 0.8"),
    ("b64_symlora64_bf16 / b64_none", "ratio_symlora64_bf16_over_none", lambda r: r >= 0.8, ">= 0.8"),
    ("b64_symlora64 / b64_lora64", "ratio_symlora64_over_lora64", lambda r: r > 1.0, "> 1"),
    ("http_c32 / engine decode b32", "ratio_http_c32_over_engine_b32", lambda r: r >= 0.8, ">= 0.8"),
    ("  (info) http_c32 / engine b32 mean, adjacent", "ratio_http_c32_over_engine_b32_adjacent_mean", lambda r: r >= 0.8, ">= 0.8"),
    ("  (info) http_c32 base / engine b32 adjacent", "ratio_http_c32_base_over_engine_b32_adjacent_mean", lambda r: r >= 0.8, ">= 0.8"),
    ("swap PUT -> serve p50 (ms)", "swap_put_to_serve_p50_ms", lambda r: r < 100, "< 100"),
]
print("\n   %-44s %10s %8s  %s" % ("target (issue 8)", "measured", "goal", "status"))
for label, key, ok, goal in targets:
    v = res.get(key)
    status = "not measured yet" if v is None else ("met" if ok(v) else "MISSED")
    print("   %-44s %10s %8s  %s" % (label, "-" if v is None else "%.3f" % v, goal, status))
EOF

# ---------------------------------------------------------------- structured outputs (issue 15)
# Self-contained: BUILD/bench_constraint on a 49,152-token byte-level vocabulary (the bench
# model's size; the fixture tokenizer the model carries has 1,024 tokens, too few to cost
# anything). Compile time of a 10-property object schema and the masking work per decode step
# at batch 8, cold (a new schema) and warm (the compiled constraint reused), put in bench.json
# with their ratio to the engine's decode step at batch 8 (8 / decode_b8_tok_s). Skipped when
# the program is not built.
if [ -x "$B/bench_constraint" ]; then
    CONSTRAINT_CMD="$B/bench_constraint --vocab 49152 --batch 8 --steps 96"
    echo "bench.sh: $CONSTRAINT_CMD"
    $CONSTRAINT_CMD >"$B/bench_constraint.json" || { echo "bench.sh: bench_constraint failed" >&2; exit 1; }
    OUT="$OUT" CONSTRAINT_JSON="$B/bench_constraint.json" CONSTRAINT_CMD="$CONSTRAINT_CMD" python3 - <<'PYEOF'
import json, os
env = os.environ
res = json.load(open(env["OUT"]))
got = json.load(open(env["CONSTRAINT_JSON"]))
for k, v in got.items():
    res[k] = v
b8 = res.get("decode_b8_tok_s")
step_ms = 8e3 / b8 if b8 else None
res["constraint_decode_step_b8_ms"] = step_ms
for k in ("constraint_mask_ms_per_step_b8", "constraint_mask_ms_per_step_b8_cold"):
    res[k.replace("constraint_mask_ms_per_step_b8", "ratio_constraint_mask_over_decode_b8")] = \
        got[k] / step_ms if step_ms else None
meta = res.setdefault("_meta", {})
for k in got:
    meta.setdefault("commands", {})[k] = "make bench -> " + env["CONSTRAINT_CMD"]
meta["constraint"] = ("bench_constraint: a byte-level vocabulary of 49,152 made-up tokens (byte tokens, JSON "
                      "punctuation, indentation, numbers, pseudo-words); 8 sequences take the mask, set -inf "
                      "logits and advance over a uniformly random allowed token, 96 steps; cold = new schema "
                      "(empty caches), warm = the compiled constraint reused; ratios over 8 / decode_b8_tok_s")
with open(env["OUT"] + ".tmp", "w") as f:
    json.dump(res, f, indent=2)
    f.write("\n")
os.replace(env["OUT"] + ".tmp", env["OUT"])
f = lambda v, u="": "-" if v is None else "%.3f%s" % (v, u)
print("\n   structured outputs (%d-token vocabulary, 10-property schema)" % got["constraint_vocab"])
print("   %-44s %12s   (goal < 50 ms)" % ("compile, median of 20", f(got["constraint_compile_ms"], " ms")))
print("   %-44s %12s" % ("masking per decode step at b8, warm", f(got["constraint_mask_ms_per_step_b8"], " ms")))
print("   %-44s %12s" % ("masking per decode step at b8, cold", f(got["constraint_mask_ms_per_step_b8_cold"], " ms")))
print("   %-44s %12s   (goal < 0.1)" % ("masking / decode step b8, warm", f(res["ratio_constraint_mask_over_decode_b8"])))
print("   %-44s %12s   (goal < 0.1)" % ("masking / decode step b8, cold", f(res["ratio_constraint_mask_over_decode_b8_cold"])))
PYEOF
fi

# ---- Scheduler (issue 16): BUILD/bench_sched (tools/bench_sched.c), merged into $OUT -----------
# Its own section: runs after the table above and adds the sched_* keys (and their commands) to
# $OUT. Long context on the qwen2.5-0.5b shape (32k context; BF16 file, ~2 GB in memory), memory
# pressure and multi-turn prefix caching on a 2-layer cut of the SmolLM2-135M shape (prefills of
# 1000+ tokens stay short), fairness on the whole SmolLM2-135M shape ($MODEL, whose steps cost
# what a real model's do). SL_BENCH_SCHED=0 skips it; SL_BENCH_SCHED_FAIR_SECONDS (default 8).
if [ "${SL_BENCH_SCHED:-1}" != 0 ]; then
    [ -x "$B/bench_sched" ] || { echo "bench.sh: $B/bench_sched is missing (run make bench)" >&2; exit 1; }
    SCHED_LONG=$DATA/qwen2.5-0.5b-bf16
    SCHED_SMALL=$DATA/smollm2-135m-2layers-f32
    SCHED_ADS=$DATA/symlora-r16-all-x4-2layers
    cached "$SCHED_LONG" "$B/gen_model" model --preset qwen2.5-0.5b --out "$SCHED_LONG" --dtype bf16 --seed 13
    cached "$SCHED_SMALL" "$B/gen_model" model --preset smollm2-135m --layers 2 --out "$SCHED_SMALL" --dtype f32 --seed 11
    cached "$SCHED_ADS" "$B/gen_model" adapters --model "$SCHED_SMALL" --out "$SCHED_ADS" --count 4 --kind symlora --rank 16 --targets all --seed 12
    SCHED_CMD="$B/bench_sched --long-model $SCHED_LONG --model $SCHED_SMALL --adapters $SCHED_ADS --fair-model $MODEL --fair-seconds ${SL_BENCH_SCHED_FAIR_SECONDS:-8}"
    echo "bench.sh: $SCHED_CMD"
    # shellcheck disable=SC2086 # the command is a plain word list
    $SCHED_CMD >"$B/bench_sched.json"
    SCHED_JSON="$B/bench_sched.json" SCHED_CMD="$SCHED_CMD" OUT="$OUT" python3 - <<'EOF'
import json, os

env = os.environ
sched = json.load(open(env["SCHED_JSON"]))
sched.pop("sched_bench", None)
res = json.load(open(env["OUT"])) if os.path.exists(env["OUT"]) else {}
res.update(sched)
meta = res.setdefault("_meta", {})
meta.setdefault("commands", {}).update({k: "make bench -> " + env["SCHED_CMD"] for k in sched})
meta["sched"] = (
    "issue 16 (tools/bench_sched.c, engine in process, daemon defaults): sched_long_*: 16 requests "
    "without max_tokens on the 32k-context qwen2.5-0.5b shape and the default 1 GiB KV pool, how many "
    "ran at once vs how many whole contexts the pool holds (what reserving prompt + max_tokens allowed); "
    "sched_pressure_*: 16 streams on a pool of 4 whole sequences; sched_mt_*: 1000-token system prompt, "
    "8 users x 4 turns over 4 adapters, run one at a time: TTFT p50 of cold turn-1 requests and of "
    "turns 2-4, hit rate = prompt tokens from the cache / prompt tokens, answers vs --no-prefix-cache, "
    "hits under a new adapter version and another tenant; sched_fair_*: B's TTFT p50 (256-token "
    "prompts, one at a time) idle vs with A keeping 64 waiting, and the tokens computed for A:B "
    "with weights 3:1, both keeping 64 waiting")
with open(env["OUT"] + ".tmp", "w") as f:
    json.dump(res, f, indent=2)
    f.write("\n")
os.replace(env["OUT"] + ".tmp", env["OUT"])

def num(k, fmt="%.3f"):
    v = res.get(k)
    return "-" if v is None else fmt % v

print("\n== scheduler (issue 16) -> %s" % env["OUT"])
rows = [
    ("long context: requests running at once (of 16)", "sched_long_running_at_once", "%d", lambda v: v == 16, "16"),
    ("  whole contexts the KV pool holds", "sched_long_reserving_would_run", "%d", None, ""),
    ("memory pressure: preemptions", "sched_pressure_preemptions", "%d", lambda v: v > 0, "> 0"),
    ("  every stream equals its solo run", "sched_pressure_outputs_equal_solo", "%d", lambda v: v == 1, "1"),
    ("multi-turn TTFT p50 later / cold", "ratio_sched_mt_later_over_cold", "%.3f", lambda v: v <= 0.2, "<= 0.2"),
    ("  prefix cache hit rate", "sched_mt_hit_rate", "%.3f", None, ""),
    ("  answers equal --no-prefix-cache", "sched_mt_outputs_equal_no_cache", "%d", lambda v: v == 1, "1"),
    ("  hits, new adapter version", "sched_mt_new_version_hits", "%d", lambda v: v == 0, "0"),
    ("  hits, another tenant", "sched_mt_other_tenant_hits", "%d", lambda v: v == 0, "0"),
    ("fairness: B's TTFT p50 flooded / idle", "ratio_sched_fair_b_flooded_over_idle", "%.3f", lambda v: v <= 2, "<= 2"),
    ("  tokens A:B with weights 3:1", "sched_fair_w31_ratio", "%.3f", lambda v: abs(v / 3 - 1) <= 0.1, "3 +-10%"),
]
for label, key, fmt, ok, goal in rows:
    v = res.get(key)
    status = "" if ok is None else ("not measured" if v is None else ("met" if ok(v) else "MISSED"))
    print("   %-48s %10s %8s  %s" % (label, num(key, fmt), goal, status))
EOF
fi
