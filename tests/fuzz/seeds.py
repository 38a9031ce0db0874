#!/usr/bin/env python3
"""tests/fuzz/seeds.py — regenerates the seed corpora tests/fuzz/corpus/<target>/ from
tests/fixtures (run from anywhere; needs only the Python standard library).

Seeds are kept small: real fixture files where they are small, and hand-made minimal valid
inputs that reach the success paths (every dtype, scalars, empty tensors, each RoPE form,
each adapter option) so that the fuzzer mutates from deep states rather than from nothing.
The files named by 40 hex digits beside them are not made here: they are inputs found by
fuzzing (build/fuzz/corpus/<target>), minimised with libFuzzer's -merge=1 against these seeds
and kept when small; this script leaves them alone."""
import json
import os
import struct

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
FIX = os.path.join(ROOT, "tests", "fixtures")
OUT = os.path.join(ROOT, "tests", "fuzz", "corpus")

DTYPE_SIZE = {"F32": 4, "F16": 2, "BF16": 2, "F64": 8, "I64": 8, "I32": 4, "I16": 2, "I8": 1,
              "U64": 8, "U32": 4, "U16": 2, "U8": 1, "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1}


def read(*p):
    with open(os.path.join(FIX, *p), "rb") as f:
        return f.read()


def put(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def nelem(shape):
    n = 1
    for s in shape:
        n *= s
    return n


def fill(dtype, n, special=False):
    """n elements of DTYPE: small finite values, or with SPECIAL some NaN/Inf bit patterns."""
    if dtype == "F32":
        vals = [((i % 7) - 3) * 0.125 for i in range(n)]
        if special and n >= 2:
            vals[0], vals[1] = float("inf"), float("nan")
        return struct.pack("<%df" % n, *vals)
    if dtype in ("F16", "BF16"):
        one = 0x3C00 if dtype == "F16" else 0x3F80
        words = [one + (i % 5) * 0x40 for i in range(n)]
        if special and n >= 2:
            words[0], words[1] = (0x7C00, 0x7E00) if dtype == "F16" else (0x7F80, 0x7FC0)
        if dtype == "F16" and n >= 3:
            words[2] = 0x0001  # a subnormal
        return struct.pack("<%dH" % n, *words)
    return bytes((i * 37) & 0xFF for i in range(n * DTYPE_SIZE[dtype]))


def safetensors(tensors, metadata=None, pad=True, order=None):
    """tensors: [(name, dtype, shape, special)]; returns the file bytes (offsets in list order,
    JSON keys in ORDER if given)."""
    header, blobs, off = {}, [], 0
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape, special in tensors:
        b = fill(dtype, nelem(shape), special)
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    if order:
        header = {k: header[k] for k in order}
    h = json.dumps(header, separators=(",", ":")).encode()
    if pad:
        h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(blobs)


def adapter_seed(config, weights, qwen=False):
    c = config if isinstance(config, bytes) else json.dumps(config).encode()
    return struct.pack("<I", len(c) | (0x80000000 if qwen else 0)) + c + weights


def main():
    # ---- safetensors -----------------------------------------------------------------------
    put("safetensors", "fixture-lora-qv-r4", read("adapters", "llama-tiny", "lora-qv-r4", "adapter_model.safetensors"))
    put("safetensors", "fixture-symlora-qo-r16-bf16",
        read("adapters", "llama-tiny", "symlora-qo-r16-bf16", "adapter_model.safetensors"))
    put("safetensors", "f32-metadata", safetensors([("w", "F32", [2, 3], False)], {"format": "pt"}))
    put("safetensors", "every-dtype", safetensors(
        [("t." + dt.lower(), dt, [3] if i % 3 else [1, 2], False) for i, dt in enumerate(DTYPE_SIZE)]))
    put("safetensors", "scalar-empty", safetensors(
        [("scalar", "F32", [], False), ("empty", "BF16", [0, 4], False), ("one", "U8", [1], False)]))
    put("safetensors", "nan-inf", safetensors(
        [("a", "F32", [4], True), ("b", "F16", [4], True), ("c", "BF16", [4], True)]))
    put("safetensors", "unsorted-keys", safetensors(
        [("x", "F32", [2], False), ("y", "I64", [2, 2], False), ("z", "F16", [5], False)], order=["z", "x", "y"]))
    put("safetensors", "empty-header", struct.pack("<Q", 2) + b"{}")
    put("safetensors", "unpadded", safetensors([("w", "F16", [8], False)], pad=False))
    put("safetensors", "max-dims", safetensors([("d8", "U8", [1, 2, 1, 2, 1, 1, 2, 1], False)]))

    # ---- model_config ----------------------------------------------------------------------
    for m in ("llama-tiny", "llama-tiny-bf16", "qwen2-tiny"):
        put("model_config", "fixture-" + m, read("models", m, "config.json"))
    base = json.loads(read("models", "llama-tiny", "config.json"))
    v = dict(base)
    del v["rope_parameters"]
    v.update(rope_theta=500000.0, rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
             "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}, eos_token_id=[1, 2, 3])
    put("model_config", "llama3-rope", json.dumps(v).encode())
    v = dict(base)
    v.update(rope_parameters={"rope_theta": 10000.0, "rope_type": "linear", "factor": 2.0}, attention_bias=True,
             architectures=["MistralForCausalLM"], sliding_window=None)
    put("model_config", "linear-rope-mistral", json.dumps(v).encode())
    put("model_config", "minimal", json.dumps({
        "architectures": ["LlamaForCausalLM"], "hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2,
        "intermediate_size": 16, "vocab_size": 10, "rms_norm_eps": 1e-6, "rope_scaling": {"type": "default"}}).encode())

    # ---- adapter (4-byte prefix: config length | bit 31 = qwen2-tiny) ----------------------
    for model, qwen in (("llama-tiny", False), ("qwen2-tiny", True)):
        for a in ("lora-qv-r4", "symlora-qo-r8", "symlora-qo-r16-bf16") + (("symlora-all-r4",) if not qwen else ()):
            cfg = read("adapters", model, a, "adapter_config.json")
            w = read("adapters", model, a, "adapter_model.safetensors")
            put("adapter", "fixture-%s-%s" % (model, a), adapter_seed(cfg, w, qwen))
    P = "base_model.model.model.layers."
    # llama-tiny: hidden 64, q out 64, k/v out 32, intermediate 192, 2 layers.
    shapes = {"q_proj": (64, 64), "k_proj": (32, 64), "v_proj": (32, 64), "o_proj": (64, 64),
              "gate_proj": (192, 64), "up_proj": (192, 64), "down_proj": (64, 192)}
    parent = lambda m: "self_attn" if m in ("q_proj", "k_proj", "v_proj", "o_proj") else "mlp"
    t = []
    for m, (o, i) in shapes.items():
        t += [(P + "1.%s.%s.symlora_Q.weight" % (parent(m), m), "F16", [max(o, i), 1], False),
              (P + "1.%s.%s.symlora_lambda" % (parent(m), m), "F16", [1], False)]
    put("adapter", "symlora-all-linear-layer1-f16", adapter_seed(
        {"peft_type": "SYMLORA", "r": 1, "lora_alpha": 2, "target_modules": "all-linear", "layers_to_transform": [1],
         "layers_pattern": "layers", "bias": "none"}, safetensors(t, {"format": "pt"})))
    put("adapter", "lora-regex-rslora-bf16", adapter_seed(
        {"peft_type": "LORA", "r": 1, "lora_alpha": 4.0, "use_rslora": True,
         "target_modules": r".*\.0\.self_attn\.v_proj"},
        safetensors([(P + "0.self_attn.v_proj.lora_A.weight", "BF16", [1, 64], False),
                     (P + "0.self_attn.v_proj.lora_B.weight", "BF16", [32, 1], False)])))
    put("adapter", "lora-patterns-exclude", adapter_seed(
        {"peft_type": "LORA", "r": 4, "lora_alpha": 8, "target_modules": ["q_proj", "k_proj"], "layers_to_transform": 0,
         "exclude_modules": r"model\.layers\.0\.self_attn\.k_proj", "rank_pattern": {"q_proj": 2},
         "alpha_pattern": {"model.layers.0.self_attn.q_proj": 3.5}, "use_dora": False, "modules_to_save": None},
        safetensors([(P + "0.self_attn.q_proj.lora_A.weight", "F32", [2, 64], False),
                     (P + "0.self_attn.q_proj.lora_B.weight", "F32", [64, 2], False)])))
    put("adapter", "symlora-full-name-list", adapter_seed(
        {"peft_type": "SYMLORA", "r": 2, "lora_alpha": 1, "target_modules": ["model.layers.0.mlp.down_proj"],
         "exclude_modules": ["up_proj"]},
        safetensors([(P + "0.mlp.down_proj.symlora_Q.weight", "F32", [192, 2], False),
                     (P + "0.mlp.down_proj.symlora_lambda", "F32", [2], False)])))

    # ---- tokenizer_load --------------------------------------------------------------------
    for tk in ("llama3-bpe", "gpt2-bpe", "spm-bpe"):
        put("tokenizer_load", "fixture-" + tk, read("tokenizers", tk, "tokenizer.json"))
        put("tokenizer_load", "small-" + tk, small_tokenizer(json.loads(read("tokenizers", tk, "tokenizer.json"))))

    # ---- tokenizer_encode (control byte: %3 tokenizer, bit 2 add_special, bit 3 skip_special) ----
    texts = []
    for k, tk in enumerate(("llama3-bpe", "gpt2-bpe", "spm-bpe")):
        for c in json.loads(read("tokenizers", tk, "cases.json")):
            texts.append((k, c["text"].encode()))
    seen = set()
    for n, (k, text) in enumerate(texts):
        if (k, text) in seen or len(text) > 512:
            continue
        seen.add((k, text))
        put("tokenizer_encode", "case-%03d" % n, bytes([k | (4 if n % 2 else 0) | (8 if n % 3 == 0 else 0)]) + text)
    for k in range(3):
        put("tokenizer_encode", "invalid-utf8-%d" % k, bytes([k | 4]) + b"ab\xff\xc3(\xed\xa0\x80 \xf4\x90\x80\x80 z\x00y")


def small_tokenizer(tj, keep=160):
    """The same pipeline with a vocabulary cut to KEEP ids (plus the added tokens) and the
    merges that stay inside it: a few KB instead of tens."""
    model = tj["model"]
    added = {t["content"] for t in tj.get("added_tokens", [])}
    vocab = {k: v for k, v in model["vocab"].items() if v < keep or k in added}
    merges = []
    for m in model.get("merges", []):
        a, b = m if isinstance(m, list) else m.split(" ", 1)
        if a in vocab and b in vocab and a + b in vocab:
            merges.append(m)
    model["vocab"], model["merges"] = vocab, merges
    return json.dumps(tj, ensure_ascii=False, separators=(",", ":")).encode()


if __name__ == "__main__":
    main()
