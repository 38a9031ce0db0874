#!/usr/bin/env python3
"""tests/fuzz/seeds_http.py — writes the seed corpora of the HTTP fuzz targets,
tests/fuzz/corpus/http_request/ and tests/fuzz/corpus/http_multipart/ (standard library only;
run from anywhere). Seeds are named seed-*; the files named by 40 hex digits beside them are inputs
found by fuzzing (build/fuzz/corpus/<target>), minimised with libFuzzer's -merge=1 against
these seeds; this script leaves them alone.

http_request: a flags byte (fuzz_http_request.c) + a completion or chat body as clients send
them: text and token-id prompts, every option, streams, stop lists, content parts.
http_multipart: Content-Type index, piece seed, buffer/mode byte (fuzz_http_multipart.c) + a
multipart body as curl -F frames it, with the real fixture config and a small safetensors."""
import json
import os
import struct

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
OUT = os.path.join(ROOT, "tests", "fuzz", "corpus")
CONFIG = os.path.join(ROOT, "tests", "fixtures", "adapters", "llama-tiny", "lora-qv-r4", "adapter_config.json")


def put(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


def requests():
    comp = [
        {"prompt": "Hello world", "max_tokens": 4},
        {"model": "llama-tiny", "prompt": [0, 735, 284], "max_tokens": 8, "temperature": 0, "logprobs": 2,
         "return_tokens_as_token_ids": True, "ignore_eos": True},
        {"prompt": ["one prompt"], "stream": True, "stream_options": {"include_usage": True}, "stop": ["\n", "."],
         "top_p": 0.9, "top_k": 40, "seed": 7},
        {"prompt": [[1, 2, 3]], "stop": "x", "skip_special_tokens": False, "add_special_tokens": False, "n": 1,
         "best_of": 1, "presence_penalty": 0, "frequency_penalty": 0, "echo": False, "suffix": None},
        {"prompt": "é ☃ \u0000 ", "max_tokens": 1, "temperature": 1.5},
    ]
    chat = [
        {"model": "x", "messages": [{"role": "user", "content": "Hello!"}], "max_tokens": 8},
        {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
                      {"role": "assistant", "content": "Hello"}, {"role": "user", "content": None}],
         "max_completion_tokens": 4, "logprobs": True, "top_logprobs": 3, "stream": True},
        {"messages": [{"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}],
         "temperature": 0},
    ]
    for i, b in enumerate(comp):
        for flags in (0x00, 0x1c):
            put("http_request", "completion-%d-%02x" % (i, flags), bytes([flags]) + json.dumps(b).encode())
    for i, b in enumerate(chat):
        for flags in (0x01, 0x03, 0x1d):
            put("http_request", "chat-%d-%02x" % (i, flags), bytes([flags]) + json.dumps(b).encode())
    put("http_request", "not-an-object", b"\x00[1,2]")
    put("http_request", "duplicate", b'\x00{"prompt":"a","prompt":"b"}')


def safetensors():
    header = {"base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight":
              {"dtype": "F32", "shape": [1, 4], "data_offsets": [0, 16]}}
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + struct.pack("<4f", 0.5, -0.25, 1, 0)


def multipart():
    with open(CONFIG, "rb") as f:
        config = f.read()
    weights = safetensors()
    boundaries = ["b0undary", "------------------------symlora0123456789abcdef", "quoted:bound ary", "X", "a"]
    for k, b in enumerate(boundaries):
        bb = b.encode()
        parts = [(b"config", b"c.json", config), (b"weights", b"w.safetensors", weights)]
        if k == 3:
            parts.reverse()
        body = b""
        for name, fn, data in parts:
            body += (b"--" + bb + b'\r\nContent-Disposition: form-data; name="' + name + b'"; filename="' + fn +
                     b'"\r\nContent-Type: application/octet-stream\r\n\r\n' + data + b"\r\n")
        body += b"--" + bb + b"--\r\n"
        for bufsel in (0, 3):
            put("http_multipart", "curl-%d-%d" % (k, bufsel), bytes([k, 17 * k + 1, bufsel]) + body)
    # Refusals: an unknown part, a part twice, base64 transfer encoding.
    bb = b"b0undary"
    odd = (b"--b0undary\r\nContent-Disposition: form-data; name=\"extra\"\r\n\r\nx\r\n"
           b"--b0undary\r\nContent-Disposition: form-data; name=\"config\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
           b"e30=\r\n--b0undary--\r\n")
    put("http_multipart", "odd", bytes([0, 3, 1]) + odd)
    # Round-trip mode: split byte + the two parts' contents.
    put("http_multipart", "roundtrip", bytes([0, 5, 0x80 | 2, 40]) + config[:200] + weights)


if __name__ == "__main__":
    requests()
    multipart()
