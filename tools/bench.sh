#!/bin/sh
# tools/bench.sh BUILD — the benchmarks of `make bench` (issue 8), on the SmolLM2-135M shape.
#
#   make bench              (builds BUILD=build/bench with -O3 -march=native, then runs this)
#   tools/bench.sh build/bench
#
# 1. generates (once; cached in BUILD/data) a random SmolLM2-135M-shape model and 64 rank-16
#    SymLoRA + 64 rank-16 LoRA adapters on all seven modules (BUILD/gen_model);
# 2. runs BUILD/bench_engine: machine limits, decode/prefill throughput, 64 tenants per batch;
# 3. runs BUILD/bench_tokenizer on the llama3-bpe fixture tokenizer, when that program exists;
# 4. HTTP end to end and hot swap (parts 5-6): not measured yet (they need the daemon);
# 5. merges everything into build/bench.json (numbers; null = not measured) and prints a table.
#
# Speed is measured, never asserted: this script fails only when a benchmark program fails.
# Environment: SL_BENCH_MIN_TIME (seconds per decode measurement, default 1.5),
# SL_BENCH_MAX_STEPS (default 24), SL_BENCH_JSON (default build/bench.json).
set -eu

B=${1:-build/bench}
cd "$(dirname "$0")/.."
DATA=$B/data
OUT=${SL_BENCH_JSON:-build/bench.json}
MODEL=$DATA/smollm2-135m-f32
SYM=$DATA/symlora-r16-all-x64
LORA=$DATA/lora-r16-all-x64
TOKENIZER=tests/fixtures/tokenizers/llama3-bpe/tokenizer.json

for prog in gen_model bench_engine; do
    [ -x "$B/$prog" ] || { echo "bench.sh: $B/$prog is missing (run make bench)" >&2; exit 1; }
done
mkdir -p "$DATA" "$(dirname "$OUT")"

# Runs "$@" to produce directory $dir unless $dir/.stamp records the same command (cache).
cached() {
    dir=$1
    shift
    if [ -f "$dir/.stamp" ] && [ "$(cat "$dir/.stamp")" = "$*" ]; then
        echo "bench.sh: $dir: cached"
        return 0
    fi
    rm -rf "$dir"
    echo "bench.sh: generating $dir"
    "$@"
    printf '%s' "$*" >"$dir/.stamp"
}

cached "$MODEL" "$B/gen_model" model --preset smollm2-135m --out "$MODEL" --dtype f32 --seed 1
cached "$SYM" "$B/gen_model" adapters --model "$MODEL" --out "$SYM" --count 64 --kind symlora --rank 16 --targets all --seed 2
cached "$LORA" "$B/gen_model" adapters --model "$MODEL" --out "$LORA" --count 64 --kind lora --rank 16 --targets all --seed 3

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
ENGINE_CMD="$B/bench_engine --model $MODEL --symlora $SYM --lora $LORA --adapters 64 --min-time ${SL_BENCH_MIN_TIME:-1.5} --max-steps ${SL_BENCH_MAX_STEPS:-24}"
echo "bench.sh: $ENGINE_CMD"
# shellcheck disable=SC2086 # the command is a plain word list
$ENGINE_CMD >"$B/bench_engine.json"

TOK_CMD=""
: >"$B/bench_tokenizer.out"
if [ -x "$B/bench_tokenizer" ]; then
    TOK_CMD="$B/bench_tokenizer $TOKENIZER"
    echo "bench.sh: $TOK_CMD"
    $TOK_CMD >"$B/bench_tokenizer.out" || { echo "bench.sh: bench_tokenizer failed" >&2; exit 1; }
else
    echo "bench.sh: tokenizer encode MB/s: not measured yet ($B/bench_tokenizer does not exist)"
fi

# Parts 5-6 need symlorad and a load generator; until they exist these print, never invent.
http_bench() {
    echo "bench.sh: HTTP end to end (1/8/32/64 streams over 1/8/64 adapters: tok/s, TTFT, ITL): not measured yet"
}
swap_bench() {
    echo "bench.sh: hot swap PUT-to-first-token and cold load from the store: not measured yet"
}
http_bench
swap_bench
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

ENGINE_JSON="$B/bench_engine.json" TOK_OUT="$B/bench_tokenizer.out" OUT="$OUT" \
ENGINE_CMD="$ENGINE_CMD" TOK_CMD="$TOK_CMD" LOAD_BEFORE="$LOAD_BEFORE" LOAD_AFTER="$LOAD_AFTER" \
python3 - <<'EOF'
import json, os

env = os.environ
res = json.load(open(env["ENGINE_JSON"]))
commands = {k: "make bench -> " + env["ENGINE_CMD"] for k in res}

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

# Parts 5-6 of issue 8: not measured until the daemon exists (null, never a made-up number).
for k in ("http_c32_tok_s", "http_ttft_p50_ms", "http_itl_p50_ms", "swap_put_to_serve_p50_ms", "cold_load_p50_ms"):
    res.setdefault(k, None)

def ratio(a, b):
    x, y = res.get(a), res.get(b)
    return x / y if isinstance(x, (int, float)) and isinstance(y, (int, float)) and y else None

res["ratio_http_c32_over_engine_b32"] = ratio("http_c32_tok_s", "decode_b32_tok_s")
res["_meta"] = {
    "not_measured": sorted(k for k, v in res.items() if v is None),
    "load_average_before": env["LOAD_BEFORE"],
    "load_average_after": env["LOAD_AFTER"],
    "commands": commands,
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
    ("model bytes (F32, resident)", "model_bytes", " B"),
    ("decode batch 1", "decode_b1_tok_s", " tok/s"),
    ("decode batch 8", "decode_b8_tok_s", " tok/s"),
    ("decode batch 32", "decode_b32_tok_s", " tok/s"),
    ("decode batch 64", "decode_b64_tok_s", " tok/s"),
    ("decode batch 128", "decode_b128_tok_s", " tok/s"),
    ("decode batch 64 achieved", "decode_b64_gflops", " GFLOP/s"),
    ("prefill, 512-token prompt", "prefill_tok_s", " tok/s"),
    ("batch 64, no adapter", "b64_none_tok_s", " tok/s"),
    ("batch 64, 64 SymLoRA r16 (7 modules)", "b64_symlora64_tok_s", " tok/s"),
    ("batch 64, 64 LoRA r16 (7 modules)", "b64_lora64_tok_s", " tok/s"),
    ("SymLoRA r16 adapter, resident", "symlora_adapter_bytes", " B"),
    ("LoRA r16 adapter, resident", "lora_adapter_bytes", " B"),
    ("tokenizer encode", "tokenizer_encode_mb_s", " MB/s"),
    ("HTTP 32 streams", "http_c32_tok_s", " tok/s"),
    ("HTTP time to first token p50", "http_ttft_p50_ms", " ms"),
    ("HTTP inter-token latency p50", "http_itl_p50_ms", " ms"),
    ("hot swap PUT -> first token p50", "swap_put_to_serve_p50_ms", " ms"),
    ("cold load from store p50", "cold_load_p50_ms", " ms"),
]
print("\n== symlora benchmarks (SmolLM2-135M shape, random weights) -> %s" % env["OUT"])
print("   load average before %s, after %s (a busy machine lowers every number)" % (env["LOAD_BEFORE"], env["LOAD_AFTER"]))
for label, key, unit in rows:
    print("   %-40s %22s   %s" % (label, fmt(res.get(key), unit), key))

targets = [
    ("decode_b64_gflops / sgemm_peak_gflops", "ratio_b64_gflops_over_peak", lambda r: r >= 0.5, ">= 0.5"),
    ("decode_b1 * model_bytes / read_bandwidth", "ratio_b1_bandwidth_use", lambda r: r >= 0.6, ">= 0.6"),
    ("b64_symlora64 / b64_none", "ratio_symlora64_over_none", lambda r: r >= 0.8, ">= 0.8"),
    ("b64_symlora64 / b64_lora64", "ratio_symlora64_over_lora64", lambda r: r > 1.0, "> 1"),
    ("http_c32 / engine decode b32", "ratio_http_c32_over_engine_b32", lambda r: r >= 0.8, ">= 0.8"),
    ("swap PUT -> serve p50 (ms)", "swap_put_to_serve_p50_ms", lambda r: r < 100, "< 100"),
]
print("\n   %-44s %10s %8s  %s" % ("target (issue 8)", "measured", "goal", "status"))
for label, key, ok, goal in targets:
    v = res.get(key)
    status = "not measured yet" if v is None else ("met" if ok(v) else "MISSED")
    print("   %-44s %10s %8s  %s" % (label, "-" if v is None else "%.3f" % v, goal, status))
EOF
