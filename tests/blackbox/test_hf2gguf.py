#!/usr/bin/env python3
"""test_hf2gguf.py — tools/hf2gguf.py (the GGUF converter of `make bench-compare`) run as a
program on the fixture checkpoints and adapters; its output is read back by an independent GGUF
reader below and compared with the safetensors it came from. Malformed inputs must be refused
with exit status 1 and a message, never a traceback or a file. (That llama.cpp computes the same
model from the output is checked by bench-compare, which has node-llama-cpp: tools/gguf_check.mjs.)
"""
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
from harness import FIXTURES, ROOT, main, test  # noqa: E402

TOOL = os.path.join(ROOT, "tools", "hf2gguf.py")
MODELS = os.path.join(FIXTURES, "models")
ADAPTERS = os.path.join(FIXTURES, "adapters")
TMP = tempfile.mkdtemp(prefix="test_hf2gguf.")


def run(*args):
    return subprocess.run([sys.executable, TOOL, *args], capture_output=True, text=True, timeout=120)


def convert(*args):
    out = os.path.join(TMP, "out.gguf")
    r = run(*args, out)
    assert r.returncode == 0, r.stderr
    return read_gguf(out)


def read_gguf(path):
    """GGUF v3: header, key-values, tensor infos, aligned data. Returns (kv, tensors, data)."""
    with open(path, "rb") as f:
        buf = f.read()
    pos = [0]

    def take(fmt):
        v = struct.unpack_from("<" + fmt, buf, pos[0])
        pos[0] += struct.calcsize("<" + fmt)
        return v[0] if len(v) == 1 else v

    def string():
        n = take("Q")
        s = buf[pos[0]:pos[0] + n].decode("utf-8")
        pos[0] += n
        return s

    scalar = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}

    def value(t):
        if t == 8:
            return string()
        if t == 9:
            et, n = take("I"), take("Q")
            return [value(et) for _ in range(n)]
        return take(scalar[t])

    assert buf[:4] == b"GGUF"
    pos[0] = 4
    version, n_tensors, n_kv = take("I"), take("Q"), take("Q")
    assert version == 3
    kv = {}
    for _ in range(n_kv):
        k = string()
        kv[k] = value(take("I"))
    tensors = {}
    for _ in range(n_tensors):
        name = string()
        dims = [take("Q") for _ in range(take("I"))]
        gtype, off = take("I"), take("Q")
        assert off % 32 == 0, name
        tensors[name] = (dims, gtype, off)
    data = pos[0] + (-pos[0] % 32)
    return kv, tensors, buf[data:]


def safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        hdr = json.loads(f.read(n))
        body = f.read()
    return {k: (v, body[v["data_offsets"][0]:v["data_offsets"][1]]) for k, v in hdr.items() if k != "__metadata__"}


def tensor_bytes(tensors, data, name):
    dims, gtype, off = tensors[name]
    esz = {0: 4, 1: 2, 30: 2}[gtype]
    n = 1
    for d in dims:
        n *= d
    return data[off:off + n * esz]


def rows(b, n):
    rb = len(b) // n
    return [b[i * rb:(i + 1) * rb] for i in range(n)]


def check_rope_rows(gg, hf, n_rows, n_head):
    """GGUF row h*hd + 2j + i holds HF row h*hd + i*hd/2 + j."""
    g, h = rows(gg, n_rows), rows(hf, n_rows)
    hd = n_rows // n_head
    for hh in range(n_head):
        for j in range(hd // 2):
            for i in range(2):
                assert g[hh * hd + 2 * j + i] == h[hh * hd + i * hd // 2 + j]
    assert g != h  # the order did change


@test
def llama_f32_model_keys_tensors_and_rope_order():
    kv, tensors, data = convert("model", os.path.join(MODELS, "llama-tiny"))
    cfg = json.load(open(os.path.join(MODELS, "llama-tiny", "config.json")))
    tok = json.load(open(os.path.join(MODELS, "llama-tiny", "tokenizer.json")))
    assert kv["general.architecture"] == "llama" and kv["general.file_type"] == 0
    assert kv["llama.block_count"] == cfg["num_hidden_layers"] and kv["llama.embedding_length"] == cfg["hidden_size"]
    assert kv["llama.attention.head_count"] == 4 and kv["llama.attention.head_count_kv"] == 2
    assert kv["llama.rope.freq_base"] == 10000.0 and kv["llama.rope.dimension_count"] == cfg["head_dim"]
    assert abs(kv["llama.attention.layer_norm_rms_epsilon"] - 1e-5) < 1e-12
    assert kv["tokenizer.ggml.model"] == "gpt2" and kv["tokenizer.ggml.pre"] == "llama-bpe"
    assert len(kv["tokenizer.ggml.tokens"]) == cfg["vocab_size"] == len(kv["tokenizer.ggml.token_type"])
    assert len(kv["tokenizer.ggml.merges"]) == len(tok["model"]["merges"])
    assert kv["tokenizer.ggml.bos_token_id"] == 0 and kv["tokenizer.ggml.eos_token_id"] == 1
    assert kv["tokenizer.ggml.token_type"][0] == 3 and kv["tokenizer.ggml.add_bos_token"] is True  # <|begin_of_text|>
    for t, i in tok["model"]["vocab"].items():
        assert kv["tokenizer.ggml.tokens"][i] == t
    st = safetensors(os.path.join(MODELS, "llama-tiny", "model.safetensors"))
    assert len(tensors) == len(st)
    assert tensors["token_embd.weight"][0] == [64, 1024] and "output.weight" in tensors  # untied lm_head
    for l in range(2):
        for hf, gg in (("self_attn.v_proj", "attn_v"), ("mlp.down_proj", "ffn_down"), ("input_layernorm", "attn_norm")):
            meta, raw = st["model.layers.%d.%s.weight" % (l, hf)]
            assert tensors["blk.%d.%s.weight" % (l, gg)][0] == list(reversed(meta["shape"]))
            assert tensor_bytes(tensors, data, "blk.%d.%s.weight" % (l, gg)) == raw
        check_rope_rows(tensor_bytes(tensors, data, "blk.%d.attn_q.weight" % l), st["model.layers.%d.self_attn.q_proj.weight" % l][1], 64, 4)
        check_rope_rows(tensor_bytes(tensors, data, "blk.%d.attn_k.weight" % l), st["model.layers.%d.self_attn.k_proj.weight" % l][1], 32, 2)


@test
def bf16_model_stays_bf16_with_f32_norms():
    kv, tensors, data = convert("model", os.path.join(MODELS, "llama-tiny-bf16"))
    st = safetensors(os.path.join(MODELS, "llama-tiny-bf16", "model.safetensors"))
    assert kv["general.file_type"] == 32
    assert tensors["blk.0.ffn_up.weight"][1] == 30 and tensor_bytes(tensors, data, "blk.0.ffn_up.weight") == st["model.layers.0.mlp.up_proj.weight"][1]
    assert tensors["blk.0.attn_norm.weight"][1] == 0
    raw = st["model.layers.0.input_layernorm.weight"][1]
    widened = struct.pack("<%dI" % (len(raw) // 2), *(h << 16 for h in struct.unpack("<%dH" % (len(raw) // 2), raw)))
    assert tensor_bytes(tensors, data, "blk.0.attn_norm.weight") == widened


@test
def qwen2_model_has_biases_no_reordering_and_its_rope_theta():
    kv, tensors, data = convert("model", os.path.join(MODELS, "qwen2-tiny"))
    st = safetensors(os.path.join(MODELS, "qwen2-tiny", "model.safetensors"))
    assert kv["general.architecture"] == "qwen2" and kv["qwen2.rope.freq_base"] == 1e6  # rope_parameters (transformers 5)
    assert kv["tokenizer.ggml.pre"] == "gpt-2" and "tokenizer.ggml.bos_token_id" not in kv
    assert "output.weight" not in tensors  # tied
    assert tensor_bytes(tensors, data, "blk.1.attn_q.weight") == st["model.layers.1.self_attn.q_proj.weight"][1]
    assert tensors["blk.1.attn_k.bias"][1] == 0 and tensor_bytes(tensors, data, "blk.1.attn_k.bias") == st["model.layers.1.self_attn.k_proj.bias"][1]


@test
def lora_adapter_a_b_and_q_order():
    d = os.path.join(ADAPTERS, "llama-tiny", "lora-all-r8")
    kv, tensors, data = convert("lora", d, "--base", os.path.join(MODELS, "llama-tiny"))
    ac = json.load(open(os.path.join(d, "adapter_config.json")))
    st = safetensors(os.path.join(d, "adapter_model.safetensors"))
    assert kv["general.type"] == "adapter" and kv["adapter.type"] == "lora" and kv["general.architecture"] == "llama"
    assert kv["adapter.lora.alpha"] == float(ac["lora_alpha"])
    assert len(tensors) == len(st) == 2 * 7 * 2
    pre = "base_model.model.model.layers.1."
    assert tensors["blk.1.ffn_gate.weight.lora_a"][0] == [64, 8] and tensors["blk.1.ffn_gate.weight.lora_b"][0] == [8, 192]
    assert tensor_bytes(tensors, data, "blk.1.ffn_gate.weight.lora_a") == st[pre + "mlp.gate_proj.lora_A.weight"][1]
    assert tensor_bytes(tensors, data, "blk.1.attn_q.weight.lora_a") == st[pre + "self_attn.q_proj.lora_A.weight"][1]
    check_rope_rows(tensor_bytes(tensors, data, "blk.1.attn_q.weight.lora_b"), st[pre + "self_attn.q_proj.lora_B.weight"][1], 64, 4)
    check_rope_rows(tensor_bytes(tensors, data, "blk.1.attn_k.weight.lora_b"), st[pre + "self_attn.k_proj.lora_B.weight"][1], 32, 2)


def refused(args, words):
    out = os.path.join(TMP, "refused.gguf")
    if os.path.exists(out):
        os.remove(out)
    r = run(*args, out)
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert "Traceback" not in r.stderr and all(w in r.stderr for w in words), r.stderr
    assert not os.path.exists(out) and not os.path.exists(out + ".tmp")


def broken_model(name, edit_config=None, st_bytes=None):
    d = os.path.join(TMP, name)
    shutil.rmtree(d, ignore_errors=True)
    shutil.copytree(os.path.join(MODELS, "llama-tiny"), d)
    if edit_config:
        c = json.load(open(os.path.join(d, "config.json")))
        edit_config(c)
        json.dump(c, open(os.path.join(d, "config.json"), "w"))
    if st_bytes is not None:
        with open(os.path.join(d, "model.safetensors"), "wb") as f:
            f.write(st_bytes)
    return d


@test
def malformed_inputs_are_refused_with_a_message():
    good = open(os.path.join(MODELS, "llama-tiny", "model.safetensors"), "rb").read()
    n = struct.unpack("<Q", good[:8])[0]
    hdr = json.loads(good[8:8 + n])
    name = "model.layers.0.mlp.up_proj.weight"
    hdr[name]["data_offsets"][1] += 4  # shape and bytes disagree
    h = json.dumps(hdr).encode()
    refused(("model", broken_model("offsets", st_bytes=struct.pack("<Q", len(h)) + h + good[8 + n:])), ["data_offsets"])
    refused(("model", broken_model("short", st_bytes=good[:5])), ["not a safetensors file"])
    refused(("model", broken_model("hdrlen", st_bytes=struct.pack("<Q", 1 << 40) + good[8:64])), ["header length"])
    refused(("model", broken_model("notjson", st_bytes=struct.pack("<Q", 4) + b"{{{{")), ["not JSON"])
    refused(("model", broken_model("truncated", st_bytes=good[:len(good) - 100])), ["outside the file"])
    refused(("model", broken_model("arch", edit_config=lambda c: c.update(architectures=["GPT2LMHeadModel"]))), ["architectures"])
    refused(("model", broken_model("rope", edit_config=lambda c: c.update(rope_parameters={"rope_type": "llama3", "rope_theta": 5e5}))),
            ["rope scaling"])
    refused(("model", broken_model("layers", edit_config=lambda c: c.update(num_hidden_layers=1))), ["not part of"])
    refused(("lora", os.path.join(ADAPTERS, "llama-tiny", "symlora-all-r4"), "--base", os.path.join(MODELS, "llama-tiny")), ["peft_type"])
    refused(("model", os.path.join(TMP, "nonexistent")), ["config.json"])


if __name__ == "__main__":
    try:
        main()
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
