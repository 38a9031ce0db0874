"""The scheduler through HTTP: prefix caching (hits counted, outputs equal with and without it,
never across tenants or adapter versions), preemption under a small KV pool with every stream
equal to its solo run, vLLM's priority and cache_salt fields, per-tenant limits (429 with
Retry-After), and the metrics a gateway routes on (names only for admins or --metrics-names)."""
import hashlib
import json
import os
import tempfile

from harness import Daemon, expected, fixture_adapters, main, run_parallel, test, token_ids

EXP = expected()["models"]["llama-tiny"]
FIX = fixture_adapters()
KEYS = {"alice": "sk-alice-sched-0123", "bob": "sk-bob-sched-4567", "root": "sk-root-sched-89ab"}


def keyfile():
    path = os.path.join(tempfile.mkdtemp(prefix="symlora-sched-"), "api-keys")
    with open(path, "w") as f:
        for who, role, weight in (("alice", "tenant", 3), ("bob", "tenant", 1), ("root", "admin", 1)):
            f.write("%s %s %s %d\n" % (hashlib.sha256(KEYS[who].encode()).hexdigest(), who, role, weight))
    os.chmod(path, 0o600)
    return path


def auth(who):
    return {"Authorization": "Bearer " + KEYS[who]}


def finish(*daemons):
    """Each daemon exits 0 on SIGTERM with nothing from the sanitizers in its log."""
    for d in daemons:
        rc = d.stop()
        bad = [l for l in d.log_text().splitlines() if "Sanitizer" in l or "runtime error" in l]
        assert rc == 0 and not bad, (rc, bad[:5])


def long_prompt(seed, n=80):
    return [0] + [(i * 53 + seed * 97) % 1000 + 3 for i in range(1, n)]


def complete(d, who, model, prompt, n=8, **kw):
    body = dict(model=model, prompt=prompt, max_tokens=n, temperature=0, logprobs=0, return_tokens_as_token_ids=True,
                ignore_eos=True)
    body.update(kw)
    st, h, data = d.request("POST", "/v1/completions", body, headers=auth(who) if who else None)
    j = json.loads(data)
    return st, (token_ids(j["choices"][0]["logprobs"]["tokens"]) if st == 200 else j), h


@test
def prefix_cache_hits_equal_outputs_and_isolation():
    d = Daemon(adapters={"a": FIX["symlora-qo-r8"]}, args=["--api-keys", keyfile(), "--prefill-chunk", "24"])
    off = Daemon(adapters={"a": FIX["symlora-qo-r8"]}, args=["--no-prefix-cache"])
    try:
        p = long_prompt(1)
        m0 = d.metrics()
        st, first, _ = complete(d, "alice", "a", p)
        assert st == 200, first
        m1 = d.metrics()
        st, again, _ = complete(d, "alice", "a", p)
        m2 = d.metrics()
        assert again == first
        assert m1["symlora_prefix_cache_hits_total"] == m0["symlora_prefix_cache_hits_total"]
        assert m2["symlora_prefix_cache_hits_total"] - m1["symlora_prefix_cache_hits_total"] == 64  # 4 of 5 blocks
        assert m2["vllm:prefix_cache_queries_total"] - m1["vllm:prefix_cache_queries_total"] == 80
        # Another tenant, the base model, a cache salt: no hit, same tokens where the model is the same.
        for who, model, kw in (("bob", "a", {}), ("alice", "llama-tiny", {}), ("alice", "a", {"cache_salt": "s"})):
            before = d.metrics()["symlora_prefix_cache_hits_total"]
            st, out, _ = complete(d, who, model, p, **kw)
            assert st == 200, out
            assert d.metrics()["symlora_prefix_cache_hits_total"] == before, (who, model, kw)
            if model == "a":
                assert out == first
        # Without the cache: the same tokens and no hit.
        st, plain, _ = complete(off, None, "a", p)
        assert plain == first and off.metrics()["symlora_prefix_cache_hits_total"] == 0
        finish(d, off)
    finally:
        d.cleanup()
        off.cleanup()


@test
def memory_pressure_every_stream_equals_its_solo_run():
    # 16 streams of up to 100 positions on 28 blocks of 16: room for 4 whole sequences.
    d = Daemon(adapters={"a": FIX["lora-all-r8"]},
               args=["--kv-blocks", "28", "--max-running", "16", "--max-batch-tokens", "64", "--prefill-chunk", "32",
                     "--step-delay-ms", "5"])  # steps last: the 16 streams overlap however fast the kernels are
    try:
        prompts = [long_prompt(i, 20 + (i * 7) % 40) for i in range(16)]
        models = ["a" if i % 2 else "llama-tiny" for i in range(16)]
        solo = [complete(d, None, models[i], prompts[i], 40)[1] for i in range(16)]
        res = run_parallel(lambda i: complete(d, None, models[i], prompts[i], 40), [(i,) for i in range(16)])
        for i, (st, out, _) in enumerate(res):
            assert st == 200 and out == solo[i], (i, st)
        assert d.metrics()["vllm:num_preemptions_total"] > 0
        finish(d)
    finally:
        d.cleanup()


@test
def max_tokens_reserves_nothing():
    """A pool of 40 blocks of 16 (1.25 contexts of 512) runs 4 requests that may each grow to the
    whole context at once: blocks are taken as tokens come."""
    d = Daemon(adapters={}, args=["--kv-blocks", "40", "--max-tokens", "0", "--step-delay-ms", "10"])
    conns = []
    try:
        body = json.dumps(dict(model="llama-tiny", prompt=long_prompt(6, 10), max_tokens=500, stream=True,
                               ignore_eos=True)).encode()
        for _ in range(4):  # streams, so that closing them cancels the requests
            c = d.conn()
            c.request("POST", "/v1/completions", body=body, headers={"Content-Type": "application/json"})
            conns.append(c)
        most = d.wait_metric("vllm:num_requests_running", lambda v: v == 4)
        m = d.metrics()
        assert most == 4 and m["vllm:num_requests_waiting"] == 0, (most, m["vllm:num_requests_waiting"])
        assert m["vllm:kv_cache_usage_perc"] < 0.5, m["vllm:kv_cache_usage_perc"]
        for c in conns:
            assert c.getresponse().status == 200
            c.close()
        assert d.wait_metric("vllm:num_requests_running", lambda v: v == 0) == 0
        finish(d)
    finally:
        for c in conns:
            c.close()
        d.cleanup()


@test
def priority_and_cache_salt_fields():
    d = Daemon(adapters={})
    try:
        p = long_prompt(3, 10)
        for body, field in ((dict(priority="high"), "priority"), (dict(priority=1.5), "priority"),
                            (dict(priority=2 ** 40), "priority"), (dict(cache_salt=""), "cache_salt"),
                            (dict(cache_salt=7), "cache_salt")):
            st, j, _ = complete(d, None, "llama-tiny", p, **body)
            assert st == 400 and j["error"]["param"] == field, (body, st, j)
        st, a, _ = complete(d, None, "llama-tiny", p, priority=-5, cache_salt="tenant-secret")
        st2, b, _ = complete(d, None, "llama-tiny", p)
        assert st == 200 and st2 == 200 and a == b
        finish(d)
    finally:
        d.cleanup()


@test
def tenant_limits_429_and_metrics_names():
    d = Daemon(adapters={}, args=["--api-keys", keyfile(), "--max-running", "1", "--tenant-max-waiting", "1",
                                  "--tenant-max-inflight", "2", "--step-delay-ms", "10", "--retry-after", "4"])
    stream = None
    try:
        p = long_prompt(4, 10)
        stream = open_stream(d, "llama-tiny", p, who="alice")  # runs until we close it
        assert d.wait_metric("vllm:num_requests_running", lambda v: v == 1) == 1
        import threading
        res = [None] * 5

        def one(i, who):
            res[i] = complete(d, who, "llama-tiny", p, 4)
        ts = [threading.Thread(target=one, args=(i, "alice" if i < 4 else "bob")) for i in range(5)]
        for t in ts:
            t.start()
        # Alice has one running and may have one waiting: of her four, one waits, three get 429 at once.
        assert d.wait_metric("vllm:num_requests_waiting", lambda v: v == 2) == 2  # alice's one and bob's
        st, _, data = d.request("GET", "/metrics", headers=auth("root"))  # the admin view, the stream still running
        text = data.decode()
        assert 'symlora_tenant_weight{tenant="alice"} 3' in text, text
        assert 'symlora_tenant_requests_running{tenant="alice"} 1' in text
        assert 'symlora_tenant_requests_waiting{tenant="bob"} 1' in text
        stream.close()  # cancels it: the waiting ones run
        stream = None
        for t in ts:
            t.join()
        codes = [r[0] for r in res[:4]]
        assert codes.count(429) == 3 and codes.count(200) == 1, codes
        for st, j, h in res[:4]:
            if st != 200:
                assert st == 429 and h.get("retry-after") == "4" and "tenant 'alice'" in j["error"]["message"], (st, j)
        assert res[4][0] == 200  # bob is not held back by alice's limits
        st, _, data = d.request("GET", "/metrics", headers=auth("root"))
        assert b'symlora_tenant_rejected_total{tenant="alice"} 3' in data
        # /metrics without a key: aggregates and the vLLM aliases, no names.
        st, _, data = d.request("GET", "/metrics")
        text = data.decode()
        for name in ("vllm:num_requests_running", "vllm:num_requests_waiting", "vllm:kv_cache_usage_perc",
                     "vllm:lora_requests_info{", "symlora_preemptions_total"):
            assert name in text, name
        assert "alice" not in text and "bob" not in text
        st, _, data = d.request("GET", "/metrics", headers=auth("root"))
        assert b'symlora_tenant_tokens_total{tenant="bob"}' in data
        st, _, data = d.request("GET", "/metrics", headers=auth("bob"))  # a tenant's key is not enough
        assert b"alice" not in data
        finish(d)
    finally:
        if stream:
            stream.close()
        d.cleanup()


def open_stream(d, model, prompt, who=None, max_tokens=500):
    """Starts a streaming completion and returns its connection (close it to cancel)."""
    c = d.conn()
    h = {"Content-Type": "application/json"}
    h.update(auth(who) if who else {})
    c.request("POST", "/v1/completions", headers=h,
              body=json.dumps(dict(model=model, prompt=prompt, max_tokens=max_tokens, stream=True, ignore_eos=True)).encode())
    return c


@test
def lora_requests_info_lists_adapters_with_metrics_names():
    d = Daemon(adapters={"a": FIX["lora-all-r8"]}, args=["--metrics-names", "--step-delay-ms", "10", "--max-running", "1"])
    streams = []
    try:
        streams.append(open_stream(d, "a", long_prompt(5, 10)))
        assert d.wait_metric("vllm:num_requests_running", lambda v: v == 1) == 1
        streams.append(open_stream(d, "llama-tiny", long_prompt(6, 10)))  # waits: the base model has no name
        streams.append(open_stream(d, "a", long_prompt(7, 10)))
        assert d.wait_metric("vllm:num_requests_waiting", lambda v: v == 2) == 2
        st, _, data = d.request("GET", "/metrics")
        line = [l for l in data.decode().splitlines() if l.startswith("vllm:lora_requests_info{")][0]
        assert 'running_lora_adapters="a",waiting_lora_adapters="a",max_lora="1"' in line, line
        for c in streams:
            c.close()
        assert d.wait_metric("vllm:num_requests_waiting", lambda v: v == 0) == 0
        finish(d)
    finally:
        for c in streams:
            c.close()
        d.cleanup()


if __name__ == "__main__":
    os.chdir(os.path.dirname(os.path.abspath(__file__)))
    main()
