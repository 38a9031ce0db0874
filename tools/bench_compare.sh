#!/bin/sh
# tools/bench_compare.sh BUILD — symlorad against llama.cpp on the same machine, model and
# prompts (issue 13, part 6). `make bench-compare` runs it; `make bench` runs it after bench.sh.
#
# 1. the bench model (a random SmolLM2-135M-shape checkpoint, F32 and BF16, cached in BUILD/data
#    as bench.sh makes it) and 8 rank-16 all-module PEFT LoRA adapters are converted to GGUF by
#    tools/hf2gguf.py (ours: Python standard library only) into BUILD/data/gguf;
# 2. node-llama-cpp (npm, its prebuilt CPU binaries; version SL_BENCH_NLC_VERSION, default
#    below) is installed once into BUILD/llamacpp (never committed; nothing is downloaded or
#    built when the benchmark runs);
# 3. for F32 and BF16: symlorad over HTTP (tools/loadgen.c) and llama.cpp (tools/bench_llamacpp.mjs),
#    2 threads each (SL_BENCH_COMPARE_THREADS), greedy, the same 32 prompt token ids, 128 generated
#    tokens per stream (EOS ignored), three cells:
#      c1       one stream
#      c8       8 streams at once on the base model (llama.cpp: one context, 8 sequences)
#      c8_ad    8 streams at once, each with its own adapter: 8 SymLoRA r16 adapters on symlorad
#               (one batch), 8 LoRA r16 adapters on llama.cpp (it applies a LoRA per context: 8
#               contexts, one sequence each, all started at once; node-llama-cpp shares the 2
#               threads among them)
#    tok_s = generated tokens of all streams / wall time (prefill included) on both sides. The
#    BF16 cells need symlorad's --dtype; without it they say "not run" instead of a figure.
#    A greedy check: llama.cpp's first 16 tokens of c1 against symlorad's (same model, same ids),
#    and one of the converter: the fixture models and LoRA adapters converted and run on llama.cpp
#    against transformers'/peft's greedy continuations (tools/gguf_check.mjs).
# 4. tools/bench_report.py merges the figures and their ratios (vs_llamacpp_*) into bench.json
#    and recomputes its "targets" object.
# Environment: SL_BENCH_JSON (default build/bench.json), SL_BENCH_COMPARE_THREADS (2),
# SL_BENCH_COMPARE_DTYPES ("f32 bf16"), SL_BENCH_NLC_VERSION.
set -eu
# shellcheck source=tools/bench_lib.sh
. "$(dirname "$0")/bench_lib.sh"
bench_renice "$0" "$@"
bench_init "${1:-build}"
THREADS=${SL_BENCH_COMPARE_THREADS:-2}
DTYPES=${SL_BENCH_COMPARE_DTYPES:-f32 bf16}
NLC_VERSION=${SL_BENCH_NLC_VERSION:-3.22.1}
NLC=$B/llamacpp
TOKENS=128
# 32 prompt ids: BOS (0), then 31 ids of the fixture tokenizer's merged tokens.
PROMPT_IDS=0,3,40,77,114,151,188,225,262,299,336,373,410,447,484,521,558,595,632,669,706,743,780,817,854,891,928,965,1002,39,76,113
RESULTS=$B/bench_compare.jsonl
CMDS_FILE=$B/bench_compare.cmds

for prog in gen_model symlorad loadgen; do
    [ -x "$B/$prog" ] || { echo "bench_compare.sh: $B/$prog is missing (make BUILD=$B all)" >&2; exit 1; }
done
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "bench_compare.sh: node and npm are needed (apt-get install nodejs npm)" >&2
    exit 1
fi
: >"$RESULTS"
: >"$CMDS_FILE"

# 1. models, adapters (the same cache entries as bench.sh), GGUF files.
MODEL=$DATA/smollm2-135m-f32
LORA=$DATA/lora-r16-all-x64
SYM=$DATA/symlora-r16-all-x64
cached "$MODEL" "$B/gen_model" model --preset smollm2-135m --out "$MODEL" --dtype f32 --seed 1
cached "$DATA/smollm2-135m-bf16" "$B/gen_model" model --preset smollm2-135m --out "$DATA/smollm2-135m-bf16" --dtype bf16 --seed 1
cached "$SYM" "$B/gen_model" adapters --model "$MODEL" --out "$SYM" --count 64 --kind symlora --rank 16 --targets all --seed 2
cached "$LORA" "$B/gen_model" adapters --model "$MODEL" --out "$LORA" --count 64 --kind lora --rank 16 --targets all --seed 3
for dt in f32 bf16; do make_http_model "$DATA/smollm2-135m-$dt" "$DATA/smollm2-135m-$dt-vocab49152"; done

to_gguf() {
    mkdir -p "$1"
    for dt in f32 bf16; do
        python3 tools/hf2gguf.py model "$DATA/smollm2-135m-$dt-vocab49152" "$1/smollm2-135m-$dt.gguf"
    done
    for i in 0 1 2 3 4 5 6 7; do
        python3 tools/hf2gguf.py lora "$LORA/00$i" --base "$DATA/smollm2-135m-f32-vocab49152" "$1/lora-r16-00$i.gguf"
    done
}
GGUF=$DATA/gguf
# The stamp names the converter's checksum: a changed converter converts again.
cached "$GGUF" to_gguf "$GGUF" "hf2gguf:$(cksum <tools/hf2gguf.py | cut -d' ' -f1)" "$(cat "$MODEL/.stamp" "$LORA/.stamp" | cksum | cut -d' ' -f1)"

# 2. node-llama-cpp, once. Only the x64 CPU binaries: the optional CUDA/Vulkan/ARM packages are
# left out (--omit=optional) and the CPU one is named; its postinstall would build from source
# when no prebuilt binary fits, which NODE_LLAMA_CPP_SKIP_DOWNLOAD turns off.
if [ "$(cat "$NLC/.stamp" 2>/dev/null)" != "node-llama-cpp@$NLC_VERSION" ]; then
    echo "bench_compare.sh: installing node-llama-cpp@$NLC_VERSION into $NLC (npm)"
    rm -rf "$NLC"
    mkdir -p "$NLC"
    printf '{"name": "symlora-bench-llamacpp", "private": true, "type": "module"}\n' >"$NLC/package.json"
    (cd "$NLC" && NODE_LLAMA_CPP_SKIP_DOWNLOAD=true npm install --no-audit --no-fund --omit=optional \
        "node-llama-cpp@$NLC_VERSION" "@node-llama-cpp/linux-x64@$NLC_VERSION" >npm-install.log 2>&1) ||
        { cat "$NLC/npm-install.log" >&2; echo "bench_compare.sh: npm install failed" >&2; exit 1; }
    printf '%s' "node-llama-cpp@$NLC_VERSION" >"$NLC/.stamp"
fi

ADAPTER_ARGS=""
SYM_MODELS=""
for i in 0 1 2 3 4 5 6 7; do
    ADAPTER_ARGS="$ADAPTER_ARGS --adapter sym00$i=$SYM/00$i"
    SYM_MODELS="$SYM_MODELS${SYM_MODELS:+,}sym00$i"
done
STORE=$(mktemp -d "${TMPDIR:-/tmp}/symlora-bench-compare.XXXXXX")
trap 'stop_all_daemons; rm -rf "$STORE"' EXIT INT TERM
HAS_DTYPE=0
"$B/symlorad" --help 2>&1 | grep -q -- '--dtype' && HAS_DTYPE=1

# record JSON-OBJECT: one line of $RESULTS.
record() { printf '%s\n' "$1" >>"$RESULTS"; }

# Node resolves node-llama-cpp from the script's directory: the scripts run from copies there.
cp tools/bench_llamacpp.mjs tools/gguf_check.mjs "$NLC/"

# The converter, checked on the fixtures: their models and LoRA adapters through hf2gguf.py and
# llama.cpp, greedy, against the continuations of transformers and peft (a few seconds).
FIX=$B/bench_compare_fixtures
mkdir -p "$FIX"
for m in llama-tiny qwen2-tiny; do
    python3 tools/hf2gguf.py model "tests/fixtures/models/$m" "$FIX/$m.gguf"
    for a in base lora-all-r8 lora-qv-r4; do
        lora=""
        if [ "$a" != base ]; then
            lora="$FIX/$m-$a.gguf"
            python3 tools/hf2gguf.py lora "tests/fixtures/adapters/$m/$a" --base "tests/fixtures/models/$m" "$lora"
        fi
        # shellcheck disable=SC2086 # $lora: one path or nothing
        line=$(node "$NLC/gguf_check.mjs" tests/fixtures/expected/expected.json "$m" "$FIX/$m.gguf" "$a" $lora)
        echo "   hf2gguf check: $line"
        record "{\"engine\": \"gguf_check\", ${line#\{}"
    done
done

# llamacpp_cell DTYPE CELL: one run of tools/bench_llamacpp.mjs (model loaded, warmed, one cell).
llamacpp_cell() {
    cmd="node $NLC/bench_llamacpp.mjs --model $GGUF/smollm2-135m-$1.gguf --prompt-ids $PROMPT_IDS --tokens $TOKENS --threads $THREADS"
    case $2 in
        c1) cmd="$cmd --check-ids $(cat "$B/bench_compare_ids")" ;;
        c8_lora) cmd="$cmd --lora $LORA_GGUFS" ;;
    esac
    echo "bench_compare.sh: [llama.cpp $1 $2] $cmd $2" | tee -a "$CMDS_FILE"
    # shellcheck disable=SC2086 # a plain word list
    line=$($cmd "$2") || { echo "bench_compare.sh: llama.cpp (node-llama-cpp) failed" >&2; exit 1; }
    echo "   $line"
    record "{\"dtype\": \"$1\", \"load_average\": \"$(cut -d' ' -f1-3 /proc/loadavg)\", ${line#\{}"
}

# symlorad_cell DTYPE CELL: one loadgen run against the daemon at $addr.
symlorad_cell() {
    case $2 in
        c1) c=1 m=smollm2-135m ;;
        c8) c=8 m=smollm2-135m ;;
        *) c=8 m=$SYM_MODELS ;;
    esac
    echo "bench_compare.sh: [symlorad $1 $2] $B/loadgen stream --addr $addr --concurrency $c --models $m --max-tokens $TOKENS --prompt-ids $PROMPT_IDS" | tee -a "$CMDS_FILE"
    line=$("$B/loadgen" stream --addr "$addr" --concurrency "$c" --models "$m" --max-tokens "$TOKENS" --prompt-ids "$PROMPT_IDS" --label "$2") ||
        echo "bench_compare.sh: loadgen reported failed requests" >&2
    echo "   $line"
    record "{\"engine\": \"symlorad\", \"dtype\": \"$1\", \"cell\": \"$2\", \"load_average\": \"$(cut -d' ' -f1-3 /proc/loadavg)\", ${line#\{}"
}

# compare DTYPE: symlorad on the model of DTYPE (idle while llama.cpp runs), then each cell on
# symlorad and at once on llama.cpp, so that a change of load on a shared machine hits both
# sides of a ratio alike; symlorad's greedy ids of its first 16 tokens go to llama.cpp's c1 check.
compare() {
    dt=$1
    opts=""
    if [ "$dt" = bf16 ]; then opts="--dtype bf16"; fi
    # shellcheck disable=SC2086 # plain word lists
    start_daemon "compare_$dt" -- --model "$DATA/smollm2-135m-$dt-vocab49152" --store "$STORE" --model-name smollm2-135m \
        --threads "$THREADS" --store-rescan-ms 0 --connection-timeout 600 $opts $ADAPTER_ARGS
    addr=$ADDR
    python3 - "$addr" "$PROMPT_IDS" >"$B/bench_compare_ids" <<'EOF'
import json, sys, urllib.request
body = {"model": "smollm2-135m", "prompt": [int(x) for x in sys.argv[2].split(",")], "max_tokens": 16,
        "temperature": 0, "ignore_eos": True, "logprobs": 1, "return_tokens_as_token_ids": True}
req = urllib.request.Request("http://%s/v1/completions" % sys.argv[1], json.dumps(body).encode(), {"Content-Type": "application/json"})
toks = json.load(urllib.request.urlopen(req, timeout=600))["choices"][0]["logprobs"]["tokens"]
print(",".join(t.split(":", 1)[1] for t in toks))
EOF
    "$B/loadgen" stream --addr "$addr" --concurrency 8 --models "$SYM_MODELS" --max-tokens 4 --prompt-ids "$PROMPT_IDS" >/dev/null
    symlorad_cell "$dt" c1
    llamacpp_cell "$dt" c1
    symlorad_cell "$dt" c8
    llamacpp_cell "$dt" c8
    symlorad_cell "$dt" c8_ad
    llamacpp_cell "$dt" c8_lora
    rss=$(vm_rss_kib "$DAEMON_PID")
    if [ -n "$rss" ]; then rss=$((rss * 1024)); else rss=null; fi
    record "{\"engine\": \"symlorad\", \"dtype\": \"$dt\", \"cell\": \"rss\", \"vm_rss_bytes\": $rss, \"version\": \"$("$B/symlorad" --version 2>&1 | head -n 1)\"}"
    stop_daemon "$DAEMON_PID"
}

LORA_GGUFS=$(printf "$GGUF/lora-r16-00%s.gguf," 0 1 2 3 4 5 6 7)
for dt in $DTYPES; do
    if [ "$dt" = bf16 ] && [ "$HAS_DTYPE" = 0 ]; then
        echo "bench_compare.sh: BF16: symlorad has no --dtype: the BF16 cells are not run"
        record "{\"engine\": \"symlorad\", \"dtype\": \"bf16\", \"cell\": \"not_run\", \"reason\": \"not run: symlorad has no --dtype\"}"
        continue
    fi
    compare "$dt"
done
stop_all_daemons
rm -rf "$STORE"
trap - EXIT INT TERM

python3 tools/bench_report.py --json "$OUT" --compare "$RESULTS" --compare-cmds "$CMDS_FILE" --kernels "$("$B/symlorad" --version 2>&1 | tr '\n' ' ' | sed 's/ *$//')"
