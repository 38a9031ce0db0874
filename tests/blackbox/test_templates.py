"""test_templates.py — chat templates through a real symlorad: the corpus of
tests/fixtures/chat (21 real Hugging Face templates x 24 conversations, expected renders made
with jinja2 in transformers' environment) through POST /apply-template, one daemon per
template (--chat-template FILE), all started at once; then /tokenize with messages, chat
completions with the template, chat_template_kwargs, continue_final_message, and a template
that does not parse (reported at start with its line, 400 on chat).

The daemons run the qwen2-tiny fixture (no bos_token, like Qwen's tokenizers); each case passes
the corpus's special tokens as chat_template_kwargs, as render.py passes them to jinja2.
SOURCE_DATE_EPOCH pins strftime_now to the corpus's date (2026-07-26).
"""
import json
import os
import threading

from harness import Daemon, FIXTURES, main, test

CHAT = os.path.join(FIXTURES, "chat")
CORPUS_EPOCH = "1785024000"


def load(name):
    with open(os.path.join(CHAT, name), encoding="utf-8") as f:
        return json.load(f)


CASES, EXPECTED, TOKENS = load("cases.json"), load("expected.json"), load("tokens.json")


def start_all(names, model="qwen2-tiny"):
    """One daemon per template file, started in parallel (the test stays fast)."""
    daemons, errors = {}, []
    os.environ["SOURCE_DATE_EPOCH"] = CORPUS_EPOCH  # inherited by the daemons

    def one(name):
        try:
            daemons[name] = Daemon(model=model, adapters={},
                                   chat_template=os.path.join(CHAT, "templates", name + ".jinja"))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append("%s: %s" % (name, e))

    threads = [threading.Thread(target=one, args=(n,)) for n in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    del os.environ["SOURCE_DATE_EPOCH"]
    if errors:
        stop_all(daemons)
        raise AssertionError("\n".join(errors))
    return daemons


def stop_all(daemons):
    for d in daemons.values():
        d.stop()


def body_of(tmpl, case):
    kwargs = {k: v for k, v in TOKENS[tmpl].items() if k.endswith("_token") and v is not None}
    kwargs.update(case.get("extra", {}))
    body = {"messages": case["messages"], "add_generation_prompt": case["add_generation_prompt"],
            "chat_template_kwargs": kwargs}
    if case.get("tools") is not None:
        body["tools"] = case["tools"]
    return body


@test
def corpus_through_apply_template():
    names = sorted(EXPECTED)
    daemons = start_all(names)
    try:
        passed, bad = 0, []
        for tmpl in names:
            d = daemons[tmpl]
            assert "chat template: " + os.path.join(CHAT, "templates", tmpl + ".jinja") in d.log_text()
            for case in CASES:
                want = EXPECTED[tmpl][case["name"]]
                st, j, raw = d.post("/apply-template", body_of(tmpl, case))
                if "text" in want:
                    ok = st == 200 and j.get("prompt") == want["text"]
                else:
                    ok = st == 400 and j["error"]["code"] == "invalid_value" and (
                        want["kind"] != "raise_exception" or j["error"]["message"] == "chat template: " + want["error"])
                if ok:
                    passed += 1
                else:
                    bad.append("%s / %s: %d %s" % (tmpl, case["name"], st, raw[:300]))
        print("    /apply-template: %d/%d as jinja2" % (passed, len(names) * len(CASES)))
        assert passed == 504 and not bad, "\n".join(bad[:10])
        # /tokenize with messages tokenizes exactly what /apply-template renders
        d = daemons["Qwen-Qwen2.5-7B-Instruct"]
        case = CASES[3]
        st, j, _ = d.post("/apply-template", body_of("Qwen-Qwen2.5-7B-Instruct", case))
        st2, t1, _ = d.post("/tokenize", dict(body_of("Qwen-Qwen2.5-7B-Instruct", case)))
        st3, t2, _ = d.post("/tokenize", {"prompt": j["prompt"], "add_special_tokens": False})
        assert st == st2 == st3 == 200 and t1["tokens"] == t2["tokens"] and t1["count"] > 10, (t1, t2)
    finally:
        stop_all(daemons)


@test
def chat_with_a_real_template():
    """llama-tiny with the real Llama 3.1 template."""
    d = Daemon(adapters={}, chat_template=os.path.join(CHAT, "templates", "meta-llama-Llama-3.1-8B-Instruct.jinja"))
    try:
        llama31(d)
        assert d.stop() == 0
    finally:
        d.cleanup()


def llama31(d):
    msgs = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    st, j, _ = d.post("/apply-template", {"messages": msgs})
    assert st == 200 and j["prompt"].startswith("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
                                                "Cutting Knowledge Date: December 2023\n"), j
    assert j["prompt"].endswith("<|start_header_id|>assistant<|end_header_id|>\n\n"), j
    st, n, _ = d.post("/apply-template", {"messages": msgs, "add_generation_prompt": False})
    assert st == 200 and n["prompt"] + "<|start_header_id|>assistant<|end_header_id|>\n\n" == j["prompt"]
    # the chat's prompt is the rendered text: usage counts its tokens
    st, t, _ = d.post("/tokenize", {"prompt": j["prompt"], "add_special_tokens": False})
    st2, c, _ = d.post("/v1/chat/completions", {"messages": msgs, "max_tokens": 2, "temperature": 0})
    assert st == st2 == 200 and c["usage"]["prompt_tokens"] == t["count"], (t, c)
    # chat_template_kwargs reach the template (the Llama 3.1 template's date_string)
    st, k, _ = d.post("/apply-template", {"messages": msgs, "chat_template_kwargs": {"date_string": "1 Jan 2030"}})
    assert st == 200 and "Today Date: 1 Jan 2030\n" in k["prompt"], k
    # continue_final_message: the prompt ends right after the last message's text
    part = msgs + [{"role": "assistant", "content": "The answer is"}]
    st, k, _ = d.post("/apply-template", {"messages": part, "continue_final_message": True,
                                          "add_generation_prompt": False})
    assert st == 200 and k["prompt"].endswith("<|start_header_id|>assistant<|end_header_id|>\n\nThe answer is"), k
    # the template's own refusal (raise_exception) is a 400 with its message
    st, e, _ = d.post("/apply-template", {"messages": [{"role": "user", "content": "a"}],
                                          "tools": [{"type": "function", "function": {"name": "f"}}]})
    assert st == 200, e  # tools are rendered into the first user message
    st, e, _ = d.post("/v1/chat/completions", {"messages": [{"role": "user", "content": [{"type": "image_url"}]}]})
    assert st == 400 and "only parts of type 'text'" in e["error"]["message"], e


@test
def requests_the_server_refuses(d):
    cases = [
        ({"messages": []}, "messages"),
        ({"messages": "hi"}, "messages"),
        ({"messages": [{"content": "x"}]}, "messages"),
        ({"messages": [{"role": "user", "content": "x"}], "chat_template_kwargs": [1]}, "chat_template_kwargs"),
        ({"messages": [{"role": "user", "content": "x"}], "tools": {"a": 1}}, "tools"),
        ({"messages": [{"role": "user", "content": "x"}], "chat_template": "{{ 1 }}"}, "chat_template"),
        ({"messages": [{"role": "user", "content": "x"}], "continue_final_message": True,
          "add_generation_prompt": True}, "continue_final_message"),
    ]
    for body, param in cases:
        st, j, _ = d.post("/apply-template", body)
        assert st == 400 and j["error"]["param"] == param, (body, j)


@test
def a_template_that_does_not_parse():
    import tempfile
    tmp = tempfile.mkdtemp(prefix="symlorad-tmpl-")
    path = os.path.join(tmp, "bad.jinja")
    with open(path, "w") as f:
        f.write("{% for m in messages %}\n{{ m.content }}\n{% endfor\n")
    d = Daemon(adapters={}, chat_template=path)
    try:
        log = d.log_text()
        assert "bad.jinja: line 3" in log, log
        for route in ["/v1/chat/completions", "/apply-template"]:
            st, j, _ = d.post(route, {"messages": [{"role": "user", "content": "x"}]})
            assert st == 400 and j["error"]["code"] == "no_chat_template" and "line 3" in j["error"]["message"], j
        st, j, _ = d.post("/v1/completions", {"prompt": "x", "max_tokens": 1})
        assert st == 200, j
        assert d.stop() == 0
    finally:
        d.cleanup()


if __name__ == "__main__":
    os.chdir(os.path.dirname(os.path.abspath(__file__)))
    main()
