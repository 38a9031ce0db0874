"""Completions over HTTP: golden greedy outputs, streaming, sampling, stops, logprobs, chat."""
import os

from harness import Daemon, FIXTURES, expected, fixture_adapters, main, test

EXP = expected()["models"]


def golden(d, model_key, base_case="base"):
    """expected.json's greedy continuations of its prompts (BOS included)."""
    exp = EXP[model_key]
    bad = []
    for case, data in exp["cases"].items():
        if case.startswith("base") and case != base_case:
            continue
        if not case.startswith("base") and case not in d.adapters:
            continue
        name = d.model if case == base_case else case
        for i, prompt in enumerate(exp["prompts"]):
            want = data["greedy"][i]
            got, _ = d.complete_ids(name, prompt, len(want))
            if got != want:
                bad.append("%s/%s prompt %d: got %s want %s" % (model_key, case, i, got, want))
    assert not bad, "\n".join(bad)


@test
def golden_llama_tiny(d):
    golden(d, "llama-tiny")


@test
def golden_llama_tiny_bf16():
    d = Daemon(model="llama-tiny-bf16", adapters={})
    try:
        golden(d, "llama-tiny", base_case="base-bf16")
    finally:
        assert d.stop() == 0


@test
def golden_qwen2_tiny():
    d = Daemon(model="qwen2-tiny", chat_template="chatml")
    try:
        golden(d, "qwen2-tiny")
    finally:
        assert d.stop() == 0


@test
def models_lists_base_and_adapters(d):
    st, _, body = d.request("GET", "/v1/models")
    assert st == 200
    import json
    data = json.loads(body)["data"]
    ids = [m["id"] for m in data]
    assert ids[0] == "llama-tiny", ids
    assert sorted(ids[1:]) == sorted(fixture_adapters()), ids
    assert all(m["parent"] == "llama-tiny" for m in data[1:]), data
    assert data[0]["parent"] is None and data[0]["object"] == "model"


@test
def tokenize_matches_fixture_prompts(d):
    exp = EXP["llama-tiny"]
    for text, ids in zip(exp["prompts_text"], exp["prompts"]):
        st, j, _ = d.post("/tokenize", {"prompt": text})
        assert st == 200 and j["tokens"] == ids, (text, j, ids)
        assert j["count"] == len(ids) and j["max_model_len"] == 512
        st, j, _ = d.post("/detokenize", {"tokens": ids[1:]})
        assert st == 200 and j["prompt"] == text, (j, text)


@test
def text_prompt_equals_token_prompt(d):
    exp = EXP["llama-tiny"]
    a, ja = d.complete_ids("lora-qv-r4", exp["prompts_text"][1], 8)
    b, jb = d.complete_ids("lora-qv-r4", exp["prompts"][1], 8)
    assert a == b, (a, b)
    assert ja["choices"][0]["text"] == jb["choices"][0]["text"]
    assert ja["usage"] == {"prompt_tokens": len(exp["prompts"][1]), "completion_tokens": 8,
                           "total_tokens": len(exp["prompts"][1]) + 8}, ja["usage"]


@test
def streaming_equals_non_streaming(d):
    for model in ["llama-tiny", "symlora-all-r4"]:
        for prompt in ["The base model", "Each tenant uploads an adapter"]:
            body = dict(model=model, prompt=prompt, max_tokens=24, temperature=0, ignore_eos=True)
            st, j, _ = d.post("/v1/completions", body)
            assert st == 200, j
            st, events, done = d.stream("/v1/completions", dict(body, stream_options={"include_usage": True}))
            assert st == 200 and done, (st, events)
            text = "".join(e["choices"][0]["text"] for e in events if e["choices"])
            assert text == j["choices"][0]["text"], (text, j)
            fins = [e["choices"][0]["finish_reason"] for e in events if e["choices"]]
            assert fins[-1] == "length" and all(f is None for f in fins[:-1]), fins
            assert events[-1]["choices"] == [] and events[-1]["usage"] == j["usage"], events[-1]
            assert len({e["id"] for e in events}) == 1


@test
def chat_streaming_equals_non_streaming(d):
    body = dict(model="lora-all-r8", messages=[{"role": "system", "content": "Be brief."},
                                               {"role": "user", "content": "Hello there"}],
                max_tokens=16, temperature=0)
    st, j, _ = d.post("/v1/chat/completions", body)
    assert st == 200, j
    assert j["object"] == "chat.completion" and j["choices"][0]["message"]["role"] == "assistant"
    st, events, done = d.stream("/v1/chat/completions", body)
    assert st == 200 and done
    assert events[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}, events[0]
    text = "".join(e["choices"][0]["delta"].get("content", "") for e in events)
    assert text == j["choices"][0]["message"]["content"], (text, j)
    assert events[-1]["choices"][0]["finish_reason"] == j["choices"][0]["finish_reason"]
    # The chat prompt is the llama3 template, tokenized without an extra BOS.
    st, t, _ = d.post("/tokenize", {"messages": body["messages"]})
    assert st == 200 and t["count"] == j["usage"]["prompt_tokens"], (t, j["usage"])


@test
def seed_reproducible_sampling(d):
    body = dict(model="symlora-qo-r8", prompt="The base model stays", max_tokens=20, temperature=1.0, top_p=0.95,
                top_k=50, seed=1234, ignore_eos=True, logprobs=0, return_tokens_as_token_ids=True)
    runs = [d.post("/v1/completions", body)[1]["choices"][0]["logprobs"]["tokens"] for _ in range(3)]
    assert runs[0] == runs[1] == runs[2], runs
    other = d.post("/v1/completions", dict(body, seed=99))[1]["choices"][0]["logprobs"]["tokens"]
    assert other != runs[0], "a different seed should (almost surely) give different tokens"
    # Streaming uses the same sampler: same seed, same tokens.
    st, events, _ = d.stream("/v1/completions", body)
    streamed = [t for e in events if e["choices"] for t in e["choices"][0]["logprobs"]["tokens"]]
    assert streamed == runs[0], (streamed, runs[0])


@test
def stop_strings_cut_the_text(d):
    body = dict(model="llama-tiny", prompt="Each tenant", max_tokens=40, temperature=0, ignore_eos=True)
    full = d.post("/v1/completions", body)[1]["choices"][0]["text"]
    assert len(full) > 6, full
    stop = full[3:6]
    cut = full[:full.index(stop)]
    st, j, _ = d.post("/v1/completions", dict(body, stop=[stop, "\u2603never"]))
    assert st == 200 and j["choices"][0]["text"] == cut, (j, cut, stop)
    assert j["choices"][0]["finish_reason"] == "stop"
    st, events, _ = d.stream("/v1/completions", dict(body, stop=stop))
    assert "".join(e["choices"][0]["text"] for e in events) == cut
    assert events[-1]["choices"][0]["finish_reason"] == "stop"


@test
def logprobs_shape(d):
    st, j, _ = d.post("/v1/completions", dict(model="llama-tiny", prompt=[0, 735], max_tokens=4, temperature=0,
                                              logprobs=3, ignore_eos=True))
    assert st == 200, j
    lp = j["choices"][0]["logprobs"]
    assert len(lp["tokens"]) == len(lp["token_logprobs"]) == len(lp["top_logprobs"]) == 4, lp
    for tok, l, top in zip(lp["tokens"], lp["token_logprobs"], lp["top_logprobs"]):
        assert l <= 0 and len(top) >= 3 and abs(max(top.values()) - l) < 1e-5, (tok, l, top)  # greedy: the best
    st, j, _ = d.post("/v1/chat/completions", dict(model="llama-tiny", messages=[{"role": "user", "content": "x"}],
                                                   max_tokens=3, temperature=0, logprobs=True, top_logprobs=2))
    content = j["choices"][0]["logprobs"]["content"]
    assert len(content) == 3 and all(len(c["top_logprobs"]) == 2 and "bytes" in c for c in content), content


@test
def eos_stops_with_finish_stop():
    # The fixture's EOS is token 1 of llama-tiny: a prompt that ends before it still generates
    # until max_tokens with ignore_eos, and the engine reports "length" then.
    d = Daemon(adapters={}, args=["--max-model-len", "64"])
    try:
        st, j, _ = d.post("/v1/completions", dict(prompt=[0] * 60, max_tokens=4, temperature=0, ignore_eos=True))
        assert st == 200 and j["choices"][0]["finish_reason"] == "length", j
        st, j, _ = d.post("/v1/completions", dict(prompt=[0] * 60, max_tokens=5))
        assert st == 400 and j["error"]["code"] == "context_length_exceeded", j
        st, j, _ = d.post("/v1/completions", dict(prompt=[0] * 62))  # default max_tokens shrinks to fit
        assert st == 200 and j["usage"]["completion_tokens"] <= 2, j
    finally:
        assert d.stop() == 0


if __name__ == "__main__":
    os.chdir(os.path.dirname(os.path.abspath(__file__)))
    main()
