"""Continuous batching: concurrent streams over many adapters give exactly their solo results."""
import os

from harness import Daemon, expected, main, run_parallel, test

MODELS = ["llama-tiny", "lora-all-r8", "lora-qv-r4", "symlora-qo-r8", "symlora-all-r4"]
PROMPTS = expected()["models"]["llama-tiny"]["prompts"] + [
    [0] + [(17 * i) % 1000 + 2 for i in range(150)],  # longer than a prefill chunk: prefilled in pieces
]


def daemon():
    # Small steps so that prefill is chunked and decode and prefill share steps; a short pause
    # per step so that the 32 requests really overlap.
    return Daemon(args=["--max-batch-tokens", "48", "--prefill-chunk", "16", "--max-running", "32",
                        "--step-delay-ms", "2"])


def stream_tokens(d, body):
    st, events, done = d.stream("/v1/completions", body)
    assert st == 200 and done, (st, events)
    toks = []
    for e in events:
        if e["choices"] and e["choices"][0]["logprobs"]:
            toks += [int(t.split(":")[1]) for t in e["choices"][0]["logprobs"]["tokens"]]
    fin = [e["choices"][0]["finish_reason"] for e in events if e["choices"]][-1]
    return toks, fin


def jobs():
    out = []
    for i in range(32):
        body = dict(model=MODELS[i % len(MODELS)], prompt=PROMPTS[i % len(PROMPTS)], max_tokens=10 + (i % 7) * 3,
                    ignore_eos=True, logprobs=0, return_tokens_as_token_ids=True)
        if i % 4 == 3:  # some sample, with a seed: reproducible whatever shares the batch
            body.update(temperature=0.8, top_p=0.9, seed=1000 + i)
        else:
            body.update(temperature=0)
        out.append(body)
    return out


@test
def concurrent_streams_equal_solo(d):
    bodies = jobs()
    solo = [stream_tokens(d, b) for b in bodies]  # one at a time
    m0 = d.metrics()
    together = run_parallel(lambda b: stream_tokens(d, b), [(b,) for b in bodies])
    bad = ["request %d (%s): alone %s, batched %s" % (i, b["model"], s, t)
           for i, (b, s, t) in enumerate(zip(bodies, solo, together)) if s != t]
    assert not bad, "\n".join(bad)
    assert all(len(t) == b["max_tokens"] and f == "length" for (t, f), b in zip(together, bodies))
    m1 = d.metrics()
    # The batch really mixed sequences: some step ran more than 8 of them.
    steps = m1["symlora_batch_sequences_count"] - m0["symlora_batch_sequences_count"]
    small = m1['symlora_batch_sequences_bucket{le="8"}'] - m0['symlora_batch_sequences_bucket{le="8"}']
    assert steps > small, "no step ran more than 8 sequences (%d steps)" % steps
    assert d.wait_metric("symlora_num_requests_running", lambda v: v == 0) == 0
    assert d.wait_metric("symlora_kv_blocks_used", lambda v: v == 0) == 0


@test
def queue_full_gives_429():
    d = Daemon(adapters={}, args=["--max-running", "1", "--max-waiting", "1", "--step-delay-ms", "10",
                                  "--retry-after", "2"])
    try:
        body = dict(prompt=[0, 5, 6], max_tokens=20, temperature=0, ignore_eos=True)
        res = run_parallel(lambda: d.request("POST", "/v1/completions", body), [()] * 6)
        codes = sorted(r[0] for r in res)
        assert 429 in codes and 200 in codes, codes
        for st, h, data in res:
            if st == 429:
                assert h.get("retry-after") == "2", h
                import json
                err = json.loads(data)["error"]
                assert err["type"] == "rate_limit_error" and err["code"] == "queue_full", err
        assert d.get("/health")[0] == 200
        assert d.stop() == 0
    finally:
        d.cleanup()


if __name__ == "__main__":
    os.chdir(os.path.dirname(os.path.abspath(__file__)))
    main(daemon)
