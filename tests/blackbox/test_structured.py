"""Structured outputs on a random-weight model (which emits noise unless constrained):
JSON schemas (every finished output parses and validates with python3-jsonschema), json_object,
regex, choice, a GBNF arithmetic grammar, with and without adapters, streaming and not, in
mixed concurrent batches; max_tokens cut short gives "length"; every mistake is a 400."""
import json
import re

import jsonschema

from harness import Daemon, main, run_parallel, test

SCHEMAS = [
    {"type": "object",
     "properties": {"name": {"type": "string", "maxLength": 12},
                    "age": {"type": "integer", "minimum": 0, "maximum": 150},
                    "member": {"type": "boolean"}},
     "required": ["name", "age", "member"], "additionalProperties": False},
    {"type": "object",
     "properties": {"color": {"enum": ["red", "green", "blue"]},
                    "sizes": {"type": "array", "items": {"type": "integer", "minimum": -3, "maximum": 3},
                              "minItems": 1, "maxItems": 4},
                    "note": {"anyOf": [{"type": "null"}, {"type": "string", "pattern": "^[a-z]{1,5}$"}]}},
     "required": ["color", "sizes", "note"]},
    {"type": "array", "items": {"$ref": "#/$defs/point"}, "maxItems": 3,
     "$defs": {"point": {"type": "object", "properties": {"x": {"type": "number", "minimum": -1.5, "maximum": 2.5},
                                                          "y": {"const": 1}},
                         "required": ["x", "y"]}}},
    {"type": "object", "properties": {"when": {"type": "string", "format": "date"},
                                      "id": {"type": "string", "format": "uuid"},
                                      "ok": {"type": "boolean"}},
     "required": ["when", "id", "ok"]},
]

ADAPTERS = [None, "lora-qv-r4", "symlora-qo-r8"]


def complete(d, body, chat=False, model=None):
    body = dict(body)
    if model:
        body["model"] = model
    if chat:
        body.setdefault("messages", [{"role": "user", "content": "answer"}])
        st, j, _ = d.post("/v1/chat/completions", body)
        assert st == 200, (st, j)
        c = j["choices"][0]
        return c["message"]["content"], c["finish_reason"], c
    body.setdefault("prompt", "The answer:")
    st, j, _ = d.post("/v1/completions", body)
    assert st == 200, (st, j)
    c = j["choices"][0]
    return c["text"], c["finish_reason"], c


def check_finished(texts, check, need):
    """Outputs that finished with "stop" must pass CHECK; at least NEED of them must finish."""
    done = 0
    for text, finish in texts:
        assert finish in ("stop", "length"), finish
        if finish == "stop":
            check(text)
            done += 1
    assert done >= need, "only %d of %d outputs finished: %r" % (done, len(texts), texts[:3])


@test
def json_schemas_validate(d):
    for k, schema in enumerate(SCHEMAS):
        outs = []
        for seed in range(4):
            fmt = {"type": "json_schema", "json_schema": {"name": "s%d" % k, "schema": schema, "strict": True}}
            t, f, _ = complete(d, {"max_tokens": 160, "seed": seed, "temperature": 0.8, "response_format": fmt},
                               chat=seed % 2 == 1, model=ADAPTERS[seed % 3])
            outs.append((t, f))

        def valid(text, schema=schema):
            jsonschema.validate(json.loads(text), schema)
        check_finished(outs, valid, 2)


@test
def json_object_is_json(d):
    outs = []
    for seed in range(6):
        t, f, _ = complete(d, {"max_tokens": 120, "seed": seed, "temperature": 0.7,
                               "response_format": {"type": "json_object"}}, chat=seed % 2 == 0)
        outs.append((t, f))
    check_finished(outs, lambda t: json.loads(t).__class__ is dict or (_ for _ in ()).throw(AssertionError(t)), 1)


@test
def regex_choice_and_vllm_fields(d):
    rx = r"(cat|dog)-[0-9]{2,4}(\.[a-f]+)?"
    for seed in range(4):
        t, f, _ = complete(d, {"max_tokens": 40, "seed": seed, "guided_regex": rx}, model=ADAPTERS[seed % 3])
        assert f == "length" or re.fullmatch(rx, t), (t, f)
        t, f, _ = complete(d, {"max_tokens": 40, "seed": seed, "structured_outputs": {"regex": "[xyz]{3}"}})
        assert f == "stop" and re.fullmatch("[xyz]{3}", t), (t, f)
        opts = ["yes", "no", "maybe not", "ünïcode"]
        t, f, _ = complete(d, {"max_tokens": 20, "seed": seed, "temperature": 1.5, "guided_choice": opts},
                           chat=seed % 2 == 1)
        assert f == "stop" and t in opts, (t, f)
        t, f, _ = complete(d, {"max_tokens": 20, "seed": seed, "structured_outputs": {"choice": opts}})
        assert f == "stop" and t in opts, (t, f)
    # vLLM's disable_any_whitespace: compact JSON
    cs = {"type": "object", "properties": {"n": {"type": "integer", "minimum": 0, "maximum": 99},
                                           "b": {"type": "boolean"}, "c": {"enum": ["x", "y"]}},
          "required": ["n", "b", "c"], "additionalProperties": False}
    for seed in range(3):
        t, f, _ = complete(d, {"max_tokens": 40, "seed": seed, "structured_outputs": {
            "json": cs, "disable_any_whitespace": True}})
        assert f == "stop" and json.dumps(json.loads(t), separators=(",", ":")) == t, (t, f)
        jsonschema.validate(json.loads(t), cs)
    # llama.cpp's json_schema and vLLM's guided_json
    t, f, _ = complete(d, {"max_tokens": 30, "json_schema": {"enum": [1, 2, "three"]}})
    assert f == "stop" and json.loads(t) in [1, 2, "three"], t
    t, f, _ = complete(d, {"max_tokens": 30, "guided_json": json.dumps({"type": "boolean"})})
    assert f == "stop" and t in ("true", "false"), t


ARITH = r'''
root   ::= expr
expr   ::= term (("+" | "-") term)*
term   ::= factor (("*" | "/") factor)*
factor ::= number | "(" expr ")"
number ::= [0-9]{1,3}
'''


def parse_arith(s):
    """A small recursive-descent parser of ARITH: True if S is a sentence of it."""
    pos = 0

    def number():
        nonlocal pos
        st = pos
        while pos < len(s) and s[pos].isdigit() and pos - st < 3:
            pos += 1
        return pos > st

    def factor():
        nonlocal pos
        if pos < len(s) and s[pos] == "(":
            pos += 1
            if not expr() or pos >= len(s) or s[pos] != ")":
                return False
            pos += 1
            return True
        return number()

    def chain(sub, ops):
        nonlocal pos
        if not sub():
            return False
        while pos < len(s) and s[pos] in ops:
            pos += 1
            if not sub():
                return False
        return True

    def term():
        return chain(factor, "*/")

    def expr():
        return chain(term, "+-")

    return expr() and pos == len(s)


@test
def gbnf_arithmetic(d):
    assert parse_arith("1+(2*33)/4") and not parse_arith("1+") and not parse_arith("(1")
    outs = []
    for seed in range(6):
        field = ["grammar", "guided_grammar"][seed % 2]
        t, f, _ = complete(d, {"max_tokens": 48, "seed": seed, "temperature": 1.0, field: ARITH},
                           model=ADAPTERS[seed % 3])
        outs.append((t, f))
    check_finished(outs, lambda t: (parse_arith(t) or (_ for _ in ()).throw(AssertionError(t))), 2)


@test
def max_tokens_cut_short_is_length(d):
    schema = {"type": "object", "properties": {"a": {"type": "string", "minLength": 30}}, "required": ["a"]}
    t, f, _ = complete(d, {"max_tokens": 4, "response_format": {"type": "json_schema",
                                                                 "json_schema": {"name": "a", "schema": schema}}})
    assert f == "length", (t, f)
    try:
        json.loads(t)
        assert False, "a cut output must not parse: %r" % t
    except ValueError:
        pass


@test
def streaming_equals_whole(d):
    body = {"prompt": "x", "max_tokens": 60, "seed": 7, "temperature": 0.9,
            "response_format": {"type": "json_schema", "json_schema": {"name": "p", "schema": SCHEMAS[0]}}}
    st, j, _ = d.post("/v1/completions", body)
    assert st == 200
    st, events, done = d.stream("/v1/completions", body)
    assert st == 200 and done
    text = "".join(e["choices"][0]["text"] for e in events if e.get("choices"))
    assert text == j["choices"][0]["text"], (text, j)
    fins = [e["choices"][0]["finish_reason"] for e in events if e.get("choices") and e["choices"][0]["finish_reason"]]
    assert fins == [j["choices"][0]["finish_reason"]], fins
    # chat streaming
    cb = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 20, "guided_choice": ["on", "off"]}
    st, events, done = d.stream("/v1/chat/completions", cb)
    assert st == 200 and done
    text = "".join(e["choices"][0]["delta"].get("content") or "" for e in events if e.get("choices"))
    assert text in ("on", "off"), text


@test
def logprobs_are_of_the_constrained_distribution(d):
    opts = ["alpha", "beta", "gamma"]
    t, f, c = complete(d, {"max_tokens": 10, "logprobs": 20, "guided_choice": opts, "temperature": 0})
    assert t in opts, t
    first = c["logprobs"]["top_logprobs"][0]
    # only tokens that begin an option are alternatives, and they carry all the mass
    assert all(any(o.startswith(tok) for o in opts) for tok in first), first
    total = sum(2.718281828459045 ** lp for lp in first.values())
    assert abs(total - 1) < 1e-3, (first, total)
    # greedy is the most likely allowed token
    assert c["logprobs"]["token_logprobs"][0] == max(first.values()), c["logprobs"]
    # a complete output that nothing but EOS could continue ends there, without an EOS token
    assert "".join(c["logprobs"]["tokens"]) == t and f == "stop", c["logprobs"]


@test
def mixed_concurrent_batch(d):
    """Different constraints, adapters and plain requests in the same steps."""
    def one(i):
        kind = i % 5
        model = ADAPTERS[i % 3]
        if kind == 0:
            t, f, _ = complete(d, {"max_tokens": 100, "seed": i, "response_format": {
                "type": "json_schema", "json_schema": {"name": "m", "schema": SCHEMAS[1]}}}, model=model)
            if f == "stop":
                jsonschema.validate(json.loads(t), SCHEMAS[1])
        elif kind == 1:
            t, f, _ = complete(d, {"max_tokens": 30, "seed": i, "guided_regex": "[0-9]{3}-[a-z]{2}"}, model=model)
            assert f == "stop" and re.fullmatch("[0-9]{3}-[a-z]{2}", t), (t, f)
        elif kind == 2:
            t, f, _ = complete(d, {"max_tokens": 10, "seed": i, "guided_choice": ["left", "right"]}, model=model)
            assert t in ("left", "right"), t
        elif kind == 3:
            t, f, _ = complete(d, {"max_tokens": 40, "seed": i, "grammar": ARITH}, model=model)
            assert f == "length" or parse_arith(t), t
        else:
            t, f, _ = complete(d, {"max_tokens": 12, "seed": i}, model=model)  # plain
            assert f in ("stop", "length")
        return True
    assert all(run_parallel(one, [(i,) for i in range(15)]))


@test
def qwen2_tokenizer_and_chatml():
    """Another model, tokenizer and chat template (Qwen2: biases, tied embeddings, ChatML's
    <|im_end|> as the end of turn, allowed only when the output is complete)."""
    d = Daemon(model="qwen2-tiny", chat_template="chatml")
    try:
        outs = []
        for seed in range(4):
            t, f, _ = complete(d, {"max_tokens": 160, "seed": seed, "temperature": 0.8, "response_format": {
                "type": "json_schema", "json_schema": {"name": "q", "schema": SCHEMAS[1]}}}, chat=seed % 2 == 0,
                model="lora-qv-r4" if seed == 3 else None)
            outs.append((t, f))
        check_finished(outs, lambda t: jsonschema.validate(json.loads(t), SCHEMAS[1]), 2)
        t, f, _ = complete(d, {"max_tokens": 20, "guided_choice": ["ja", "nein"]}, chat=True)
        assert f == "stop" and t in ("ja", "nein"), (t, f)
        t, f, _ = complete(d, {"max_tokens": 20, "guided_regex": "[A-F]{4}"})
        assert f == "stop" and re.fullmatch("[A-F]{4}", t), (t, f)
    finally:
        assert d.stop() == 0


@test
def refusals_are_400(d):
    cases = [
        ({"guided_regex": "a", "guided_choice": ["a"]}, "guided_choice"),
        ({"response_format": {"type": "json_object"}, "grammar": "root ::= \"a\""}, "grammar"),
        ({"response_format": {"type": "xml"}}, "response_format"),
        ({"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {
            "type": "string", "not": {"const": "a"}}}}}, "'not'"),
        ({"json_schema": {"type": "object", "patternProperties": {}}}, "patternProperties"),
        ({"guided_regex": "(a)\\1"}, "backreference"),
        ({"guided_regex": "(?=a)b"}, "lookahead"),
        ({"grammar": "root ::= root \"a\" | \"a\""}, "left-recursive"),
        ({"grammar": "root ::= undefined_rule"}, "undefined_rule"),
        ({"guided_choice": []}, "guided_choice"),
        ({"guided_choice": [1, 2]}, "guided_choice"),
        ({"structured_outputs": {"structural_tag": "x"}}, "structural_tag"),
        ({"guided_json": "{not json"}, "not valid JSON"),
        ({"guided_regex": "a{1,100000}"}, "2000"),
        ({"json_schema": {"type": "string", "format": "hostname"}}, "hostname"),
    ]
    for extra, needle in cases:
        body = dict({"prompt": "x", "max_tokens": 5}, **extra)
        st, j, _ = d.post("/v1/completions", body)
        assert st == 400, (extra, st, j)
        assert needle in json.dumps(j), (needle, j)
    # hostile: deep nesting, a huge alternation; the daemon stays up
    deep = {}
    cur = deep
    for _ in range(200):
        cur["type"] = "array"
        cur["items"] = {}
        cur = cur["items"]
    st, j, _ = d.post("/v1/completions", {"prompt": "x", "max_tokens": 5, "json_schema": deep})
    assert st == 400 and "nested" in j["error"]["message"], j
    st, j, _ = d.post("/v1/completions", {"prompt": "x", "max_tokens": 5, "guided_regex": "(" * 5000 + ")" * 5000})
    assert st == 400, j
    st, j, _ = d.post("/v1/completions", {"prompt": "x", "max_tokens": 5,
                                           "guided_regex": "|".join("w%d" % i for i in range(20000))})
    assert st in (200, 400), j
    assert d.get("/health")[0] == 200


if __name__ == "__main__":
    main()
