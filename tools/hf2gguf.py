#!/usr/bin/env python3
"""hf2gguf.py — Hugging Face checkpoints and PEFT LoRA adapters to GGUF, for `make bench-compare`.

    tools/hf2gguf.py model HF_DIR OUT.gguf
    tools/hf2gguf.py lora ADAPTER_DIR --base HF_DIR OUT.gguf

Python 3 standard library only (no numpy, no torch, no gguf-py), so the bench needs nothing from
pip. Written from the GGUF v3 specification (ggml's docs/gguf.md) and the key and tensor names
llama.cpp's own converter uses; no code of it is copied.

model: HF_DIR holds config.json (LlamaForCausalLM or Qwen2ForCausalLM), model.safetensors
(F32, BF16 or F16) and tokenizer.json (byte-level BPE). Tensors keep their dtype (2-D weights)
or become F32 (1-D norms and biases, as llama.cpp expects). Llama's q_proj/k_proj rows are
reordered from the Hugging Face rotary layout (two halves per head) to GGUF's (interleaved
pairs). The vocabulary is written with its token types and merges, padded with [PAD<i>] to the
model's vocab_size as llama.cpp's converter does; tokenizer.ggml.model is "gpt2" (byte-level BPE),
tokenizer.ggml.pre is "llama-bpe" for the Llama 3 split regex, "qwen2" for Qwen2's and "gpt-2"
for a plain ByteLevel pre-tokenizer (GPT-2's regex).

lora: ADAPTER_DIR holds a PEFT LoRA adapter (adapter_config.json, adapter_model.safetensors with
lora_A/lora_B); --base is the model it belongs to (its config.json). Writes a GGUF LoRA adapter
(general.type "adapter", adapter.type "lora", adapter.lora.alpha) with blk.N.<module>.weight.lora_a
and .lora_b; lora_B of q/k gets the same row order as the base q/k weights.

Refused, with a message: other architectures, rope_scaling (llama.cpp would need rope_freqs),
other dtypes, tensors that a model of this config does not have, malformed files.
"""
import json
import os
import struct
import sys

GGUF_MAGIC = b"GGUF"
GGUF_VERSION = 3
ALIGN = 32
# GGUF value types
T_UINT32, T_INT32, T_FLOAT32, T_BOOL, T_STRING, T_ARRAY = 4, 5, 6, 7, 8, 9
# ggml tensor types
GG_F32, GG_F16, GG_BF16 = 0, 1, 30
ST_TYPES = {"F32": (GG_F32, 4), "F16": (GG_F16, 2), "BF16": (GG_BF16, 2)}
FILE_TYPE = {GG_F32: 0, GG_F16: 1, GG_BF16: 32}  # general.file_type: ALL_F32, MOSTLY_F16, MOSTLY_BF16
LLAMA3_SPLIT = ("(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*"
                "|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+")
QWEN2_SPLIT = ("(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*"
               "|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+")
MODULES = {"self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
           "self_attn.o_proj": "attn_output", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
           "mlp.down_proj": "ffn_down"}
ARCHS = {"LlamaForCausalLM": "llama", "Qwen2ForCausalLM": "qwen2"}


class Refused(Exception):
    pass


def fail(msg):
    raise Refused(msg)


# ---- safetensors ----

class SafeTensors:
    """The header of a safetensors file, checked: every tensor's bytes lie inside the file and
    match its dtype and shape."""

    def __init__(self, path):
        self.path = path
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            head = f.read(8)
            if len(head) != 8:
                fail("%s: not a safetensors file (shorter than 8 bytes)" % path)
            (n,) = struct.unpack("<Q", head)
            if n > min(size - 8, 100 << 20):
                fail("%s: header length %d does not fit the file" % (path, n))
            try:
                hdr = json.loads(f.read(n))
            except ValueError as e:
                fail("%s: header is not JSON: %s" % (path, e))
        if not isinstance(hdr, dict):
            fail("%s: header is not a JSON object" % path)
        self.base = 8 + n
        self.tensors = {}
        for name, t in hdr.items():
            if name == "__metadata__":
                continue
            if not isinstance(t, dict) or t.get("dtype") not in ST_TYPES:
                fail("%s: tensor %s: dtype %r is not F32, BF16 or F16" % (path, name, t.get("dtype") if isinstance(t, dict) else t))
            shape, offs = t.get("shape"), t.get("data_offsets")
            if (not isinstance(shape, list) or not 1 <= len(shape) <= 2 or
                    not all(isinstance(d, int) and d > 0 for d in shape) or
                    not isinstance(offs, list) or len(offs) != 2 or not all(isinstance(o, int) for o in offs)):
                fail("%s: tensor %s: bad shape or data_offsets" % (path, name))
            gtype, esz = ST_TYPES[t["dtype"]]
            count = shape[0] * (shape[1] if len(shape) == 2 else 1)
            if offs[0] < 0 or offs[1] - offs[0] != count * esz or self.base + offs[1] > size:
                fail("%s: tensor %s: data_offsets %s do not match its shape or lie outside the file" % (path, name, offs))
            self.tensors[name] = {"gtype": gtype, "esz": esz, "shape": shape, "off": self.base + offs[0], "nbytes": count * esz}

    def read(self, name):
        t = self.tensors[name]
        with open(self.path, "rb") as f:
            f.seek(t["off"])
            data = f.read(t["nbytes"])
        if len(data) != t["nbytes"]:
            fail("%s: tensor %s: file ends early" % (self.path, name))
        return data


def to_f32(data, gtype):
    """1-D tensors (norms, biases) as F32 bytes."""
    if gtype == GG_F32:
        return data
    n = len(data) // 2
    if gtype == GG_BF16:
        return struct.pack("<%dI" % n, *(h << 16 for h in struct.unpack("<%dH" % n, data)))
    return struct.pack("<%df" % n, *struct.unpack("<%de" % n, data))


def rope_rows(data, rows, n_head):
    """Reorders the rows of a (rows, cols) q/k matrix within each head from the Hugging Face
    layout (first half, second half of the rotary pairs) to GGUF's (pair i = rows 2i, 2i+1):
    new row h*hd + 2j + i = old row h*hd + i*hd/2 + j."""
    if rows % n_head or (rows // n_head) % 2:
        fail("q/k rows %d do not split into %d heads of even size" % (rows, n_head))
    hd = rows // n_head
    rb = len(data) // rows
    out = []
    for h in range(n_head):
        for j in range(hd // 2):
            for i in range(2):
                r = h * hd + i * (hd // 2) + j
                out.append(data[r * rb:(r + 1) * rb])
    return b"".join(out)


# ---- GGUF writer ----

def gstr(s):
    b = s.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


class GGUFWriter:
    def __init__(self):
        self.kv = []       # encoded key-value pairs
        self.tensors = []  # (name, dims (HF order), gtype, nbytes, source callable -> bytes)

    def add(self, key, vtype, value):
        out = [gstr(key), struct.pack("<I", vtype)]
        out.append(self._val(vtype, value))
        self.kv.append(b"".join(out))

    def add_array(self, key, etype, values):
        out = [gstr(key), struct.pack("<IIQ", T_ARRAY, etype, len(values))]
        if etype == T_STRING:
            out.extend(gstr(v) for v in values)
        elif etype == T_INT32:
            out.append(struct.pack("<%di" % len(values), *values))
        else:
            fail("internal: array type %d" % etype)
        self.kv.append(b"".join(out))

    @staticmethod
    def _val(vtype, v):
        if vtype == T_UINT32:
            return struct.pack("<I", v)
        if vtype == T_FLOAT32:
            return struct.pack("<f", v)
        if vtype == T_BOOL:
            return struct.pack("<B", 1 if v else 0)
        if vtype == T_STRING:
            return gstr(v)
        fail("internal: value type %d" % vtype)

    def tensor(self, name, shape, gtype, nbytes, source):
        self.tensors.append((name, shape, gtype, nbytes, source))

    def write(self, path):
        infos, off = [], 0
        for name, shape, gtype, nbytes, _ in self.tensors:
            dims = list(reversed(shape))  # GGUF: ne[0] is the innermost (contiguous) dimension
            infos.append(gstr(name) + struct.pack("<I", len(dims)) + struct.pack("<%dQ" % len(dims), *dims) +
                         struct.pack("<IQ", gtype, off))
            off += (nbytes + ALIGN - 1) // ALIGN * ALIGN
        head = GGUF_MAGIC + struct.pack("<IQQ", GGUF_VERSION, len(self.tensors), len(self.kv)) + b"".join(self.kv) + b"".join(infos)
        tmp = path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(head)
            f.write(b"\0" * (-len(head) % ALIGN))
            for name, shape, gtype, nbytes, source in self.tensors:
                data = source()
                if len(data) != nbytes:
                    fail("internal: tensor %s: %d bytes, expected %d" % (name, len(data), nbytes))
                f.write(data)
                f.write(b"\0" * (-nbytes % ALIGN))
        os.replace(tmp, path)


# ---- model config ----

def load_json(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        fail("%s: %s" % (path, e))


def model_config(hf_dir):
    c = load_json(os.path.join(hf_dir, "config.json"))
    archs = c.get("architectures") or []
    if len(archs) != 1 or archs[0] not in ARCHS:
        fail("config.json: architectures %r: only %s are supported" % (archs, ", ".join(ARCHS)))
    # transformers 5 writes rope_parameters {rope_theta, rope_type}; older versions rope_theta and rope_scaling.
    rp = c.get("rope_parameters") or {}
    if not isinstance(rp, dict):
        fail("config.json: rope_parameters is not an object")
    if c.get("rope_scaling") or rp.get("rope_type", "default") != "default":
        fail("config.json: rope scaling (%r) is not supported (llama.cpp would need a rope_freqs tensor)" % (c.get("rope_scaling") or rp,))
    theta = rp.get("rope_theta", c.get("rope_theta", 10000.0))
    if not isinstance(theta, (int, float)) or theta <= 0:
        fail("config.json: rope_theta %r is not a positive number" % (theta,))
    c["_rope_theta"] = float(theta)
    need = ("hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", "vocab_size")
    for k in need:
        if not isinstance(c.get(k), int) or c[k] <= 0:
            fail("config.json: %s missing or not a positive integer" % k)
    c.setdefault("num_key_value_heads", c["num_attention_heads"])
    c.setdefault("head_dim", c["hidden_size"] // c["num_attention_heads"])
    c["_arch"] = ARCHS[archs[0]]
    return c


def hparams(w, c):
    a = c["_arch"]
    w.add("general.architecture", T_STRING, a)
    w.add(a + ".vocab_size", T_UINT32, c["vocab_size"])
    w.add(a + ".context_length", T_UINT32, int(c.get("max_position_embeddings", 2048)))
    w.add(a + ".embedding_length", T_UINT32, c["hidden_size"])
    w.add(a + ".block_count", T_UINT32, c["num_hidden_layers"])
    w.add(a + ".feed_forward_length", T_UINT32, c["intermediate_size"])
    w.add(a + ".attention.head_count", T_UINT32, c["num_attention_heads"])
    w.add(a + ".attention.head_count_kv", T_UINT32, c["num_key_value_heads"])
    w.add(a + ".attention.key_length", T_UINT32, c["head_dim"])
    w.add(a + ".attention.value_length", T_UINT32, c["head_dim"])
    w.add(a + ".rope.dimension_count", T_UINT32, c["head_dim"])
    w.add(a + ".rope.freq_base", T_FLOAT32, c["_rope_theta"])
    w.add(a + ".attention.layer_norm_rms_epsilon", T_FLOAT32, float(c.get("rms_norm_eps", 1e-6)))


def tokenizer(w, hf_dir, c):
    t = load_json(os.path.join(hf_dir, "tokenizer.json"))
    m = t.get("model") or {}
    if m.get("type") != "BPE" or not isinstance(m.get("vocab"), dict):
        fail("tokenizer.json: only byte-level BPE tokenizers are supported")
    pt = t.get("pre_tokenizer") or {}
    pre = json.dumps(pt)
    if "ByteLevel" not in pre:
        fail("tokenizer.json: the pre-tokenizer is not byte-level")
    if pt.get("type") == "ByteLevel" and pt.get("use_regex", True):
        pre_name = "gpt-2"  # ByteLevel's own split: GPT-2's regex
    elif json.dumps(LLAMA3_SPLIT)[1:-1] in pre:
        pre_name = "llama-bpe"
    elif json.dumps(QWEN2_SPLIT)[1:-1] in pre:
        pre_name = "qwen2"
    else:
        fail("tokenizer.json: split regex is neither Llama 3's nor Qwen2's (llama.cpp has no name for it)")
    n = c["vocab_size"]
    tokens, types = [None] * n, [1] * n  # NORMAL
    for tok, i in m["vocab"].items():
        if not isinstance(i, int) or not 0 <= i < n:
            fail("tokenizer.json: token %r has id %r outside the model's vocabulary (%d)" % (tok, i, n))
        tokens[i] = tok
    for a in t.get("added_tokens") or []:
        i = a.get("id")
        if not isinstance(i, int) or not 0 <= i < n or not isinstance(a.get("content"), str):
            fail("tokenizer.json: bad added token %r" % (a,))
        tokens[i] = a["content"]
        types[i] = 3 if a.get("special") else 4  # CONTROL, USER_DEFINED
    for i in range(n):
        if tokens[i] is None:
            tokens[i], types[i] = "[PAD%d]" % i, 5  # UNUSED
    merges = []
    for mg in m.get("merges") or []:
        if isinstance(mg, list) and len(mg) == 2:
            mg = mg[0] + " " + mg[1]
        if not isinstance(mg, str):
            fail("tokenizer.json: bad merge %r" % (mg,))
        merges.append(mg)
    w.add("tokenizer.ggml.model", T_STRING, "gpt2")
    w.add("tokenizer.ggml.pre", T_STRING, pre_name)
    w.add_array("tokenizer.ggml.tokens", T_STRING, tokens)
    w.add_array("tokenizer.ggml.token_type", T_INT32, types)
    w.add_array("tokenizer.ggml.merges", T_STRING, merges)
    gen = {}
    if os.path.exists(os.path.join(hf_dir, "generation_config.json")):
        gen = load_json(os.path.join(hf_dir, "generation_config.json"))
    for key in ("bos_token_id", "eos_token_id"):
        v = c.get(key, gen.get(key))
        if isinstance(v, list):
            v = v[0] if v else None
        if isinstance(v, int) and 0 <= v < n:
            w.add("tokenizer.ggml." + key, T_UINT32, v)
    # BOS is added when the post-processor names the BOS token (TemplateProcessing of Llama 3).
    bos = c.get("bos_token_id", gen.get("bos_token_id"))
    post = json.dumps(t.get("post_processor"), ensure_ascii=False)
    w.add("tokenizer.ggml.add_bos_token", T_BOOL, isinstance(bos, int) and 0 <= bos < n and json.dumps(tokens[bos], ensure_ascii=False) in post)


def split_name(name, prefix):
    """model.layers.N.self_attn.q_proj.weight -> (N, "self_attn.q_proj", "weight"),
    model.layers.N.input_layernorm.weight -> (N, "input_layernorm", "weight"), else None."""
    if not name.startswith(prefix):
        return None
    rest = name[len(prefix):].split(".")
    if not 3 <= len(rest) <= 4 or not rest[0].isdigit() or len(rest[0]) > 6:
        return None
    return int(rest[0]), ".".join(rest[1:-1]), rest[-1]


def convert_model(hf_dir, out):
    c = model_config(hf_dir)
    st = SafeTensors(os.path.join(hf_dir, "model.safetensors"))
    a, L = c["_arch"], c["num_hidden_layers"]
    w = GGUFWriter()
    w.add("general.type", T_STRING, "model")
    w.add("general.name", T_STRING, os.path.basename(os.path.normpath(hf_dir)))
    hparams(w, c)
    tokenizer(w, hf_dir, c)
    dtypes = set()
    nh, nkv = c["num_attention_heads"], c["num_key_value_heads"]
    for name, t in st.tensors.items():
        gname, permute = None, None
        if name == "model.embed_tokens.weight":
            gname = "token_embd.weight"
        elif name == "model.norm.weight":
            gname = "output_norm.weight"
        elif name == "lm_head.weight":
            gname = "output.weight"
        else:
            p = split_name(name, "model.layers.")
            if p and p[0] < L:
                layer, mod, kind = p
                if mod == "input_layernorm" and kind == "weight":
                    gname = "blk.%d.attn_norm.weight" % layer
                elif mod == "post_attention_layernorm" and kind == "weight":
                    gname = "blk.%d.ffn_norm.weight" % layer
                elif mod in MODULES and (kind == "weight" or (kind == "bias" and a == "qwen2" and MODULES[mod] in ("attn_q", "attn_k", "attn_v"))):
                    gname = "blk.%d.%s.%s" % (layer, MODULES[mod], kind)
                    if a == "llama" and kind == "weight" and MODULES[mod] in ("attn_q", "attn_k"):
                        permute = nh if MODULES[mod] == "attn_q" else nkv
        if gname is None:
            fail("%s: tensor %s is not part of a %s model of this config" % (st.path, name, a))
        if len(t["shape"]) == 1:
            w.tensor(gname, t["shape"], GG_F32, t["shape"][0] * 4, lambda n=name, g=t["gtype"]: to_f32(st.read(n), g))
        else:
            dtypes.add(t["gtype"])
            if permute:
                src = lambda n=name, r=t["shape"][0], h=permute: rope_rows(st.read(n), r, h)
            else:
                src = lambda n=name: st.read(n)
            w.tensor(gname, t["shape"], t["gtype"], t["nbytes"], src)
    if len(dtypes) != 1:
        fail("%s: the 2-D weights mix dtypes (%s)" % (st.path, sorted(dtypes)))
    w.add("general.file_type", T_UINT32, FILE_TYPE[dtypes.pop()])
    w.write(out)


def convert_lora(ad_dir, base, out):
    c = model_config(base)
    ac = load_json(os.path.join(ad_dir, "adapter_config.json"))
    if ac.get("peft_type") != "LORA":
        fail("adapter_config.json: peft_type %r: only LORA adapters have a GGUF form" % ac.get("peft_type"))
    for k in ("use_dora", "use_rslora"):
        if ac.get(k):
            fail("adapter_config.json: %s is not supported" % k)
    alpha, r = ac.get("lora_alpha"), ac.get("r")
    if not isinstance(alpha, (int, float)) or not isinstance(r, int) or r <= 0:
        fail("adapter_config.json: lora_alpha and r must be numbers")
    if ac.get("rank_pattern") or ac.get("alpha_pattern"):
        fail("adapter_config.json: rank_pattern/alpha_pattern are not supported")
    st = SafeTensors(os.path.join(ad_dir, "adapter_model.safetensors"))
    a, L = c["_arch"], c["num_hidden_layers"]
    w = GGUFWriter()
    w.add("general.type", T_STRING, "adapter")
    w.add("general.architecture", T_STRING, a)
    w.add("general.name", T_STRING, os.path.basename(os.path.normpath(ad_dir)))
    w.add("adapter.type", T_STRING, "lora")
    w.add("adapter.lora.alpha", T_FLOAT32, float(alpha))
    nh, nkv = c["num_attention_heads"], c["num_key_value_heads"]
    seen = {}
    for name, t in sorted(st.tensors.items()):
        p = None
        for suffix, ab in ((".lora_A.weight", "lora_a"), (".lora_B.weight", "lora_b")):
            if name.endswith(suffix):
                q = split_name(name[:-len(suffix)] + ".weight", "base_model.model.model.layers.")
                if q and q[0] < L and q[1] in MODULES:
                    p = (q[0], MODULES[q[1]], ab)
        if p is None:
            fail("%s: tensor %s is not a lora_A/lora_B of a module of this model" % (st.path, name))
        if len(t["shape"]) != 2:
            fail("%s: tensor %s is not 2-D" % (st.path, name))
        layer, mod, ab = p
        gname = "blk.%d.%s.weight.%s" % (layer, mod, ab)
        seen.setdefault((layer, mod), set()).add(ab)
        if ab == "lora_b" and a == "llama" and mod in ("attn_q", "attn_k"):
            src = lambda n=name, rows=t["shape"][0], h=(nh if mod == "attn_q" else nkv): rope_rows(st.read(n), rows, h)
        else:
            src = lambda n=name: st.read(n)
        w.tensor(gname, t["shape"], t["gtype"], t["nbytes"], src)
    for k, v in seen.items():
        if v != {"lora_a", "lora_b"}:
            fail("%s: layer %d %s has only %s" % (st.path, k[0], k[1], sorted(v)))
    if not seen:
        fail("%s: no LoRA tensors" % st.path)
    w.write(out)


def main(argv):
    try:
        if len(argv) == 3 and argv[0] == "model":
            convert_model(argv[1], argv[2])
        elif len(argv) == 5 and argv[0] == "lora" and argv[2] == "--base":
            convert_lora(argv[1], argv[3], argv[4])
        else:
            sys.stderr.write(__doc__.split("\n\n")[1] + "\n")
            return 2
    except Refused as e:
        sys.stderr.write("hf2gguf: %s\n" % e)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
