#!/usr/bin/env python3
"""tests/soak/soak.py — the soak of issue 9 (`make soak SOAK_SECONDS=N`, under the sanitizer
build): 64 concurrent token streams over many adapters for N seconds, with uploads,
replacements and deletes running beside them, against one real symlorad.

Checked, and printed as "N passed, N failed" on the last line:
  1. every stream ends with 200, [DONE] and all its tokens (404 only for an adapter deleted
     under it); nothing is refused;
  2. the streams on pinned adapters (never replaced) give exactly the golden greedy tokens;
  3. every upload and delete is acknowledged (200/201, 200/404);
  4. RSS is flat: the mean of the last samples is within 15% + 16 MiB of the RSS at the end of
     the warm-up (the first quarter, at least 10 s; ASan's quarantine is kept small so that it
     fills during the warm-up, not after);
  5. the daemon exits 0 on SIGTERM with no sanitizer report in its log (LeakSanitizer reports
     leaks at exit and turns the status non-zero).
Env: SL_BUILD (default build/asan), SL_SANITIZED. Standard library only."""
import argparse
import json
import os
import random
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "blackbox"))
os.environ.setdefault("SL_BUILD", "build/asan")
# Small quarantine and allocator caches: ASan's RSS then reaches its plateau during the warm-up.
os.environ["ASAN_OPTIONS"] = ":".join(filter(None, [os.environ.get("ASAN_OPTIONS", ""), "quarantine_size_mb=16",
                                                    "detect_leaks=1"]))

import harness  # noqa: E402
from harness import Daemon, expected, fixture_adapters, sse_events, token_ids  # noqa: E402
from test_adapters import files, prompts  # noqa: E402  (helpers only; its tests are not run)

FIX = fixture_adapters()
EXP = expected()["models"]["llama-tiny"]
STREAMS = 64
STABLE = ["s%02d" % i for i in range(12)]  # replaced now and then, never deleted
CHURN = ["c%02d" % i for i in range(4)]    # replaced and deleted
PINNED = {"pin-" + f: f for f in sorted(FIX)[:3]}


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def multipart_put(d, name, fix):
    c, w = files(fix)
    b = b"soak0boundary"
    body = b"".join(b"--" + b + b'\r\nContent-Disposition: form-data; name="' + n + b'"; filename="f"\r\n\r\n' + v + b"\r\n"
                    for n, v in ((b"config", c), (b"weights", w))) + b"--" + b + b"--\r\n"
    st, _, data = d.request("PUT", "/v1/adapters/" + name, body,
                            headers={"Content-Type": "multipart/form-data; boundary=" + b.decode()})
    return st, data


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.streams = self.tokens = self.deleted_404 = self.golden = 0
        self.errors = []
        self.golden_bad = []
        self.uploads = self.deletes = 0
        self.op_errors = []

    def error(self, what):
        with self.lock:
            if len(self.errors) < 20:
                self.errors.append(what)
            else:
                self.errors[-1] = "... and more: " + what


def stream_worker(d, stats, deadline, seed):
    rng = random.Random(seed)
    ps = prompts()
    while time.time() < deadline:
        r = rng.random()
        if r < 0.25:
            name = rng.choice(list(PINNED))
            k = rng.randrange(len(ps))
            want = EXP["cases"][PINNED[name]]["greedy"][k]
            n = len(want)
        else:
            name = rng.choice(STABLE + CHURN if r < 0.9 else ["llama-tiny"])
            k = rng.randrange(len(ps))
            want = None
            n = rng.randint(8, 40)
        body = dict(model=name, prompt=ps[k], max_tokens=n, temperature=0 if want else rng.choice([0, 0.8]),
                    logprobs=0, return_tokens_as_token_ids=True, ignore_eos=True, stream=True)
        try:
            c = d.conn(timeout=120)
            c.request("POST", "/v1/completions", body=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
            resp = c.getresponse()
            if resp.status != 200:
                data = resp.read()
                c.close()
                if resp.status == 404 and name in CHURN:
                    with stats.lock:
                        stats.deleted_404 += 1
                    continue
                stats.error("%s: status %d %s" % (name, resp.status, data[:200]))
                continue
            toks, done = [], False
            for ev in sse_events(resp):
                if ev == "[DONE]":
                    done = True
                    break
                j = json.loads(ev)
                if "error" in j:
                    stats.error("%s: error event %s" % (name, ev[:200]))
                    break
                lp = j["choices"][0].get("logprobs") if j.get("choices") else None
                if lp:
                    toks += token_ids(lp["tokens"])
            c.close()
        except Exception as e:  # noqa: BLE001
            stats.error("%s: %r" % (name, e))
            continue
        if not done or len(toks) != n:
            stats.error("%s: %d of %d tokens, done=%s" % (name, len(toks), n, done))
            continue
        with stats.lock:
            stats.streams += 1
            stats.tokens += n
            if want is not None:
                stats.golden += 1
                if toks != want and len(stats.golden_bad) < 5:
                    stats.golden_bad.append((name, k, toks, want))


def churn_worker(d, stats, deadline, seed):
    rng = random.Random(seed)
    fixes = sorted(FIX)
    while time.time() < deadline:
        try:
            if rng.random() < 0.3:
                name = rng.choice(CHURN)
                st, _, data = d.request("DELETE", "/v1/adapters/" + name)
                ok = st in (200, 404)
                with stats.lock:
                    stats.deletes += st == 200
            else:
                name = rng.choice(STABLE + CHURN)
                st, data = multipart_put(d, name, rng.choice(fixes))
                ok = st in (200, 201)
                with stats.lock:
                    stats.uploads += ok
            if not ok:
                with stats.lock:
                    stats.op_errors.append("%s: %d %s" % (name, st, data[:200]))
        except Exception as e:  # noqa: BLE001
            with stats.lock:
                stats.op_errors.append("%s: %r" % (name, e))
        time.sleep(rng.uniform(0.02, 0.1))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=float(os.environ.get("SOAK_SECONDS", 180)))
    args = ap.parse_args()
    dur = max(args.seconds, 20.0)
    warm = max(10.0, dur / 4)
    results = []

    def check(name, ok, detail=""):
        results.append(ok)
        print("%s %s%s" % ("ok  " if ok else "FAIL", name, (": " + detail) if detail and not ok else ""), flush=True)

    print("soak: %s, %d streams, %.0f s (warm-up %.0f s)" % (harness.DAEMON, STREAMS, dur, warm), flush=True)
    sizes = {f: len(files(f)[1]) for f in FIX}
    budget = sum(sorted(sizes.values())[-4:]) * 2  # room for a handful: loads and evictions go on all along
    d = Daemon(adapters={n: FIX[f] for n, f in PINNED.items()},
               args=["--max-running", "64", "--max-waiting", "256", "--adapter-cache-bytes", str(budget),
                     "--store-rescan-ms", "0"])
    try:
        for i, name in enumerate(STABLE + CHURN):
            st, data = multipart_put(d, name, sorted(FIX)[i % len(FIX)])
            assert st == 201, (name, st, data)
        stats = Stats()
        t0 = time.time()
        deadline = t0 + dur
        threads = [threading.Thread(target=stream_worker, args=(d, stats, deadline, 100 + i)) for i in range(STREAMS)]
        threads += [threading.Thread(target=churn_worker, args=(d, stats, deadline, 7 + i)) for i in range(2)]
        for t in threads:
            t.start()
        samples = []  # (seconds since start, RSS kB)
        while time.time() < deadline:
            time.sleep(1.0)
            samples.append((time.time() - t0, rss_kb(d.proc.pid)))
        for t in threads:
            t.join()
        m = d.metrics()
        took = time.time() - t0
        print("     %d streams (%d tokens, %.0f tokens/s), %d on pinned adapters checked against the golden tokens, "
              "%d found their adapter deleted; %d uploads, %d deletes; %d loads, %d evictions"
              % (stats.streams, stats.tokens, stats.tokens / took, stats.golden, stats.deleted_404, stats.uploads,
                 stats.deletes, m.get("symlora_adapter_cache_misses_total", 0), m.get("symlora_adapter_evictions_total", 0)),
              flush=True)
        check("streams: every one complete, none refused", not stats.errors and stats.streams > STREAMS,
              "; ".join(stats.errors[:5]))
        check("pinned adapters: golden tokens under load", stats.golden > 0 and not stats.golden_bad,
              repr(stats.golden_bad[:2]))
        check("uploads and deletes acknowledged", not stats.op_errors and stats.uploads > 0,
              "; ".join(stats.op_errors[:5]))
        at_warm = [kb for t, kb in samples if t <= warm]
        tail = [kb for t, kb in samples[-5:]]
        base = at_warm[-1] if at_warm else samples[0][1]
        end = sum(tail) / len(tail)
        limit = base * 1.15 + 16 * 1024
        print("     RSS: %.1f MB after %.0f s of warm-up, %.1f MB at the end (mean of the last %d s), peak %.1f MB; "
              "limit %.1f MB" % (base / 1024, warm, end / 1024, len(tail), max(kb for _, kb in samples) / 1024,
                                 limit / 1024), flush=True)
        check("RSS flat after the warm-up", end <= limit, "%.1f MB > %.1f MB" % (end / 1024, limit / 1024))
        rc = d.stop(timeout=120)
        log = d.log_text()
        bad = [line for line in log.splitlines() if "Sanitizer" in line or "runtime error" in line or "ERROR" in line]
        check("exit 0 on SIGTERM, no sanitizer report (leaks)", rc == 0 and not bad,
              "exit %s; %s" % (rc, "\n".join(bad[:20])))
    finally:
        d.cleanup()
    passed = sum(results)
    print("%d passed, %d failed" % (passed, len(results) - passed), flush=True)
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
