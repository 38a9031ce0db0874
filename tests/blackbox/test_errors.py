"""Bad requests get the right 4xx with an OpenAI-style error object; the daemon stays up."""
import http.client
import json
import os
import socket

from harness import Daemon, main, test


def is_error(status, body, want_status, code=None, param=None):
    assert status == want_status, (status, body)
    j = json.loads(body) if isinstance(body, (bytes, str)) else body
    e = j["error"]
    assert isinstance(e["message"], str) and e["message"], e
    assert isinstance(e["type"], str) and e["type"], e
    assert "code" in e, e
    if code:
        assert e["code"] == code, e
    if param:
        assert e.get("param") == param, e
    return e


def post_raw(d, path, raw, ctype="application/json"):
    st, _, body = d.request("POST", path, raw, headers={"Content-Type": ctype})
    return st, body


@test
def invalid_json(d):
    for raw in [b"{", b"not json", b"", b"{\"a\":1,}", b"\xff\xfe"]:
        st, body = post_raw(d, "/v1/completions", raw)
        is_error(st, body, 400, "invalid_json")
    st, body = post_raw(d, "/v1/completions", b"[1,2]")
    is_error(st, body, 400, "invalid_json")
    st, body = post_raw(d, "/v1/chat/completions", b"{\"messages\": [}")
    is_error(st, body, 400, "invalid_json")


@test
def wrong_types(d):
    cases = [
        ({"prompt": "x", "max_tokens": "10"}, "max_tokens"),
        ({"prompt": "x", "max_tokens": 1.5}, "max_tokens"),
        ({"prompt": "x", "temperature": "hot"}, "temperature"),
        ({"prompt": "x", "stream": "yes"}, "stream"),
        ({"prompt": "x", "seed": "1"}, "seed"),
        ({"prompt": "x", "stop": 5}, "stop"),
        ({"prompt": "x", "stop": ["a", 1]}, "stop"),
        ({"prompt": "x", "model": 7}, "model"),
        ({"prompt": "x", "logprobs": True}, "logprobs"),
        ({"prompt": 12}, "prompt"),
        ({"prompt": [1, "a"]}, "prompt"),
        ({"prompt": {"text": "x"}}, "prompt"),
        ({}, "prompt"),
        ({"prompt": "x", "stream_options": 3}, "stream_options"),
    ]
    for body, param in cases:
        st, j, _ = d.post("/v1/completions", body)
        is_error(st, j, 400, param=param)
    for body, param in [({"messages": "hi"}, "messages"), ({"messages": [{"role": 1}]}, "messages"),
                        ({"messages": [{"role": "user", "content": 5}]}, "messages"),
                        ({"messages": [{"role": "user"}, 5]}, "messages"),
                        ({"messages": [{"role": "user", "content": [{"type": "image_url"}]}]}, "messages"),
                        ({"messages": []}, "messages")]:
        st, j, _ = d.post("/v1/chat/completions", body)
        is_error(st, j, 400, param=param)


@test
def bad_values(d):
    for body, code, param in [
        ({"prompt": "x", "max_tokens": -1}, "invalid_value", "max_tokens"),
        ({"prompt": "x", "max_tokens": 0}, "invalid_value", "max_tokens"),
        ({"prompt": "x", "temperature": -0.5}, "invalid_value", "temperature"),
        ({"prompt": "x", "top_p": 0}, "invalid_value", "top_p"),
        ({"prompt": "x", "top_p": 1.5}, "invalid_value", "top_p"),
        ({"prompt": "x", "n": 2}, "invalid_value", "n"),
        ({"prompt": "x", "logprobs": 50}, "invalid_value", "logprobs"),
        ({"prompt": []}, "invalid_value", "prompt"),
        ({"prompt": [0, 1024]}, "invalid_value", "prompt"),
        ({"prompt": [-1]}, "invalid_value", "prompt"),
        ({"prompt": ["a", "b"]}, "invalid_type", "prompt"),
        ({"prompt": "x", "echo": True}, "unsupported", "echo"),
    ]:
        st, j, _ = d.post("/v1/completions", body)
        is_error(st, j, 400, code, param)


@test
def prompt_longer_than_context(d):
    st, j, _ = d.post("/v1/completions", {"prompt": [5] * 600, "max_tokens": 4})
    e = is_error(st, j, 400, "context_length_exceeded")
    assert "512" in e["message"], e
    st, j, _ = d.post("/v1/completions", {"prompt": "word " * 2000})
    is_error(st, j, 400, "context_length_exceeded")
    st, j, _ = d.post("/v1/completions", {"prompt": [5] * 500, "max_tokens": 100})
    is_error(st, j, 400, "context_length_exceeded", "max_tokens")
    st, j, _ = d.post("/v1/chat/completions", {"messages": [{"role": "user", "content": "word " * 2000}]})
    is_error(st, j, 400, "context_length_exceeded")


@test
def unknown_model(d):
    st, j, _ = d.post("/v1/completions", {"prompt": "x", "model": "no-such-adapter"})
    e = is_error(st, j, 404, "model_not_found", "model")
    assert "no-such-adapter" in e["message"]
    st, j, _ = d.post("/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}], "model": "nope"})
    is_error(st, j, 404, "model_not_found")


@test
def body_over_the_limit(d):
    # Content-Length over the limit: answered from the headers, before the body is read.
    s = socket.create_connection(("127.0.0.1", d.port), timeout=10)
    s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Content-Length: %d\r\n\r\n{\"prompt\": \"xxxx" % ((1 << 20) + 100))
    r = http.client.HTTPResponse(s)
    r.begin()
    is_error(r.status, r.read(), 413, "body_too_large")
    s.close()
    # The same without Content-Length: a chunked body is cut off at the limit too.
    c = d.conn()
    try:
        c.putrequest("POST", "/v1/completions")
        c.putheader("Content-Type", "application/json")
        c.putheader("Transfer-Encoding", "chunked")
        c.endheaders()
        piece = b"x" * 65536
        c.send(b'c\r\n{"prompt": "\r\n')
        try:
            for _ in range(24):
                c.send(b"%x\r\n%s\r\n" % (len(piece), piece))
            c.send(b'0\r\n\r\n')
        except OSError:
            pass  # the server may close as soon as it has answered
        r = c.getresponse()
        is_error(r.status, r.read(), 413, "body_too_large")
    finally:
        c.close()


@test
def routes_and_methods(d):
    st, _, body = d.request("GET", "/v1/nothing")
    is_error(st, body, 404, "not_found")
    st, _, body = d.request("GET", "/v1/completions")
    is_error(st, body, 405, "method_not_allowed")
    st, _, body = d.request("DELETE", "/health")
    is_error(st, body, 405)
    st, j, _ = d.post("/tokenize", {"text": "x"})
    is_error(st, j, 400, param="prompt")
    st, j, _ = d.post("/detokenize", {"tokens": [0, 99999]})
    is_error(st, j, 400, param="tokens")
    st, j, _ = d.post("/detokenize", {"tokens": "abc"})
    is_error(st, j, 400, param="tokens")


@test
def chat_without_a_template():
    d = Daemon(adapters={}, chat_template=None)
    try:
        st, j, _ = d.post("/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}]})
        e = is_error(st, j, 400, "no_chat_template")
        assert "--chat-template" in e["message"]
        assert "no chat template" in d.log_text()
        assert d.stop() == 0
    finally:
        d.cleanup()


@test
def still_up_and_counted(d):
    st, j, _ = d.post("/v1/completions", {"prompt": "The base model", "max_tokens": 3, "temperature": 0})
    assert st == 200 and j["usage"]["completion_tokens"] == 3, j
    m = d.metrics()
    assert m['symlora_requests_total{route="completions",status="400"}'] > 20, m
    assert m['symlora_requests_total{route="completions",status="413"}'] == 2, m
    assert m['symlora_requests_total{route="completions",status="404"}'] == 1, m
    assert m["symlora_num_requests_running"] == 0 and m["symlora_kv_blocks_used"] == 0


if __name__ == "__main__":
    os.chdir(os.path.dirname(os.path.abspath(__file__)))
    main()
