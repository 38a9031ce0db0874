"""api/openapi.yaml against the real daemon: the spec is well-formed (JSON-compatible YAML, every
$ref resolves, only keywords the validator implements), every route of api/routes.c's table is
in it and nothing else, and every endpoint is exercised — successes and errors (400, 401, 403,
404, 405, 409, 413, 415, 422, 429, 503) — with each real answer (and each SSE event) validated
against the schema the spec gives for that path, method, status and Content-Type. Requests that
should succeed are validated against the request schemas too. The validator itself is checked
first on known-bad instances, so a passing run means something."""
import atexit
import copy
import hashlib
import http.client
import json
import os
import shutil
import signal
import tempfile
import time
import uuid

import openapi_check as oc
from harness import FIXTURES, TIMEOUT, Daemon, main, test

SPEC = oc.load_spec()
FIX = os.path.join(FIXTURES, "adapters", "llama-tiny")
COVERED = {}  # (path template, method) -> {status}
KEY, ADMIN_KEY = "sk-openapi-tenant-" + uuid.uuid4().hex, "sk-openapi-admin-" + uuid.uuid4().hex


def record(method, path, status):
    tpl = oc.path_template(SPEC, path)
    if tpl:
        COVERED.setdefault((tpl, method.lower()), set()).add(status)


def call(d, method, path, body=None, expect=None, headers=None, check_request=None):
    """Sends a request, validates the answer against the spec, records what was covered.
    A dict/list BODY is sent as JSON and, when a 2xx is expected, validated against the
    operation's request schema. Returns (status, headers, body bytes)."""
    h = dict(headers or {})
    raw = body
    if isinstance(body, (dict, list)):
        raw = json.dumps(body).encode()
        h.setdefault("Content-Type", "application/json")
        if check_request is None:
            check_request = expect is not None and 200 <= expect < 300
        if check_request:
            errs = oc.request_errors(SPEC, method, path, body)
            assert not errs, "the spec rejects a valid request:\n" + "\n".join(errs)
    st, hd, data = d.request(method, path, raw, h)
    assert expect is None or st == expect, "%s %s: status %d, expected %s: %.300s" % (method, path, st, expect, data)
    errs = oc.check_response(SPEC, method, path, st, hd, data)
    assert not errs, "%s %s -> %d does not match the spec:\n%s\nbody: %.500s" % (
        method, path, st, "\n".join(errs[:20]), data)
    record(method, path, st)
    return st, hd, data


def jcall(d, method, path, body=None, expect=None, **kw):
    st, hd, data = call(d, method, path, body, expect, **kw)
    return json.loads(data) if "json" in hd.get("content-type", "") else data.decode()


def multipart(parts, boundary=None):
    """(body, content type) of a multipart/form-data body; PARTS: [(name, filename, bytes)]."""
    b = boundary or "b-" + uuid.uuid4().hex
    out = b""
    for name, fname, data in parts:
        out += ("--%s\r\nContent-Disposition: form-data; name=\"%s\"; filename=\"%s\"\r\n"
                "Content-Type: application/octet-stream\r\n\r\n" % (b, name, fname)).encode() + data + b"\r\n"
    out += ("--%s--\r\n" % b).encode()
    return out, "multipart/form-data; boundary=" + b


def fixture_files(name="symlora-qo-r8"):
    with open(os.path.join(FIX, name, "adapter_config.json"), "rb") as f:
        cfg = f.read()
    with open(os.path.join(FIX, name, "adapter_model.safetensors"), "rb") as f:
        w = f.read()
    return cfg, w


def put(d, name, cfg, w, expect, headers=None):
    body, ct = multipart([("config", "adapter_config.json", cfg), ("weights", "adapter_model.safetensors", w)])
    return jcall(d, "PUT", "/v1/adapters/" + name, body, expect, headers=dict(headers or {}, **{"Content-Type": ct}))


def import_dir():
    """A temporary --import-dir: llama-tiny/lora-qv-r4 and a broken adapter (truncated weights)."""
    root = tempfile.mkdtemp(prefix="sl-openapi-import-")
    atexit.register(shutil.rmtree, root, True)
    dst = os.path.join(root, "llama-tiny", "lora-qv-r4")
    os.makedirs(dst)
    for f in ("adapter_config.json", "adapter_model.safetensors"):
        shutil.copyfile(os.path.join(FIX, "lora-qv-r4", f), os.path.join(dst, f))
    broken = os.path.join(root, "broken")
    os.makedirs(broken)
    cfg, w = fixture_files("lora-qv-r4")
    with open(os.path.join(broken, "adapter_config.json"), "wb") as f:
        f.write(cfg)
    with open(os.path.join(broken, "adapter_model.safetensors"), "wb") as f:
        f.write(w[:100])
    return root


def daemon():
    return Daemon(args=["--import-dir", import_dir()])


# ---------------------------------------------------------------------- the spec itself
@test
def spec_is_json_compatible_yaml_and_consistent():
    assert SPEC["openapi"].startswith("3.1"), SPEC["openapi"]
    with open(oc.SPEC_PATH, encoding="utf-8") as f:
        text = f.read()
    assert "\t" not in text, "tabs are not YAML indentation"
    try:
        import yaml  # PyYAML, when the machine has it: the file must mean the same to a YAML parser
    except ImportError:
        yaml = None
    if yaml is not None:
        assert yaml.safe_load(text) == SPEC, "YAML and JSON parsers read api/openapi.yaml differently"
    bad = []
    for r in oc.all_refs(SPEC):
        try:
            oc.resolve(SPEC, r)
        except (KeyError, ValueError, IndexError) as e:
            bad.append(str(e))
    for where, s in oc.schemas_in(SPEC):
        bad += ["%s: %s" % (where, e) for e in oc.lint_schema(s)]
    assert SPEC["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http", "scheme": "bearer", "description": SPEC["components"]["securitySchemes"]["bearerAuth"]["description"]}
    ids = set()
    for p, item in SPEC["paths"].items():
        for m, op in item.items():
            if m == "parameters":
                continue
            if op.get("operationId") in ids:
                bad.append("duplicate operationId %s" % op.get("operationId"))
            ids.add(op.get("operationId"))
            rs = op.get("responses", {})
            if not any(s.startswith("2") for s in rs):
                bad.append("%s %s: no 2xx response" % (m, p))
            if "503" not in rs:
                bad.append("%s %s: 503 (shutting down) applies to every route" % (m, p))
            open_route = op.get("security") == []
            if not open_route and "401" not in rs:
                bad.append("%s %s: needs a key but documents no 401" % (m, p))
            for st, r in rs.items():
                r = oc.resolve(SPEC, r["$ref"]) if "$ref" in r else r
                if st[0] in "45" and r.get("content", {}).get("application/json", {}).get("schema") != {
                        "$ref": "#/components/schemas/Error"}:
                    bad.append("%s %s %s: an error answer must be the Error object" % (m, p, st))
            if op.get("requestBody"):
                for ct in op["requestBody"]["content"]:
                    if ct not in ("application/json", "multipart/form-data"):
                        bad.append("%s %s: request media type %s" % (m, p, ct))
    try:  # the reference OpenAPI validator, when the machine has it
        from openapi_spec_validator import validate as validate_spec
    except ImportError:
        validate_spec = None
    if validate_spec is not None:
        try:
            validate_spec(SPEC)
        except Exception as e:  # noqa: BLE001
            bad.append("openapi-spec-validator: %s" % str(e)[:500])
    assert not bad, "\n".join(bad)


@test
def validator_rejects_what_it_should():
    """A negative self-test: each keyword, on instances that must fail and must pass."""
    S = {"components": {"schemas": {
        "Obj": {"type": "object", "required": ["a"], "additionalProperties": False,
                "properties": {"a": {"type": "integer", "minimum": 1, "maximum": 5}, "b": {"type": ["string", "null"]},
                               "c": {"type": "array", "items": {"$ref": "#/components/schemas/E"}, "maxItems": 2}}},
        "E": {"type": "string", "enum": ["x", "y"]},
        "One": {"oneOf": [{"type": "integer"}, {"type": "number", "minimum": 0}]},
        "Any": {"anyOf": [{"required": ["p"]}, {"required": ["q"]}]},
        "Pat": {"type": "string", "pattern": "^[a-z]+$", "minLength": 2},
        "Map": {"type": "object", "additionalProperties": {"type": "number"}},
        "Bad": {"type": "object", "propertyNames": {"pattern": "^a"}},
    }}}
    ref = lambda n: {"$ref": "#/components/schemas/" + n}
    cases = [  # (schema, instance, valid?)
        ("Obj", {"a": 1}, True), ("Obj", {"a": 1, "b": None, "c": ["x", "y"]}, True),
        ("Obj", {}, False), ("Obj", {"a": "1"}, False), ("Obj", {"a": 0}, False), ("Obj", {"a": 6}, False),
        ("Obj", {"a": True}, False), ("Obj", {"a": 1.5}, False), ("Obj", {"a": 2.0}, True),
        ("Obj", {"a": 1, "z": 1}, False), ("Obj", {"a": 1, "b": 3}, False), ("Obj", {"a": 1, "c": ["z"]}, False),
        ("Obj", {"a": 1, "c": ["x", "x", "x"]}, False), ("Obj", [], False), ("Obj", None, False),
        ("E", "x", True), ("E", "X", False), ("One", 3, False), ("One", 2.5, True), ("One", -1, True),
        ("One", -0.5, False), ("Any", {"p": 1}, True), ("Any", {"r": 1}, False), ("Pat", "ab", True),
        ("Pat", "a", False), ("Pat", "aB", False), ("Map", {"k": 1.5}, True), ("Map", {"k": "1"}, False),
        ("Bad", {}, False),  # an unimplemented keyword is an error, never a silent pass
    ]
    wrong = [(n, v, ok) for n, v, ok in cases if (not oc.validate(S, v, ref(n))) != ok]
    assert not wrong, "validator wrong on: %s" % wrong
    # The jsonschema package, when installed, agrees (but for the keyword this one refuses).
    ref_wrong = []
    for n, v, good in cases:
        r = oc.reference_errors(S, v, ref(n))
        if n != "Bad" and r is not None and (not r) != good:
            ref_wrong.append((n, v, good))
    assert not ref_wrong, "jsonschema disagrees on: %s" % ref_wrong
    assert oc.validate(S, 1, {"$ref": "#/components/schemas/Nope"}), "an unresolvable $ref must fail"
    assert oc.lint_schema(S["components"]["schemas"]["Bad"]), "lint must flag propertyNames"


@test
def every_route_of_the_c_table_is_in_the_spec():
    rows = oc.c_routes()
    assert len(rows) >= 13, rows
    want = set()
    missing = []
    for method, path, prefix in rows:
        if prefix:
            tpls = [p for p in SPEC["paths"] if p.startswith(path) and p[len(path):].startswith("{")]
        else:
            tpls = [path] if path in SPEC["paths"] else []
        if not tpls or not any(method.lower() in SPEC["paths"][t] for t in tpls):
            missing.append("%s %s%s" % (method, path, "{...}" if prefix else ""))
        for t in tpls:
            want.add((t, method.lower()))
    have = {(p, m) for p, item in SPEC["paths"].items() for m in item if m != "parameters"}
    assert not missing, "routes of api/routes.c missing from api/openapi.yaml: %s" % missing
    assert have == want, "operations in the spec that api/routes.c does not serve: %s" % sorted(have - want)


# ---------------------------------------------------------------------- inference
@test
def validator_rejects_mutated_real_answers(d):
    st, hd, data = call(d, "POST", "/v1/completions", {"prompt": "Hello", "max_tokens": 3, "temperature": 0}, 200)
    good = json.loads(data)
    schema = {"$ref": "#/components/schemas/Completion"}
    assert not oc.validate(SPEC, good, schema)
    mutations = [
        lambda j: j.pop("usage"), lambda j: j.update(id=5), lambda j: j.update(extra=1),
        lambda j: j["choices"][0].update(finish_reason="bogus"), lambda j: j["choices"][0].pop("text"),
        lambda j: j["usage"].update(prompt_tokens=-1), lambda j: j.update(object="chat.completion"),
        lambda j: j["choices"].clear(), lambda j: j["choices"][0].update(logprobs={"tokens": 1}),
    ]
    for i, mut in enumerate(mutations):
        j = copy.deepcopy(good)
        mut(j)
        assert oc.validate(SPEC, j, schema), "mutation %d of a real completion passed validation: %s" % (i, j)
    # A real answer of another endpoint, or an error body, is not a completion.
    models = jcall(d, "GET", "/v1/models", None, 200)
    assert oc.validate(SPEC, models, schema)
    # check_response: an undocumented status, a wrong content type, a stream without [DONE].
    assert oc.check_response(SPEC, "POST", "/v1/completions", 418, {"content-type": "application/json"}, data)
    assert oc.check_response(SPEC, "POST", "/v1/completions", 200, {"content-type": "text/html"}, data)
    assert oc.check_response(SPEC, "POST", "/v1/completions", 200, {"content-type": "text/event-stream"},
                             b"data: " + data + b"\n\n")
    ev = dict(good, choices=[dict(good["choices"][0], text=7)])
    assert oc.check_response(SPEC, "POST", "/v1/completions", 200, {"content-type": "text/event-stream"},
                             b"data: " + json.dumps(ev).encode() + b"\n\ndata: [DONE]\n\n")
    assert oc.check_response(SPEC, "POST", "/v1/completions", 429, {"content-type": "application/json"},
                             b'{"error":{"message":"x","type":"rate_limit_error","code":null,"param":null}}'), \
        "a 429 without Retry-After must fail"
    assert oc.check_response(SPEC, "GET", "/v1/nothing", 200, {}, b"")


@test
def completions(d):
    for body in ({"prompt": "Hello world", "max_tokens": 4, "temperature": 0},
                 {"model": "llama-tiny", "prompt": [1, 2, 3], "max_tokens": 3, "temperature": 0, "logprobs": 2,
                  "return_tokens_as_token_ids": True, "ignore_eos": True},
                 {"model": "symlora-qo-r8", "prompt": ["Once upon"], "max_tokens": 3, "seed": 7, "top_k": 5,
                  "top_p": 0.9, "stop": ["\n", "."], "logprobs": 0},
                 {"model": "lora-qv-r4", "prompt": [[5, 6, 7]], "max_tokens": 2, "temperature": 0.5, "n": 1,
                  "stream_options": None, "user": "u1"},
                 {"prompt": "x", "max_tokens": 12, "response_format": {"type": "json_schema", "json_schema": {
                     "name": "n", "strict": True, "schema": {"type": "object", "properties": {"a": {"type": "boolean"}},
                                                             "required": ["a"]}}}},
                 {"prompt": "x", "max_tokens": 4, "structured_outputs": {"choice": ["a", "b"]}},
                 {"prompt": "x", "max_tokens": 4, "guided_regex": "[0-9]{2}"}):
        j = jcall(d, "POST", "/v1/completions", body, 200)
        assert j["choices"][0]["finish_reason"] in ("stop", "length"), j


@test
def completions_streaming(d):
    for body in ({"prompt": "Hello", "max_tokens": 5, "temperature": 0, "stream": True,
                  "stream_options": {"include_usage": True}},
                 {"model": "symlora-all-r4", "prompt": "Hi", "max_tokens": 3, "stream": True, "logprobs": 1}):
        st, hd, data = call(d, "POST", "/v1/completions", body, 200)
        assert hd["content-type"].startswith("text/event-stream"), hd
        assert len(oc.sse_events(data)) >= 2


@test
def completions_errors(d):
    for body, st in (({"prompt": "x", "temperature": "hot"}, 400), ({"prompt": "x", "max_tokens": 0}, 400),
                     ({"prompt": "x", "max_tokens": 100000}, 400), ({"prompt": "x", "echo": True}, 400),
                     ({"prompt": [999999]}, 400), ({}, 400), ({"prompt": "x", "n": 2}, 400),
                     ({"model": "no-such-adapter", "prompt": "x"}, 404), ({"model": "../etc", "prompt": "x"}, 404),
                     ({"prompt": "x", "guided_regex": "(?=a)"}, 400),
                     ({"prompt": "x", "grammar": "root ::= \"a\"", "guided_choice": ["a"]}, 400)):
        j = jcall(d, "POST", "/v1/completions", body, st)
        assert j["error"]["message"], j
    call(d, "POST", "/v1/completions", b"{not json", 400, headers={"Content-Type": "application/json"})
    call(d, "POST", "/v1/completions", b"[1, 2]", 400, headers={"Content-Type": "application/json"})


@test
def chat(d):
    msgs = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello"}]
    j = jcall(d, "POST", "/v1/chat/completions", {"messages": msgs, "max_tokens": 4, "temperature": 0}, 200)
    assert j["choices"][0]["message"]["role"] == "assistant"
    jcall(d, "POST", "/v1/chat/completions", {"model": "symlora-qo-r8", "messages": [
        {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}],
        "max_completion_tokens": 3, "logprobs": True, "top_logprobs": 2}, 200)
    st, hd, data = call(d, "POST", "/v1/chat/completions", {"messages": msgs, "max_tokens": 4, "stream": True,
                                                             "stream_options": {"include_usage": True}}, 200)
    evs = oc.sse_events(data)
    assert json.loads(evs[0])["choices"][0]["delta"]["role"] == "assistant" and evs[-1] == "[DONE]"
    call(d, "POST", "/v1/chat/completions", {"messages": msgs, "max_tokens": 3, "stream": True, "logprobs": True,
                                             "top_logprobs": 1}, 200)
    tools = [{"type": "function", "function": {"name": "get_weather", "description": "w", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}, {"type": "function",
                                                                                               "function": {"name": "f"}}]
    for extra in ({"tools": tools}, {"tools": tools, "tool_choice": "auto", "parallel_tool_calls": False},
                  {"tools": tools, "tool_choice": "none"}):
        jcall(d, "POST", "/v1/chat/completions", dict(extra, messages=msgs, max_tokens=4), 200)
        call(d, "POST", "/v1/chat/completions", dict(extra, messages=msgs, max_tokens=4, stream=True), 200)
    forced = [{"type": "function", "function": {"name": "get_time", "parameters": {"type": "object", "properties": {
        "zone": {"type": "string", "enum": ["UTC", "CET"]}}, "required": ["zone"], "additionalProperties": False}}}]
    for choice, fin in (("required", "tool_calls"), ({"type": "function", "function": {"name": "get_time"}}, "stop")):
        body = {"messages": msgs, "tools": forced, "tool_choice": choice, "max_tokens": 100, "temperature": 0}
        j = jcall(d, "POST", "/v1/chat/completions", body, 200)
        assert j["choices"][0]["finish_reason"] == fin and j["choices"][0]["message"]["tool_calls"], j
        call(d, "POST", "/v1/chat/completions", dict(body, stream=True), 200)
    for body, st in (({"messages": msgs, "tools": [{"type": "function", "function": {"name": "a b"}}]}, 400),
                     ({"messages": msgs, "tools": tools, "tool_choice": "sometimes"}, 400),
                     ({"messages": [], "tools": tools}, 400)):
        jcall(d, "POST", "/v1/chat/completions", body, st)
    for body, st in (({"messages": []}, 400), ({"messages": "hi"}, 400), ({"messages": [{"content": "x"}]}, 400),
                     ({"messages": [{"role": "user", "content": [{"type": "image_url"}]}]}, 400),
                     ({"messages": msgs, "top_logprobs": 99, "logprobs": True}, 400),
                     ({"model": "nope", "messages": msgs}, 404)):
        jcall(d, "POST", "/v1/chat/completions", body, st)


@test
def models_tokenize_detokenize(d):
    j = jcall(d, "GET", "/v1/models", None, 200)
    assert j["data"][0]["parent"] is None and len(j["data"]) > 1
    t = jcall(d, "POST", "/tokenize", {"prompt": "Hello world"}, 200)
    jcall(d, "POST", "/tokenize", {"prompt": "Hello", "add_special_tokens": False}, 200)
    jcall(d, "POST", "/tokenize", {"messages": [{"role": "user", "content": "Hi"}], "add_generation_prompt": True}, 200)
    p = jcall(d, "POST", "/apply-template", {"messages": [{"role": "user", "content": "Hi"}],
                                             "chat_template_kwargs": {"x": 1}, "add_generation_prompt": False}, 200)
    assert p["prompt"] == "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>", p
    jcall(d, "POST", "/apply-template", {"messages": []}, 400)
    assert jcall(d, "POST", "/detokenize", {"tokens": t["tokens"][1:]}, 200)["prompt"] == "Hello world"
    for path, body in (("/tokenize", {}), ("/tokenize", {"prompt": 5}), ("/detokenize", {}),
                       ("/detokenize", {"tokens": [-1]}), ("/detokenize", {"tokens": "x"})):
        jcall(d, "POST", path, body, 400)


@test
def health_metrics_and_unknown_routes(d):
    assert jcall(d, "GET", "/health", None, 200) == {"status": "ok"}
    text = jcall(d, "GET", "/metrics", None, 200)
    assert "symlora_requests_total" in text
    # Outside the paths of the spec: the one Error object (info.description says so).
    for method, path, st in (("GET", "/v2/nothing", 404), ("PUT", "/health", 405), ("DELETE", "/v1/completions", 405),
                             ("POST", "/v1/adapters", 405)):
        s, hd, data = d.request(method, path)
        assert s == st, (method, path, s)
        assert hd["content-type"].startswith("application/json")
        errs = oc.validate(SPEC, json.loads(data), {"$ref": "#/components/schemas/Error"})
        assert not errs, errs


# ---------------------------------------------------------------------- adapters
@test
def adapter_lifecycle(d):
    cfg, w = fixture_files()
    name = "oa-" + uuid.uuid4().hex[:8]
    j = put(d, name, cfg, w, 201)
    assert j["version"] == 1 and j["sha256"] == hashlib.sha256(w).hexdigest(), j
    j = put(d, name, cfg, w, 200)
    assert j["version"] == 2, j
    lst = jcall(d, "GET", "/v1/adapters", None, 200)
    assert any(a["name"] == name for a in lst["data"]) and any(a["pinned"] for a in lst["data"]), lst
    jcall(d, "GET", "/v1/adapters?tenant=default", None, 200)
    info = jcall(d, "GET", "/v1/adapters/" + name, None, 200)
    assert info["versions"][0]["current"] is True
    jcall(d, "GET", "/v1/adapters/symlora-qo-r8", None, 200)  # a pinned one
    jcall(d, "POST", "/v1/completions", {"model": name, "prompt": "Hi", "max_tokens": 2}, 200)
    assert jcall(d, "DELETE", "/v1/adapters/" + name, None, 200)["deleted"] is True
    jcall(d, "GET", "/v1/adapters/" + name, None, 404)
    jcall(d, "DELETE", "/v1/adapters/" + name, None, 404)
    jcall(d, "DELETE", "/v1/adapters/symlora-qo-r8", None, 409)
    jcall(d, "GET", "/v1/adapters/Bad%20Name", None, 400)
    jcall(d, "DELETE", "/v1/adapters/" + "x" * 80, None, 400)
    jcall(d, "GET", "/v1/adapters/other%2Fname", None, 404)  # another tenant's: not found


@test
def adapter_upload_errors(d):
    cfg, w = fixture_files()
    put(d, "Bad..Name", cfg, w, 400)
    body, ct = multipart([("config", "adapter_config.json", cfg)])
    jcall(d, "PUT", "/v1/adapters/oa-missing", body, 400, headers={"Content-Type": ct})
    body, ct = multipart([("config", "a", cfg), ("weights", "b", w), ("extra", "c", b"x")])
    jcall(d, "PUT", "/v1/adapters/oa-extra", body, 400, headers={"Content-Type": ct})
    jcall(d, "PUT", "/v1/adapters/oa-json", {"config": "x"}, 415)
    j = put(d, "oa-truncated", cfg, w[:len(w) // 2], 422)
    assert j["error"]["code"] == "invalid_adapter", j
    put(d, "oa-garbage-config", b"{not json", w, 422)
    jcall(d, "GET", "/v1/adapters/oa-truncated", None, 404)  # nothing was stored


@test
def vllm_load_unload(d):
    name = "oa-vllm-" + uuid.uuid4().hex[:6]
    body = {"lora_name": name, "lora_path": "llama-tiny/lora-qv-r4"}
    text = jcall(d, "POST", "/v1/load_lora_adapter", body, 200)
    assert "added successfully" in text, text
    jcall(d, "POST", "/v1/load_lora_adapter", body, 400)  # exists: load_inplace needed
    jcall(d, "POST", "/v1/load_lora_adapter", dict(body, load_inplace=True), 200)
    jcall(d, "POST", "/v1/load_lora_adapter", {"lora_name": "oa-x", "lora_path": "/etc"}, 403)
    jcall(d, "POST", "/v1/load_lora_adapter", {"lora_name": "oa-x", "lora_path": "llama-tiny/nope"}, 404)
    jcall(d, "POST", "/v1/load_lora_adapter", {"lora_name": "oa-x", "lora_path": "llama-tiny"}, 400)
    j = jcall(d, "POST", "/v1/load_lora_adapter", {"lora_name": "oa-x", "lora_path": "broken"}, 422)
    assert j["error"]["code"] == "invalid_adapter", j
    jcall(d, "POST", "/v1/load_lora_adapter", {"lora_name": "oa-x"}, 400)
    jcall(d, "POST", "/v1/load_lora_adapter", {"lora_name": "A B", "lora_path": "llama-tiny/lora-qv-r4"}, 400)
    assert "removed successfully" in jcall(d, "POST", "/v1/unload_lora_adapter", {"lora_name": name}, 200)
    jcall(d, "POST", "/v1/unload_lora_adapter", {"lora_name": name}, 404)
    jcall(d, "POST", "/v1/unload_lora_adapter", {"lora_name": "symlora-qo-r8"}, 409)
    jcall(d, "POST", "/v1/unload_lora_adapter", {}, 400)


# ---------------------------------------------------------------------- a strict daemon: keys, limits
_strict = {}


def strict():
    """A daemon with API keys, small limits, one running sequence and one waiting, slow steps,
    no chat template and no import directory."""
    if "d" not in _strict:
        tmp = os.path.join(os.environ.get("TMPDIR", "/tmp"), "sl-openapi-keys-%d" % os.getpid())
        with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
            f.write("%s tenant-a tenant\n%s ops admin\n" % (hashlib.sha256(KEY.encode()).hexdigest(),
                                                           hashlib.sha256(ADMIN_KEY.encode()).hexdigest()))
        try:
            _strict["d"] = Daemon(adapters={}, chat_template=None, args=[
                "--api-keys", tmp, "--max-body-bytes", "1024", "--max-adapter-bytes", "4096", "--max-running", "1",
                "--max-waiting", "1", "--step-delay-ms", "30"])
        finally:
            os.unlink(tmp)
    return _strict["d"]


AUTH = {"Authorization": "Bearer " + KEY}


@test
def auth_401_on_every_keyed_route():
    s = strict()
    n = 0
    for p, item in SPEC["paths"].items():
        for m, op in item.items():
            if m == "parameters":
                continue
            path = p.replace("{name}", "x")
            if op.get("security") == []:
                call(s, m.upper(), path, None, 200)
                continue
            for h in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic " + KEY}):
                j = jcall(s, m.upper(), path, {} if op.get("requestBody") else None, 401, headers=h)
                assert j["error"]["code"] == "invalid_api_key", j
                n += 1
    assert n >= 3 * 11, n
    jcall(s, "GET", "/v1/models", None, 200, headers=AUTH)
    jcall(s, "GET", "/v1/adapters", None, 200, headers={"Authorization": "Bearer " + ADMIN_KEY})
    cfg, w = fixture_files()
    put(s, "tenant-b%2Fmine", cfg, w, 404, headers=AUTH)  # a tenant cannot address another's


@test
def limits_413_and_no_chat_template():
    s = strict()
    for p, item in SPEC["paths"].items():  # every JSON body has the same limit
        for m, op in item.items():
            if m != "parameters" and "application/json" in (op.get("requestBody") or {}).get("content", {}):
                jcall(s, m.upper(), p, {"prompt": "x" * 2000}, 413, headers=AUTH)
    cfg, w = fixture_files()  # ~9.5 KB > --max-adapter-bytes 4096: refused from Content-Length
    j = put(s, "too-big", cfg, w, 413, headers=AUTH)
    assert j["error"]["code"] == "upload_too_large", j
    jcall(s, "POST", "/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}]}, 400, headers=AUTH)
    jcall(s, "POST", "/v1/load_lora_adapter", {"lora_name": "a", "lora_path": "b"}, 403, headers=AUTH)


def open_stream(s, body):
    c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=TIMEOUT)
    c.request("POST", "/v1/completions", json.dumps(dict(body, stream=True)).encode(),
              dict(AUTH, **{"Content-Type": "application/json"}))
    r = c.getresponse()
    assert r.status == 200, r.status
    r.readline()  # the first event is out: the sequence runs
    return c


LONG = {"prompt": "Hello", "max_tokens": 400, "ignore_eos": True, "temperature": 0}


@test
def queue_full_429():
    s = strict()
    a = open_stream(s, LONG)
    b = http.client.HTTPConnection("127.0.0.1", s.port, timeout=TIMEOUT)
    try:
        b.request("POST", "/v1/completions", json.dumps(dict(LONG, stream=True)).encode(),
                  dict(AUTH, **{"Content-Type": "application/json"}))
        assert s.wait_metric("symlora_num_requests_waiting", lambda v: v >= 1) >= 1
        j = jcall(s, "POST", "/v1/completions", {"prompt": "x", "max_tokens": 1}, 429, headers=AUTH)
        assert j["error"]["type"] == "rate_limit_error", j
    finally:
        a.close()
        b.close()
    assert s.wait_metric("symlora_num_requests_running", lambda v: v == 0) == 0


def keepalive(s):
    c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=TIMEOUT)
    c.request("GET", "/health")
    r = c.getresponse()
    r.read()
    assert r.status == 200 and not r.will_close
    return c


@test
def shutting_down_503():
    """After SIGTERM, while a stream drains, a request on a kept-alive connection is 503 with
    Retry-After, on every route; the daemon still exits 0."""
    s = strict()
    ops = [(m.upper(), p.replace("{name}", "x"), op) for p, item in SPEC["paths"].items()
           for m, op in item.items() if m != "parameters"]
    conns = [keepalive(s) for _ in ops]
    stream = open_stream(s, LONG)
    try:
        s.proc.send_signal(signal.SIGTERM)
        deadline = time.time() + TIMEOUT
        while "draining" not in s.log_text() and time.time() < deadline:
            time.sleep(0.02)
        for c, (method, path, op) in zip(conns, ops):
            c.request(method, path, b"{}" if op.get("requestBody") else None,
                      dict(AUTH, **{"Content-Type": "application/json"}))
            r = c.getresponse()
            data = r.read()
            hd = {k.lower(): v for k, v in r.getheaders()}
            assert r.status == 503, (path, r.status, data)
            errs = oc.check_response(SPEC, method, path, 503, hd, data)
            assert not errs, errs
            record(method, path, 503)
    finally:
        stream.close()
        for c in conns:
            c.close()
    assert s.stop() == 0, s.log_text()[-2000:]


@test
def every_operation_was_exercised():
    missing, untested = [], []
    for p, item in SPEC["paths"].items():
        for m, op in item.items():
            if m == "parameters":
                continue
            got = COVERED.get((p, m), set())
            if not any(200 <= st < 300 for st in got):
                missing.append("%s %s" % (m.upper(), p))
            untested += ["%s %s %s" % (m.upper(), p, st) for st in op["responses"] if int(st) not in got]
    assert not missing, "operations never answered 2xx in this test: %s" % missing
    # Documented but not provoked here (a full disk, out of memory, engine failures): listed.
    print("#   not provoked: %s" % ", ".join(sorted(set(untested))))


if __name__ == "__main__":
    main(daemon)
