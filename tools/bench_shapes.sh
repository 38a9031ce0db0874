#!/bin/sh
# tools/bench_shapes.sh BUILD — real model shapes and weight dtypes (issue 13, part 7).
# `make bench` runs it after bench.sh and bench_compare.sh; `make bench-shapes` runs it alone.
#
# Random BF16 checkpoints of the real shapes, generated once into BUILD/data by BUILD/gen_model
# (presets llama-3.2-1b: hidden 2048, 16 layers, 32 heads, 8 KV heads, intermediate 8192, vocab
# 128256, tied, rope_theta 500000 with llama3 rope scaling; qwen2.5-0.5b: hidden 896, 24 layers,
# 14 heads, 2 KV heads, intermediate 4864, vocab 151936, tied, q/k/v biases; 2.5 GB and 1 GB on
# disk). Their tokenizer is the small fixture one: the model keeps every embedding row of the real
# vocabulary, which is what the engine's work and memory depend on.
# BUILD/bench_engine (no HTTP) runs on each: decode tok/s at batch 1, 8 and 64 over 128-token
# contexts, prefill of one 512-token prompt, VmRSS of the process after the runs, the resident
# weight bytes and the KV pool (64 contexts); the checkpoint's file size is added here. On the
# shapes of SL_BENCH_SHAPES_ADAPTERS (llama-3.2-1b) the run adds bench_engine's batch-64 adapter
# rounds: 64 different SymLoRA r16 adapters on every module (F32, and the same in BF16; 2.1 and
# 1.1 GB, generated once) against no adapter, interleaved. On the SmolLM2-135M shape of bench.sh
# one such adapter holds 1.6 times the weight bytes each of the 64 tokens of a step reads; on
# the 1B shape, 0.4 times: this is the same bar on a model of the size adapters are served on.
# Then the
# SmolLM2-135M shape at batch 1 in F32 and in BF16, alternating over two rounds (the BF16/F32
# ratio and BF16's share of the read bandwidth). BF16 means `--dtype bf16` when bench_engine has that option;
# without it the BF16 checkpoint is widened to F32 at load, and "dtype_option" says so.
# tools/bench_report.py merges the results (shape_<model>_<dtype>_*) into bench.json.
# Environment: SL_BENCH_JSON (default build/bench.json), SL_BENCH_SHAPES ("llama-3.2-1b
# qwen2.5-0.5b"), SL_BENCH_SHAPES_BATCHES (1,8,64), SL_BENCH_SHAPES_ADAPTERS ("llama-3.2-1b"; "" for none).
set -eu
# shellcheck source=tools/bench_lib.sh
. "$(dirname "$0")/bench_lib.sh"
bench_renice "$0" "$@"
bench_init "${1:-build}"
SHAPES=${SL_BENCH_SHAPES:-llama-3.2-1b qwen2.5-0.5b}
BATCHES=${SL_BENCH_SHAPES_BATCHES:-1,8,64}
AD_SHAPES=${SL_BENCH_SHAPES_ADAPTERS-llama-3.2-1b}
RESULTS=$B/bench_shapes.jsonl
CMDS_FILE=$B/bench_shapes.cmds
for prog in gen_model bench_engine; do
    [ -x "$B/$prog" ] || { echo "bench_shapes.sh: $B/$prog is missing (make BUILD=$B all)" >&2; exit 1; }
done
: >"$RESULTS"
: >"$CMDS_FILE"
HAS_DTYPE=0
"$B/bench_engine" --help 2>&1 | grep -q -- '--dtype' && HAS_DTYPE=1

# engine SHAPE DTYPE DIR ARGS...: one bench_engine run on DIR, one line of $RESULTS. With
# LIMITS=1 the run measures this machine's read bandwidth (and sgemm peak) itself, before and
# after its own decode, so a ratio to the bandwidth bound comes from one run: minutes after the
# main run, another tenant's memory traffic changed a shared VM's bandwidth by a third.
engine() {
    shape=$1 dt=$2 dir=$3
    shift 3
    dopt="" note="--dtype $dt"
    if [ "$HAS_DTYPE" = 1 ]; then
        dopt="--dtype $dt"
    elif [ "$dt" != f32 ]; then
        note="none: bench_engine has no --dtype, the $dt checkpoint is widened to F32 at load"
    fi
    cmd="$B/bench_engine --model $dir --limits ${LIMITS:-0} $dopt $*"
    echo "bench_shapes.sh: [$shape $dt] $cmd" | tee -a "$CMDS_FILE"
    # shellcheck disable=SC2086 # a plain word list
    $cmd >"$B/bench_shapes_engine.json" 2>"$B/bench_shapes_engine.err" || { cat "$B/bench_shapes_engine.err" >&2; exit 1; }
    grep -E 'decode b|prefill 512|VmRSS|KV pool|model bytes|batch 64: none|b64 symlora' "$B/bench_shapes_engine.err" | grep -v ' nan ' || true
    size=$(stat -L -c %s "$dir/model.safetensors")
    python3 - "$B/bench_shapes_engine.json" "$shape" "$dt" "$size" "$note" "$(cut -d' ' -f1-3 /proc/loadavg)" >>"$RESULTS" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
keep = {k: v for k, v in r.items() if k.startswith(("decode_b", "prefill_", "vm_", "kv_pool", "model_bytes", "forward_threads",
                                                     "read_bandwidth", "b64_", "ratio_symlora", "symlora_", "adapter_rounds"))}
keep.update(shape=sys.argv[2], dtype=sys.argv[3], file_bytes=int(sys.argv[4]), dtype_option=sys.argv[5], load_average=sys.argv[6])
print(json.dumps(keep))
EOF
}

for shape in $SHAPES; do
    mdir=$DATA/$shape-bf16 # not "dir": cached() sets that
    cached "$mdir" "$B/gen_model" model --preset "$shape" --out "$mdir" --dtype bf16 --seed 1
    adopt=""
    case " $AD_SHAPES " in
    *" $shape "*)
        sym=$DATA/symlora-r16-all-x64-$shape
        cached "$sym" "$B/gen_model" adapters --model "$mdir" --out "$sym" --count 64 --kind symlora --rank 16 --targets all --seed 2
        cached "$sym-bf16" "$B/gen_model" adapters --model "$mdir" --out "$sym-bf16" --count 64 --kind symlora --rank 16 --targets all --seed 2 --dtype bf16
        adopt="--symlora $sym --symlora-bf16 $sym-bf16 --adapters 64"
        ;;
    esac
    # shellcheck disable=SC2086 # a plain word list
    engine "$shape" bf16 "$mdir" --batches "$BATCHES" --sweeps 1 --min-time 0.5 --max-steps 4 --prefill-reps 1 --distinct 1 $adopt
done
SMOL=$DATA/smollm2-135m
cached "$SMOL-f32" "$B/gen_model" model --preset smollm2-135m --out "$SMOL-f32" --dtype f32 --seed 1
cached "$SMOL-bf16" "$B/gen_model" model --preset smollm2-135m --out "$SMOL-bf16" --dtype bf16 --seed 1
# F32 and BF16 alternate, twice (f32 bf16 f32 bf16): a minute's dip in a shared VM's bandwidth
# (47 against 61 GB/s in one run) then slows a round of each type rather than one type alone.
# bench_report.py keeps each type's round with the fastest step.
for _ in 1 2; do
    for dt in f32 bf16; do
        LIMITS=1 engine smollm2-135m "$dt" "$SMOL-$dt" --batches 1 --sweeps 2 --min-time 1 --max-steps 24 --prefill-reps 1
    done
done

python3 tools/bench_report.py --json "$OUT" --shapes "$RESULTS" --shapes-cmds "$CMDS_FILE" --kernels "$("$B/symlorad" --version 2>&1 | tr '\n' ' ' | sed 's/ *$//')"
