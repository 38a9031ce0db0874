"""Tool calling and reasoning on /v1/chat/completions: the request's tools, tool_choice and
tool messages are checked (each mistake a 400 naming the field), and the output parser sits
between the engine and the client (streamed content equals the non-streamed content for every
parser), and tool_choice required / named force a valid call through constrained decoding in
each parser's format (the random-weight model writes a call only when decoding is constrained)."""
import copy
import json

import openapi_check as oc
import os

from harness import FIXTURES, Daemon, main, run_parallel, test

SPEC = oc.load_spec()

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "The weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
BASE = {"messages": [{"role": "user", "content": "What is the weather in Paris?"}],
        "tools": [WEATHER], "max_tokens": 12, "temperature": 0}


def with_(**kw):
    b = copy.deepcopy(BASE)
    for k, v in kw.items():
        if v is None:
            b.pop(k, None)
        else:
            b[k] = v
    return b


def fn(name, params=None, **kw):
    f = {"name": name}
    if params is not None:
        f["parameters"] = params
    f.update(kw)
    return {"type": "function", "function": f}


CALL = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}
REFUSED = [
    ("tools_not_array", with_(tools={"a": 1}), "tools", "must be an array"),
    ("tools_empty", with_(tools=[]), "tools", "must not be empty"),
    ("tool_type", with_(tools=[{"type": "retrieval"}]), "tools", "only tools of type \"function\""),
    ("tool_no_function", with_(tools=[{"type": "function"}]), "tools", "function must be an object"),
    ("tool_no_name", with_(tools=[{"type": "function", "function": {}}]), "tools", "name must be a string"),
    ("tool_bad_name", with_(tools=[fn("get weather")]), "tools", "1 to 64"),
    ("tool_long_name", with_(tools=[fn("a" * 65)]), "tools", "1 to 64"),
    ("tool_twice", with_(tools=[WEATHER, WEATHER]), "tools", "given twice"),
    ("params_not_object", with_(tools=[fn("f", [1])]), "tools", "JSON Schema object"),
    ("params_not_object_type", with_(tools=[fn("f", {"type": "string"})]), "tools", "type \"object\""),
    ("params_properties", with_(tools=[fn("f", {"type": "object", "properties": [1]})]), "tools", "properties must be an object"),
    ("params_property_schema", with_(tools=[fn("f", {"properties": {"a": 3}})]), "tools", "properties.a"),
    ("params_required", with_(tools=[fn("f", {"required": "a"})]), "tools", "required must be an array"),
    ("description", with_(tools=[fn("f", description=3)]), "tools", "description must be a string"),
    ("strict", with_(tools=[fn("f", strict="yes")]), "tools", "strict must be a boolean"),
    ("too_many_tools", with_(tools=[fn("f%d" % i) for i in range(129)]), "tools", "at most 128"),
    ("choice_word", with_(tool_choice="any"), "tool_choice", "must be \"none\""),
    ("choice_type", with_(tool_choice=3), "tool_choice", "string or an object"),
    ("choice_object", with_(tool_choice={"type": "function"}), "tool_choice", "a named 'tool_choice'"),
    ("choice_unknown_name", with_(tool_choice={"type": "function", "function": {"name": "nope"}}), "tool_choice",
     "not in 'tools'"),
    ("choice_without_tools", with_(tools=None, tool_choice="auto"), "tool_choice", "needs 'tools'"),
    ("parallel_type", with_(parallel_tool_calls="yes"), "parallel_tool_calls", "boolean"),
    ("functions", with_(functions=[{"name": "f"}]), "functions", "deprecated"),
    ("tool_calls_on_user", with_(messages=[{"role": "user", "content": "x", "tool_calls": [CALL]}]), "messages",
     "only assistant messages"),
    ("tool_calls_shape", with_(messages=[{"role": "user", "content": "x"},
                                         {"role": "assistant", "content": None,
                                          "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": {}}}]}]),
     "messages", "a string of JSON"),
    ("tool_without_id", with_(messages=[{"role": "user", "content": "x"}, {"role": "assistant", "tool_calls": [CALL]},
                                        {"role": "tool", "content": "sunny"}]), "messages", "tool_call_id"),
    ("tool_unknown_id", with_(messages=[{"role": "user", "content": "x"}, {"role": "assistant", "tool_calls": [CALL]},
                                        {"role": "tool", "tool_call_id": "call_2", "content": "sunny"}]), "messages",
     "answers no tool call"),
]


@test
def refusals(d):
    bad = []
    for name, body, param, text in REFUSED:
        st, j, _ = d.post("/v1/chat/completions", body)
        err = (j or {}).get("error", {})
        if st != 400 or err.get("param") != param or text not in err.get("message", ""):
            bad.append("%s: %d %s" % (name, st, j))
    assert not bad, "\n".join(bad)
    assert d.get("/health")[0] == 200


FORCED_TOOLS = [
    {"type": "function", "function": {"name": "get_weather", "parameters": {
        "type": "object", "properties": {"city": {"type": "string", "enum": ["Paris", "Oslo", "Lima"]},
                                         "days": {"type": "integer", "minimum": 1, "maximum": 7}},
        "required": ["city", "days"], "additionalProperties": False}}},
    {"type": "function", "function": {"name": "get_time", "parameters": {
        "type": "object", "properties": {"zone": {"type": "string", "enum": ["UTC", "CET"]}}, "required": ["zone"],
        "additionalProperties": False}}},
]


def check_call(call, names):
    assert call["id"].startswith("call_") and call["type"] == "function", call
    assert call["function"]["name"] in names, call
    args = json.loads(call["function"]["arguments"])
    if call["function"]["name"] == "get_weather":
        assert args["city"] in ("Paris", "Oslo", "Lima") and 1 <= args["days"] <= 7 and len(args) == 2, args
    else:
        assert args == {"zone": args["zone"]} and args["zone"] in ("UTC", "CET"), args


@test
def forced_calls_every_parser():
    """tool_choice required / named on the random-weight model: constrained decoding writes the
    call in the parser's format (hermes <tool_call>, llama3_json, mistral [TOOL_CALLS]) and the
    parser gives it back as tool_calls; streamed and not, with and without an adapter, in a mixed
    batch with plain requests."""
    for parser in ("hermes", "llama3_json", "mistral"):
        d = Daemon(args=["--tool-call-parser", parser])
        try:
            bodies = []
            for model in ("llama-tiny", "symlora-qo-r8", "lora-all-r8"):
                for choice, names, fin in (("required", ("get_weather", "get_time"), "tool_calls"),
                                           ({"type": "function", "function": {"name": "get_weather"}}, ("get_weather",),
                                            "stop")):
                    for seed in range(2):
                        bodies.append((with_(model=model, tools=FORCED_TOOLS, tool_choice=choice, max_tokens=200,
                                             temperature=0.9, seed=seed), names, fin))

            def one(body, names, fin):
                msg = stream_equals_whole(d, body)
                st, j, _ = d.post("/v1/chat/completions", body)
                assert j["choices"][0]["finish_reason"] == fin, (parser, j)
                assert msg["content"] is None and len(msg["tool_calls"]) == 1, (parser, msg)
                check_call(msg["tool_calls"][0], names)
                return msg["tool_calls"][0]["function"]["name"]

            plain = [(with_(tools=None, max_tokens=30, temperature=0.9, seed=i), None, None) for i in range(4)]
            got = run_parallel(lambda b, n, f: one(b, n, f) if n else d.post("/v1/chat/completions", b)[0],
                               bodies + plain)
            assert set(got[:len(bodies)]) <= {"get_weather", "get_time"} and got[len(bodies):] == [200] * 4, got
        finally:
            assert d.stop() == 0


@test
def forced_call_refusals(d):
    """A forced call and a structured output at once, a schema the constraint engine cannot
    enforce, and a model without a tool-call format: each a 400 naming the problem."""
    st, j, _ = d.post("/v1/chat/completions", with_(tool_choice="required", response_format={"type": "json_object"}))
    assert st == 400 and j["error"]["param"] == "tool_choice" and "give only one" in j["error"]["message"], j
    bad = with_(tools=[fn("f", {"type": "object", "properties": {"a": {"type": "string", "format": "hostname"}}})],
                tool_choice="required")
    st, j, _ = d.post("/v1/chat/completions", bad)
    assert st == 400 and j["error"]["param"] == "tools" and "hostname" in j["error"]["message"], j
    d2 = Daemon(args=["--tool-call-parser", "none"])
    try:
        st, j, _ = d2.post("/v1/chat/completions", with_(tool_choice="required"))
        assert st == 400 and j["error"]["param"] == "tool_choice" and "--tool-call-parser" in j["error"]["message"], j
        st, j, _ = d2.post("/v1/chat/completions", with_(tool_choice="auto"))  # auto: no parsing, a plain answer
        assert st == 200 and "tool_calls" not in j["choices"][0]["message"], j
    finally:
        assert d2.stop() == 0


def real_template(name):
    return os.path.join(FIXTURES, "chat", "templates", name + ".jinja")


@test
def real_templates_pick_their_parser():
    """With a model's real chat template the parser is recognised from its markers (Qwen2.5:
    hermes, Mistral Nemo: mistral), the tools reach the prompt, a tool-call history renders,
    and a forced call comes back through that parser."""
    for tmpl, parser, marker in (("Qwen-Qwen2.5-7B-Instruct", "hermes", "<tool_call>"),
                                 ("mistralai-Mistral-Nemo-Instruct-2407", "mistral", "[AVAILABLE_TOOLS]")):
        d = Daemon(chat_template=real_template(tmpl))
        try:
            assert "tool calls: %s (chat template)" % parser in d.log_text(), d.log_text()
            # small: the fixture models have 512 positions and Qwen2.5's tool prompt is long
            tools = [fn("t", {"type": "object", "properties": {"z": {"type": "string", "enum": ["U", "C"]}},
                              "required": ["z"], "additionalProperties": False})]
            st, j, _ = d.post("/apply-template", {"messages": [{"role": "user", "content": "T?"}], "tools": tools})
            assert st == 200 and marker in j["prompt"] and '"t"' in j["prompt"], j
            call = {"id": "abcdefghi", "type": "function", "function": {"name": "t", "arguments": "{\"z\": \"U\"}"}}
            history = [{"role": "user", "content": "T?"}, {"role": "assistant", "content": None, "tool_calls": [call]},
                       {"role": "tool", "tool_call_id": "abcdefghi", "content": "ok"}]
            st, j, _ = d.post("/apply-template", {"messages": history})
            assert st == 200 and '"t"' in j["prompt"] and "ok" in j["prompt"].split("T?")[1], j
            st, j, _ = d.post("/v1/chat/completions", with_(messages=history, tools=tools, max_tokens=4))
            assert st == 200, j
            body = with_(messages=[{"role": "user", "content": "T?"}], tools=tools, tool_choice="required",
                         max_tokens=80, temperature=0)
            msg = stream_equals_whole(d, body)
            assert len(msg["tool_calls"]) == 1 and msg["tool_calls"][0]["function"]["name"] == "t", msg
            assert json.loads(msg["tool_calls"][0]["function"]["arguments"]) in ({"z": "U"}, {"z": "C"}), msg
        finally:
            assert d.stop() == 0


@test
def accepted_forms(d):
    """tools with no parameters, tool_choice none/auto, parallel_tool_calls: a normal answer."""
    for body in (with_(), with_(tool_choice="none"), with_(tool_choice="auto", parallel_tool_calls=False),
                 with_(tools=[fn("ping"), fn("f", {}), fn("g", {"type": "object", "properties": {}, "required": []},
                                                         description="d", strict=True)]),
                 with_(tools=None, tool_choice="none")):
        st, j, _ = d.post("/v1/chat/completions", body)
        assert st == 200, (body, j)
        c = j["choices"][0]
        assert c["finish_reason"] == "length" and isinstance(c["message"]["content"], str), j
        assert "tool_calls" not in c["message"], j


def schema(name):
    return {"$ref": "#/components/schemas/" + name}


def stream_equals_whole(d, body):
    """The answer and its stream (both valid by api/openapi.yaml) say the same."""
    st, j, _ = d.post("/v1/chat/completions", body)
    assert st == 200, j
    errs = oc.validate(SPEC, j, schema("ChatCompletion"))
    assert not errs, (errs, j)
    msg = j["choices"][0]["message"]
    st, events, done = d.stream("/v1/chat/completions", body)
    assert st == 200 and done, events
    for ev in events:
        errs = oc.validate(SPEC, ev, schema("ChatCompletionChunk"))
        assert not errs, (errs, ev)
    content, reasoning, calls, finish = "", "", [], None
    for ev in events:
        for c in ev.get("choices", []):
            delta = c["delta"]
            content += delta.get("content") or ""
            reasoning += delta.get("reasoning_content") or ""
            calls += delta.get("tool_calls") or []
            finish = c["finish_reason"] or finish
    assert content == (msg["content"] or ""), (content, msg)
    assert reasoning == (msg.get("reasoning_content") or ""), (reasoning, msg)
    assert len(calls) == len(msg.get("tool_calls", [])), (calls, msg)
    assert finish == j["choices"][0]["finish_reason"], (finish, j)
    return msg


@test
def every_parser_streams_what_it_answers():
    """The random model's text goes through each parser: streamed pieces (with text held back
    while it may be a call marker) add up to the non-streamed answer, with and without an adapter."""
    for parser in ("hermes", "llama3_json", "mistral"):
        d = Daemon(args=["--tool-call-parser", parser, "--reasoning-parser", "think"])
        try:
            assert "tool calls: %s (forced); reasoning: <think> blocks" % parser in d.log_text(), d.log_text()
            for model in ("llama-tiny", "symlora-qo-r8"):
                for seed in range(3):
                    msg = stream_equals_whole(d, with_(model=model, max_tokens=24, temperature=1.0, seed=seed))
                    assert "reasoning_content" in msg, msg
        finally:
            assert d.stop() == 0


@test
def no_parser_without_tools(d):
    """Without tools (or with tool_choice none) the text is not parsed: no reasoning_content, the
    content is the model's text as it is."""
    for body in (with_(tools=None), with_(tool_choice="none")):
        msg = stream_equals_whole(d, body)
        assert "reasoning_content" not in msg and "tool_calls" not in msg, msg


if __name__ == "__main__":
    main()
