#!/usr/bin/env python3
"""bench_report.py — merges the parts of `make bench` into build/bench.json and writes its
"targets" object (the "Done when" criteria of issue 13: measured ratio, bar, met).

    tools/bench_report.py --json build/bench.json [--compare FILE.jsonl --compare-cmds FILE]
                          [--shapes FILE.jsonl --shapes-cmds FILE] [--kernels TEXT]

--compare: lines of tools/bench_compare.sh (symlorad and llama.cpp, cells c1/c8/c8_ad, F32/BF16)
  -> llamacpp_<dt>_<cell>_tok_s, symlorad_<dt>_<cell>_tok_s, vs_llamacpp_<dt>_<cell> (the ratio
  symlorad / llama.cpp); a cell that was not run holds the reason (a string), never a number.
--shapes: lines of tools/bench_shapes.sh (bench_engine on real model shapes and dtypes)
  -> shape_<model>_<dt>_<key>.
The JSON file is read (if it exists), updated and written back; targets are recomputed from every
key it then holds, so a part run alone (make bench-compare) updates its rows and leaves the others
(their "run_at" tells which run they came from). Speed is never asserted: exit status 0 unless
an input is unreadable.
"""
import json
import os
import sys
import time

CELLS = {"c1": "c1", "c8": "c8", "c8_ad": "c8_adapters", "c8_lora": "c8_adapters"}


def num(v):
    return v if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def ratio(a, b):
    a, b = num(a), num(b)
    return a / b if a is not None and b else None


def read_lines(path):
    out = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                out.append(json.loads(line))
    return out


def merge_compare(res, lines, cmds):
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    meta = {"run_at": stamp, "lines": lines, "commands": cmds,
            "what": "symlorad (HTTP, tools/loadgen.c) and llama.cpp (node-llama-cpp, tools/bench_llamacpp.mjs) on the same "
                    "random SmolLM2-135M-shape model (GGUF by tools/hf2gguf.py), the same 32 prompt token ids, 128 greedy "
                    "tokens per stream (EOS ignored), the same thread count; tok_s = generated tokens / wall time, "
                    "prefill included. c1: one stream; c8: 8 streams at once on the base model (llama.cpp: one context "
                    "with 8 sequences); c8_adapters: 8 streams, each its own adapter: 8 SymLoRA r16 adapters in one "
                    "symlorad batch vs 8 LoRA r16 adapters on llama.cpp, which applies LoRA per context (8 contexts of "
                    "one sequence, started at once, sharing the threads); vs_llamacpp_* = symlorad / llama.cpp"}
    for dt in ("f32", "bf16"):
        rows = [l for l in lines if l.get("dtype") == dt]
        if not rows:
            continue
        not_run = [l for l in rows if l.get("cell") == "not_run"]
        for cell in ("c1", "c8", "c8_adapters"):
            sym = next((l for l in rows if l.get("engine") == "symlorad" and CELLS.get(l.get("cell")) == cell), None)
            lcp = next((l for l in rows if l.get("engine") == "llama.cpp" and CELLS.get(l.get("cell")) == cell), None)
            if not_run:
                reason = not_run[0].get("reason", "not run")
                for k in ("symlorad_%s_%s_tok_s", "llamacpp_%s_%s_tok_s", "vs_llamacpp_%s_%s"):
                    res[k % (dt, cell)] = reason
                continue
            res["symlorad_%s_%s_tok_s" % (dt, cell)] = sym.get("tok_s") if sym else None
            res["llamacpp_%s_%s_tok_s" % (dt, cell)] = lcp.get("tok_s") if lcp else None
            res["vs_llamacpp_%s_%s" % (dt, cell)] = ratio(sym and sym.get("tok_s"), lcp and lcp.get("tok_s"))
            if sym:
                res["symlorad_%s_%s_ttft_p50_ms" % (dt, cell)] = sym.get("ttft_p50_ms")
        c1 = next((l for l in rows if l.get("engine") == "llama.cpp" and l.get("cell") == "c1"), None)
        if c1 and "greedy_agree_prefix" in c1:
            res["llamacpp_%s_greedy_agree" % dt] = "%d/%d" % (c1["greedy_agree_prefix"], c1["greedy_compared"])
        rss = next((l for l in rows if l.get("engine") == "symlorad" and l.get("cell") == "rss"), None)
        if rss:
            res["symlorad_%s_compare_vm_rss_bytes" % dt] = rss.get("vm_rss_bytes")
            meta["symlorad_version"] = rss.get("version")
        if c1:
            meta["node_llama_cpp"] = c1.get("node_llama_cpp")
            meta["llama_cpp_release"] = c1.get("llama_cpp_release")
            meta["threads"] = c1.get("threads")
    checks = {"%s/%s" % (l["model"], l["case"]): "%d/%d prompts equal%s" % (
                  l["equal"], l["prompts"],
                  "" if not l.get("first_difference") else " (first difference: prompt %(prompt)d, token %(token)d)" % l["first_difference"])
              for l in lines if l.get("engine") == "gguf_check"}
    if checks:
        res["hf2gguf_fixture_greedy"] = checks
        meta["hf2gguf_fixture_greedy"] = ("the fixture models (and LoRA adapters) converted by tools/hf2gguf.py, run on llama.cpp: "
                                          "12 greedy tokens per fixture prompt against transformers/peft (tests/fixtures/expected); "
                                          "a tiny random model's top logits can tie to 1e-4 and llama.cpp's KV cache is F16")
    res.setdefault("_meta", {})["compare"] = meta


def merge_shapes(res, lines, cmds):
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    # A (shape, dtype) run more than once (bench_shapes.sh alternates smollm2-135m f32 and bf16):
    # its round with the fastest batch-1 step, with that round's own bandwidth, and how many rounds.
    best, rounds = {}, {}
    for l in lines:
        key = (l["shape"], l["dtype"])
        rounds[key] = rounds.get(key, 0) + 1
        if key not in best or (num(l.get("decode_b1_tok_s")) or 0) > (num(best[key].get("decode_b1_tok_s")) or 0):
            best[key] = l
    for key, l in best.items():
        res["shape_%s_%s_rounds" % key] = rounds[key]
    for l in best.values():
        pre = "shape_%s_%s_" % (l["shape"], l["dtype"])
        for k, v in l.items():
            if k not in ("shape", "dtype") and (num(v) is not None or isinstance(v, str) or v is None):
                res[pre + k] = v
        rss, fb, kv = num(l.get("vm_rss_bytes")), num(l.get("file_bytes")), num(l.get("kv_pool_bytes"))
        if rss and fb and kv is not None:
            res[pre + "rss_over_file_plus_kv"] = rss / (fb + kv)
    res.setdefault("_meta", {})["shapes"] = {
        "run_at": stamp, "commands": cmds,
        "what": "bench_engine (no HTTP) on random checkpoints of real shapes (tools/gen_model.c presets): decode "
                "tok/s at batch 1/8/64 over 128-token contexts, prefill of one 512-token prompt, the process's VmRSS "
                "after the runs next to the checkpoint's file size (model.safetensors), the resident weight bytes "
                "(model_bytes) and the KV pool; smollm2-135m f32/bf16 at batch 1 alternate over two rounds for the "
                "BF16/F32 ratio, each type's round with the fastest step kept (shape_*_rounds); on llama-3.2-1b, "
                "bench_engine's batch-64 rounds with 64 different SymLoRA r16 adapters (F32 and BF16) against none"}


def targets(res):
    bw = num(res.get("read_bandwidth_gbs"))

    def bw_use(prefix):
        # The run's own bandwidth where it measured one (bench_shapes.sh: LIMITS=1), else the main run's.
        b1, mb = num(res.get(prefix + "decode_b1_tok_s")), num(res.get(prefix + "model_bytes"))
        own = num(res.get(prefix + "read_bandwidth_gbs")) or bw
        return b1 * mb / (own * 1e9) if b1 and mb and own else None

    rows = [
        ("f32_decode_b64_over_sgemm_peak", res.get("ratio_b64_gflops_over_peak"), ">=", 0.6,
         "decode_b64_gflops / sgemm_peak_gflops (bench_engine, SmolLM2-135M shape, F32 weights, KV cache %s: "
         "kv_dtype, symlorad's default)" % res.get("kv_dtype", "?")),
        ("f32_decode_b1_over_bandwidth_bound", res.get("ratio_b1_bandwidth_use"), ">=", 0.7,
         "decode_b1_tok_s * model_bytes / read_bandwidth (F32)"),
        ("bf16_decode_b1_over_bandwidth_bound", bw_use("shape_smollm2-135m_bf16_"), ">=", 0.7,
         "shape_smollm2-135m_bf16_decode_b1_tok_s * its model_bytes / its run's read_bandwidth_gbs"),
        ("bf16_decode_b1_over_f32", ratio(res.get("shape_smollm2-135m_bf16_decode_b1_tok_s"),
                                          res.get("shape_smollm2-135m_f32_decode_b1_tok_s")), ">=", 1.7,
         "decode b1 BF16 / F32, SmolLM2-135M shape, alternating rounds, each type's fastest (bench_shapes.sh)"),
        ("prefill_512_over_sgemm_peak", res.get("ratio_prefill_gflops_over_peak"), ">=", 0.5,
         "prefill_gflops (one 512-token prompt) / sgemm_peak_gflops (F32)"),
        ("vs_llamacpp_1_stream", res.get("vs_llamacpp_f32_c1"), ">=", 1.1, "symlorad / llama.cpp tok/s, F32, 1 stream"),
        ("vs_llamacpp_8_streams", res.get("vs_llamacpp_f32_c8"), ">=", 1.5, "symlorad / llama.cpp tok/s, F32, 8 streams"),
        ("vs_llamacpp_8_adapters", res.get("vs_llamacpp_f32_c8_adapters"), ">=", 4.0,
         "8 streams over 8 SymLoRA (symlorad) / 8 LoRA (llama.cpp) adapters, F32"),
        ("vs_llamacpp_bf16_1_stream", res.get("vs_llamacpp_bf16_c1"), ">=", 1.1, "the same in BF16 (--dtype bf16 vs a BF16 GGUF)"),
        ("vs_llamacpp_bf16_8_streams", res.get("vs_llamacpp_bf16_c8"), ">=", 1.5, "the same in BF16"),
        ("vs_llamacpp_bf16_8_adapters", res.get("vs_llamacpp_bf16_c8_adapters"), ">=", 4.0, "the same in BF16"),
        ("symlora64_b64_over_no_adapter", res.get("ratio_symlora64_over_none"), ">=", 0.9,
         "b64 SymLoRA / none, the median of bench_engine's interleaved rounds' own ratios (64 different SymLoRA r16 "
         "adapters in a batch of 64)"),
        ("symlora64_bf16_b64_over_no_adapter", res.get("ratio_symlora64_bf16_over_none"), ">=", 0.9,
         "the same with the 64 SymLoRA r16 adapters uploaded in BF16, kept in BF16"),
        ("symlora64_b64_over_no_adapter_llama_3_2_1b", res.get("shape_llama-3.2-1b_bf16_ratio_symlora64_over_none"), ">=",
         0.9, "the same 64-adapter rounds on the Llama-3.2-1B shape (BF16 weights; bench_shapes.sh): F32 adapters"),
        ("symlora64_bf16_b64_over_no_adapter_llama_3_2_1b", res.get("shape_llama-3.2-1b_bf16_ratio_symlora64_bf16_over_none"),
         ">=", 0.9, "the same, BF16 adapters"),
        ("llama_3_2_1b_bf16_rss_over_file_plus_kv", res.get("shape_llama-3.2-1b_bf16_rss_over_file_plus_kv"), "<", 1.1,
         "VmRSS of bench_engine serving the 1B-shape BF16 checkpoint / (model.safetensors size + KV pool bytes)"),
    ]
    out = {}
    for name, v, op, bar, what in rows:
        if isinstance(v, str):
            out[name] = {"measured": None, "bar": "%s %g" % (op, bar), "met": None, "note": v, "what": what}
            continue
        v = num(v)
        met = None if v is None else (v >= bar if op == ">=" else v < bar)
        out[name] = {"measured": v, "bar": "%s %g" % (op, bar), "met": met, "what": what}
        if v is None:
            out[name]["note"] = "not measured in this bench.json (make bench runs every part)"
    # The same ratio with the KV cache in F32 (exact), scaled by the batch-64 runs of both types.
    b64, kv32, kv16 = out["f32_decode_b64_over_sgemm_peak"], num(res.get("b64_kv_f32_tok_s")), num(res.get("b64_kv_f16_tok_s"))
    if b64["measured"] is not None and kv32 and kv16 and res.get("kv_dtype") == "f16":
        b64["note"] = "with --kv-dtype f32: about %.3f (x b64_kv_f32_tok_s / b64_kv_f16_tok_s = %.3f)" % (
            b64["measured"] * kv32 / kv16, kv32 / kv16)
    return out


def main(argv):
    args = {}
    i = 0
    while i < len(argv):
        if argv[i] not in ("--json", "--compare", "--compare-cmds", "--shapes", "--shapes-cmds", "--kernels") or i + 1 >= len(argv):
            sys.stderr.write(__doc__.split("\n\n")[1] + "\n")
            return 2
        args[argv[i][2:]] = argv[i + 1]
        i += 2
    path = args.get("json")
    if not path:
        sys.stderr.write("bench_report.py: --json is required\n")
        return 2
    res = {}
    if os.path.exists(path):
        with open(path) as f:
            res = json.load(f)

    def cmds(key):
        p = args.get(key)
        return [l.strip() for l in open(p) if l.strip()] if p and os.path.exists(p) else []

    if "compare" in args:
        merge_compare(res, read_lines(args["compare"]), cmds("compare-cmds"))
    if "shapes" in args:
        merge_shapes(res, read_lines(args["shapes"]), cmds("shapes-cmds"))
    if "kernels" in args:
        res["kernels"] = args["kernels"]
    res["targets"] = targets(res)
    meta = res.setdefault("_meta", {})
    meta["not_measured"] = sorted(k for k, v in res.items() if v is None)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(res, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)

    print("\n   %-48s %10s %8s  %s" % ("target (issue 13)", "measured", "bar", "status"))
    for name, t in res["targets"].items():
        v = t["measured"]
        status = t.get("note", "not measured") if v is None else ("met" if t["met"] else "MISSED")
        print("   %-48s %10s %8s  %s" % (name, "-" if v is None else "%.3f" % v, t["bar"], status))
    if "kernels" in res:
        print("   kernels: %s" % res["kernels"])
    if "openblas_core" in res:
        print("   yardstick: OpenBLAS sgemm on its %s kernels" % res["openblas_core"]
              + (" (sgemm GFLOP/s by kernels: %s)" % res["openblas_cores_measured"] if res.get("openblas_cores_measured") else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
