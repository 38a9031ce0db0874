"""The Python client (clients/symlora) against a real daemon: the `symlora` command run as a
subprocess (push, ls, info, rm, complete, chat, models, tokenize, health; exit codes and error
messages) and the library (completions and chat, streaming or not, equal to the plain HTTP API;
adapters; SSE parsing; uploads streamed from disk in bounded memory)."""
import hashlib
import io
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid

from harness import FIXTURES, ROOT, TIMEOUT, Daemon, expected, main, test, token_ids

sys.path.insert(0, os.path.join(ROOT, "clients"))
import symlora  # noqa: E402  (clients/symlora, the package)

CLI = [sys.executable, os.path.join(ROOT, "clients", "symlora.py")]
FIX = os.path.join(FIXTURES, "adapters", "llama-tiny")
QO = os.path.join(FIX, "symlora-qo-r8")
EXP = expected()["models"]["llama-tiny"]
KEY = "sk-client-" + uuid.uuid4().hex
TMP = tempfile.mkdtemp(prefix="sl-client-test-")


def url(d):
    return "http://127.0.0.1:%d" % d.port


def run(args, d=None, env=None, stdin=None, timeout=TIMEOUT):
    """Runs the symlora command; returns (exit code, stdout, stderr) as text. SYMLORA_* of the
    test's own environment never leak in; --url points at D unless ARGS give one."""
    e = {k: v for k, v in os.environ.items() if not k.startswith("SYMLORA_")}
    e.update(env or {})
    cmd = CLI + (["--url", url(d)] if d is not None else []) + list(args)
    p = subprocess.run(cmd, input=stdin, capture_output=True, timeout=timeout, env=e)
    return p.returncode, p.stdout.decode("utf-8"), p.stderr.decode("utf-8")


def ok(args, d=None, **kw):
    rc, out, err = run(args, d, **kw)
    assert rc == 0, "symlora %s: exit %d\n%s%s" % (" ".join(args), rc, out, err)
    return out


def http_text(d, path, body):
    st, j, _ = d.post(path, body)
    assert st == 200, (st, j)
    c = j["choices"][0]
    return c["text"] if "text" in c else c["message"]["content"]


def daemon():
    return Daemon(args=["--import-dir", FIX])


# ---------------------------------------------------------------------- the command
@test
def help_and_usage():
    out = ok(["--help"])
    for cmd in ("push", "ls", "info", "rm", "complete", "chat", "SYMLORA_URL", "SYMLORA_API_KEY", "exit status"):
        assert cmd in out, (cmd, out)
    assert "--max-tokens" in ok(["complete", "--help"]) and "--model" in ok(["chat", "--help"])
    assert run([])[0] == 2
    assert run(["push", "only-a-name"])[0] == 2
    rc, _, err = run(["--url", "ftp://example", "ls"])
    assert rc == 2 and "invalid server URL" in err, err


@test
def complete_equals_the_http_api(d):
    for model in (None, "symlora-qo-r8", "lora-all-r8"):
        body = {"prompt": "Hello world, this is", "max_tokens": 12, "temperature": 0}
        args = ["complete", "--max-tokens", "12", "--temperature", "0"]
        if model:
            body["model"] = model
            args += ["--model", model]
        want = http_text(d, "/v1/completions", body)
        assert ok(args + ["Hello world, this is"], d) == want + "\n", model  # streamed (default)
        if model is None:
            assert ok(args + ["--no-stream", "Hello world, this is"], d) == want + "\n", model
            assert ok(args + ["-"], d, stdin="Hello world, this is".encode()) == want + "\n", model
    j = json.loads(ok(["complete", "-n", "3", "-t", "0", "--no-stream", "--json", "Hi"], d))
    assert j["object"] == "text_completion" and j["usage"]["completion_tokens"] <= 3, j
    lines = ok(["complete", "-n", "3", "-t", "0", "--json", "Hi"], d).splitlines()
    assert all(json.loads(l)["object"] == "text_completion" for l in lines), lines


@test
def chat_equals_the_http_api(d):
    for model in (None, "symlora-all-r4"):
        msgs = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is SymLoRA?"}]
        body = {"messages": msgs, "max_tokens": 10, "temperature": 0}
        args = ["chat", "--max-tokens", "10", "--temperature", "0", "--system", "Be brief."]
        if model:
            body["model"] = model
            args += ["--model", model]
        want = http_text(d, "/v1/chat/completions", body)
        assert ok(args + ["What is SymLoRA?"], d) == want + "\n", model
        assert ok(args + ["--no-stream", "What is SymLoRA?"], d) == want + "\n", model


@test
def ls_info_models_tokenize_health(d):
    out = ok(["ls"], d)
    assert out.splitlines()[0].split()[:3] == ["NAME", "VERSION", "TYPE"], out
    for name in ("lora-all-r8", "symlora-qo-r8"):
        assert any(l.split()[:2] == [name, "pinned"] for l in out.splitlines()), out
    st, _, body = d.get("/v1/adapters")
    assert json.loads(ok(["ls", "--json"], d)) == json.loads(body)["data"]
    info = ok(["info", "symlora-qo-r8"], d)
    assert "peft_type:" in info and "SYMLORA" in info and "pinned:         yes" in info, info
    assert json.loads(ok(["info", "--json", "symlora-qo-r8"], d))["r"] == 8
    models = ok(["models"], d).splitlines()
    assert models[0] == "llama-tiny" and any(l.startswith("lora-qv-r4 ") for l in models), models
    ids = [int(t) for t in ok(["tokenize", "Hello world"], d).split()]
    assert ids == d.post("/tokenize", {"prompt": "Hello world"})[1]["tokens"]
    assert ok(["detokenize"] + [str(i) for i in ids[1:]], d) == "Hello world\n"
    prompt = d.post("/apply-template", {"messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "Hi"}]})[1]
    assert ok(["template", "--system", "S", "Hi"], d) == prompt["prompt"], prompt
    assert ok(["health"], d) == "ok\n"
    assert ok(["ls"], env={"SYMLORA_URL": url(d)}) == out  # the URL from the environment


@test
def push_use_replace_rm(d):
    name = "cli-" + uuid.uuid4().hex[:8]
    with open(os.path.join(QO, "adapter_model.safetensors"), "rb") as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    out = ok(["push", name, QO], d)
    assert out.startswith("created %s: version 1, SYMLORA r=8" % name) and sha in out, out
    info = ok(["info", name], d)
    assert sha in info and "version:" in info and "q_proj, o_proj" in info, info
    assert any(l.split()[:2] == [name, "1"] for l in ok(["ls"], d).splitlines())
    # The pushed copy serves exactly as the preloaded fixture (and as expected.json's golden).
    args = ["complete", "-n", "10", "-t", "0", "Once upon a time"]
    assert ok(args + ["--model", name], d) == ok(args + ["--model", "symlora-qo-r8"], d)
    prompt = EXP["prompts"][0]
    want = EXP["cases"]["symlora-qo-r8"]["greedy"][0]
    j = symlora.Client(url(d)).completions(prompt, model=name, max_tokens=len(want), temperature=0, logprobs=0,
                                           return_tokens_as_token_ids=True, ignore_eos=True)
    assert token_ids(j["choices"][0]["logprobs"]["tokens"]) == want
    j = json.loads(ok(["push", "--json", name, QO], d))
    assert j["version"] == 2 and j["sha256"] == sha, j
    out = ok(["push", "--no-progress", name, os.path.join(FIX, "lora-qv-r4")], d)
    assert out.startswith("replaced %s: version 3, LORA r=4" % name), out
    out = ok(["rm", name], d)
    assert out == "deleted %s (version 3)\n" % name, out
    rc, out, err = run(["info", name], d)
    assert rc == 1 and "does not exist" in err and "404" in err, (rc, err)
    rc, _, err = run(["rm", name], d)
    assert rc == 1 and "does not exist" in err, err


@test
def push_progress_and_errors(d):
    rc, out, err = run(["push", "--progress", "cli-progress", QO], d)
    assert rc == 0 and "100%" in err and "uploading cli-progress" in err, (rc, out, err)
    ok(["rm", "cli-progress"], d)
    rc, _, err = run(["push", "cli-x", os.path.join(FIX, "nope")], d)
    assert rc == 2 and "not a directory" in err, (rc, err)
    empty = tempfile.mkdtemp(dir=TMP)
    rc, _, err = run(["push", "cli-x", empty], d)
    assert rc == 2 and "adapter_config.json" in err, (rc, err)
    rc, _, err = run(["push", "Bad Name", QO], d)
    assert rc == 1 and "invalid_name" in err and "HTTP 400" in err, (rc, err)
    broken = tempfile.mkdtemp(dir=TMP)
    shutil.copy(os.path.join(QO, "adapter_config.json"), broken)
    with open(os.path.join(QO, "adapter_model.safetensors"), "rb") as f, \
            open(os.path.join(broken, "adapter_model.safetensors"), "wb") as g:
        g.write(f.read()[:200])
    rc, _, err = run(["push", "cli-broken", broken], d)
    assert rc == 1 and "not accepted" in err and "HTTP 422" in err, (rc, err)


@test
def push_streams_big_files_in_bounded_memory(d):
    """A 64 MiB weights file goes out in chunks: the client's peak RSS stays far below it. (It
    is not a valid adapter: the server reads it all, then answers 422.)"""
    big = tempfile.mkdtemp(dir=TMP)
    shutil.copy(os.path.join(QO, "adapter_config.json"), big)
    with open(os.path.join(big, "adapter_model.safetensors"), "wb") as f:
        f.truncate(64 << 20)
    e = {k: v for k, v in os.environ.items() if not k.startswith("SYMLORA_")}
    # The CLI runs under a small wrapper that reports the peak RSS of its one child.
    probe = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:], stderr=subprocess.PIPE); "
             "sys.stderr.buffer.write(r.stderr); print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    r = subprocess.run([sys.executable, "-c", probe] + CLI + ["--url", url(d), "push", "--progress", "cli-big", big],
                       capture_output=True, timeout=TIMEOUT * 2, env=e)
    rc, maxrss_kb = (int(x) for x in r.stdout.split()[-2:])
    err = r.stderr.decode()
    assert rc == 1 and "HTTP 422" in err and "64.0 MiB / 64.0 MiB (100%)" in err, (rc, err)
    assert maxrss_kb < 40 * 1024, "the client's peak RSS was %d KiB for a 64 MiB upload" % maxrss_kb


@test
def error_exit_codes(d):
    rc, out, err = run(["complete", "--model", "no-such-adapter", "hello"], d)
    assert rc == 1 and out == "" and "the model 'no-such-adapter' does not exist" in err and "HTTP 404" in err, err
    rc, _, err = run(["complete", "--max-tokens", "0", "hello"], d)
    assert rc == 1 and "max_tokens" in err and "HTTP 400" in err, err
    rc, _, err = run(["chat", "--model", "nope", "hi"], d)
    assert rc == 1 and "does not exist" in err, err
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    for args in (["ls"], ["complete", "hi"], ["push", "x", QO]):
        rc, _, err = run(["--url", "http://127.0.0.1:%d" % port] + args)
        assert rc == 3 and "cannot reach" in err and "SYMLORA_URL" in err, (args, rc, err)
    rc, _, err = run(["ls", "--url", "http://127.0.0.1:%d" % port])  # options after the command too
    assert rc == 3, err


_keyed = {}


def keyed():
    """A daemon with an API key and a small upload limit."""
    if "d" not in _keyed:
        path = os.path.join(TMP, "keys")
        with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
            f.write("%s tenant-a tenant\n" % hashlib.sha256(KEY.encode()).hexdigest())
        _keyed["d"] = Daemon(adapters={}, args=["--api-keys", path, "--max-adapter-bytes", "4096"])
    return _keyed["d"]


@test
def api_keys_from_flag_and_environment():
    k = keyed()
    rc, _, err = run(["ls"], k)
    assert rc == 1 and "HTTP 401" in err and "SYMLORA_API_KEY" in err, err
    rc, _, err = run(["ls", "--key", "wrong"], k)
    assert rc == 1 and "invalid API key" in err, err
    assert ok(["ls", "--key", KEY], k).startswith("NAME")
    assert ok(["--key", KEY, "health"], k) == "ok\n"
    assert ok(["ls"], env={"SYMLORA_URL": url(k), "SYMLORA_API_KEY": KEY}).startswith("NAME")
    assert ok(["ls", "--key", KEY], env={"SYMLORA_API_KEY": "wrong"}, d=k).startswith("NAME")  # the flag wins
    t0 = time.time()
    rc, _, err = run(["push", "--key", KEY, "too-big", QO], k)  # refused before the body is sent
    assert rc == 1 and "HTTP 413" in err and "upload_too_large" in err, err
    assert time.time() - t0 < TIMEOUT / 2
    st = k.stop()
    assert st == 0, k.log_text()[-2000:]


# ---------------------------------------------------------------------- the library
@test
def library_inference_equals_the_http_api(d):
    c = symlora.Client(url(d))
    body = {"prompt": "The quick brown", "max_tokens": 8, "temperature": 0}
    want = http_text(d, "/v1/completions", body)
    j = c.completions("The quick brown", max_tokens=8, temperature=0)
    assert j["choices"][0]["text"] == want
    chunks = list(c.completions("The quick brown", max_tokens=8, temperature=0, stream=True,
                                stream_options={"include_usage": True}))
    assert "".join(symlora.chunk_text(x) for x in chunks) == want
    assert chunks[-1]["usage"]["completion_tokens"] == j["usage"]["completion_tokens"]
    msgs = [{"role": "user", "content": "Hello there"}]
    want = http_text(d, "/v1/chat/completions", {"messages": msgs, "max_tokens": 8, "temperature": 0,
                                                 "model": "lora-qv-r4"})
    assert c.chat("Hello there", model="lora-qv-r4", max_tokens=8, temperature=0)["choices"][0]["message"][
        "content"] == want
    chunks = list(c.chat(msgs, model="lora-qv-r4", max_tokens=8, temperature=0, stream=True))
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert "".join(symlora.chunk_text(x) for x in chunks) == want
    assert [m["id"] for m in c.models()][0] == "llama-tiny"
    assert c.apply_template("Hi", add_generation_prompt=False).endswith("Hi<|eot_id|>")
    t = c.tokenize("Hello world")
    assert c.detokenize(t["tokens"][1:]) == "Hello world" and t["count"] == len(t["tokens"])
    assert c.health() == {"status": "ok"} and "symlora_requests_total" in c.metrics()


@test
def tools_library_and_cli(d):
    """tools/tool_choice reach the server (its 400s come back), and tool_calls() reads calls from
    an answer and from stream chunks (merged by index, arguments joined)."""
    c = symlora.Client(url(d))
    weather = symlora.function_tool("get_weather", {"type": "object", "properties": {"city": {"type": "string"}}},
                                    description="The weather")
    r = c.chat("Weather in Paris?", tools=[weather], tool_choice="auto", max_tokens=4, temperature=0)
    assert r["choices"][0]["finish_reason"] == "length" and symlora.tool_calls(r) == [], r
    try:
        c.chat("hi", tools=[weather], tool_choice="nope", max_tokens=4)
        raise AssertionError("a tool_choice naming an unknown function is refused")
    except symlora.APIError as e:
        assert e.status == 400 and e.param == "tool_choice" and "not in 'tools'" in e.message, e
    chunks = [{"choices": [{"delta": {"tool_calls": [{"index": 0, "id": "call_a", "type": "function",
                                                      "function": {"name": "f", "arguments": "{\"a\""}}]}}]},
              {"choices": [{"delta": {"tool_calls": [{"index": 0, "function": {"arguments": ": 1}"}},
                                                     {"index": 1, "id": "call_b", "type": "function",
                                                      "function": {"name": "g", "arguments": "{}"}}]}}]},
              {"choices": [{"delta": {"reasoning_content": "hm"}}]}]
    assert symlora.tool_calls(chunks) == [
        {"id": "call_a", "type": "function", "function": {"name": "f", "arguments": "{\"a\": 1}"}},
        {"id": "call_b", "type": "function", "function": {"name": "g", "arguments": "{}"}}]
    assert symlora.chunk_reasoning(chunks[2]) == "hm" and symlora.chunk_text(chunks[2]) == ""
    tmp = tempfile.mkdtemp(prefix="symlora-tools-")
    try:
        path = os.path.join(tmp, "tools.json")
        with open(path, "w") as f:
            json.dump([weather], f)
        body = {"messages": [{"role": "user", "content": "Weather?"}], "tools": [weather], "max_tokens": 6,
                "temperature": 0}
        want = http_text(d, "/v1/chat/completions", body)
        args = ["chat", "--tools", path, "--max-tokens", "6", "--temperature", "0", "Weather?"]
        assert ok(args, d) == want + "\n"
        assert ok(args[:1] + ["--no-stream"] + args[1:], d) == want + "\n"
        zone = symlora.function_tool("get_time", {"type": "object", "properties": {
            "zone": {"type": "string", "enum": ["UTC", "CET"]}}, "required": ["zone"], "additionalProperties": False})
        r = c.chat("Time?", tools=[weather, zone], tool_choice="get_time", max_tokens=100, temperature=0)
        calls = symlora.tool_calls(r)
        assert len(calls) == 1 and calls[0]["function"]["name"] == "get_time", r
        assert json.loads(calls[0]["function"]["arguments"])["zone"] in ("UTC", "CET"), calls
        streamed = symlora.tool_calls(list(c.chat("Time?", tools=[weather, zone], tool_choice="get_time", max_tokens=100,
                                                  temperature=0, stream=True)))
        assert [x["function"] for x in streamed] == [x["function"] for x in calls], (streamed, calls)
        with open(path, "w") as f:
            json.dump([weather, zone], f)
        for extra in ([], ["--no-stream"]):
            out = ok(["chat", "--tools", path, "--tool-choice", "get_time", "--max-tokens", "100", "--temperature", "0"]
                     + extra + ["Time?"], d)
            assert out == "\ntool call: get_time %s\n" % calls[0]["function"]["arguments"], out
        rc, _, err = run(["chat", "--tools", path, "--tool-choice", "nope", "hi"], d)
        assert rc == 1 and "not in 'tools'" in err, (rc, err)
        rc, _, err = run(["chat", "--tools", os.path.join(tmp, "missing.json"), "hi"], d)
        assert rc == 2 and "missing.json" in err, (rc, err)
    finally:
        shutil.rmtree(tmp)


@test
def structured_outputs_library_and_cli(d):
    """response_format, guided_* and the CLI's --json-schema/--regex/--choice/--grammar reach the
    server; the answers match; two at once is the server's 400."""
    c = symlora.Client(url(d))
    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}
    r = c.completions("x", response_format=symlora.json_schema_format(schema), max_tokens=20, temperature=0)
    assert r["choices"][0]["finish_reason"] == "stop" and json.loads(r["choices"][0]["text"])["ok"] in (True, False), r
    r = c.chat("hi", guided_choice=["up", "down"], max_tokens=8)
    assert r["choices"][0]["message"]["content"] in ("up", "down"), r
    try:
        c.completions("x", guided_regex="a", grammar="root ::= \"a\"", max_tokens=4)
        raise AssertionError("two structured outputs are refused")
    except symlora.APIError as e:
        assert e.status == 400 and e.param == "grammar", e
    tmp = tempfile.mkdtemp(prefix="symlora-structured-")
    try:
        sp = os.path.join(tmp, "schema.json")
        with open(sp, "w") as f:
            json.dump(schema, f)
        gp = os.path.join(tmp, "g.gbnf")
        with open(gp, "w") as f:
            f.write('root ::= "<" [a-c]{2} ">"\n')
        out = ok(["complete", "--json-schema", sp, "--max-tokens", "20", "--temperature", "0", "x"], d)
        assert json.loads(out)["ok"] in (True, False), out
        assert re.fullmatch(r"[0-9]{3}\n", ok(["complete", "--regex", "[0-9]{3}", "--no-stream", "x"], d))
        assert ok(["chat", "--choice", "yes", "--choice", "no", "hi"], d) in ("yes\n", "no\n")
        assert re.fullmatch(r"<[a-c]{2}>\n", ok(["complete", "--grammar", gp, "x"], d))
        out = ok(["complete", "--json-object", "--max-tokens", "4", "--no-stream", "x"], d)
        assert out.startswith("{"), out
        rc, _, err = run(["complete", "--regex", "(?=a)", "x"], d)
        assert rc == 1 and "lookahead" in err, (rc, err)
        rc, _, err = run(["complete", "--json-schema", os.path.join(tmp, "missing.json"), "x"], d)
        assert rc == 2 and "missing.json" in err, (rc, err)
    finally:
        shutil.rmtree(tmp)


@test
def library_errors(d):
    c = symlora.Client(url(d))
    for fn in (lambda: c.completions("x", model="nope"), lambda: list(c.chat("x", model="nope", stream=True))):
        try:
            fn()
        except symlora.APIError as e:
            assert e.status == 404 and e.code == "model_not_found" and e.param == "model", vars(e)
            assert "does not exist" in str(e) and "HTTP 404" in str(e)
        else:
            raise AssertionError("no APIError")
    try:
        c.adapter("Bad Name")
    except symlora.APIError as e:
        assert e.status == 400 and e.code == "invalid_name", vars(e)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    try:
        symlora.Client("http://127.0.0.1:%d" % port).models()
    except symlora.ConnectionFailed as e:
        assert "cannot reach" in str(e)
    else:
        raise AssertionError("no ConnectionFailed")
    try:
        c.push_adapter("x", TMP)
    except symlora.AdapterDirError as e:
        assert "adapter_config.json" in str(e)
    for bad in ("ftp://x", "http://", "http://h:notaport"):
        try:
            symlora.Client(bad)
        except ValueError:
            pass
        else:
            raise AssertionError(bad)


@test
def library_adapters(d):
    c = symlora.Client(url(d))
    name = "lib-" + uuid.uuid4().hex[:8]
    seen = []
    r = c.push_adapter(name, QO, progress=lambda sent, total: seen.append((sent, total)))
    assert r.new and r.status == 201 and r["version"] == 1 and r["peft_type"] == "SYMLORA", (r.status, r)
    assert seen and seen[-1][0] == seen[-1][1] and all(a <= b for (a, _), (b, _) in zip(seen, seen[1:])), seen
    r = c.push_adapter(name, QO, chunk_size=1000)
    assert not r.new and r.status == 200 and r["version"] == 2
    assert any(a["name"] == name for a in c.adapters())
    assert c.adapter(name)["versions"][0]["version"] == 2
    assert name in [m["id"] for m in c.models()]
    assert c.delete_adapter(name)["deleted"] is True
    assert "added successfully" in c.load_lora_adapter(name, "lora-qv-r4")
    assert c.adapter(name)["peft_type"] == "LORA"
    assert "added successfully" in c.load_lora_adapter(name, "lora-all-r8", load_inplace=True)
    assert "removed successfully" in c.unload_lora_adapter(name)


@test
def sse_parsing():
    raw = (b": a comment\r\ndata: {\"a\": 1}\r\n\r\ndata: line one\ndata: line two\n\n"
           b"event: x\nid: 3\ndata:no-space\n\ndata: [DONE]\n\n")
    assert list(symlora.sse_data(io.BytesIO(raw))) == ['{"a": 1}', "line one\nline two", "no-space", "[DONE]"]
    assert list(symlora.sse_data(io.BytesIO(b"data: tail-without-blank-line"))) == ["tail-without-blank-line"]
    chunk = {"choices": [{"index": 0, "delta": {"content": "a"}}]}
    assert symlora.chunk_text(chunk) == "a" and symlora.chunk_text({"choices": [], "usage": {}}) == ""


if __name__ == "__main__":
    try:
        main(daemon)
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
