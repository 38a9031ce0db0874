"""harness.py — black-box tests against a real symlorad (Python 3 standard library only).

    from harness import Daemon, test, main
    @test
    def health(d): ...          # d: the shared daemon (started on first use)
    main()                       # runs the tests, prints "# N passed, N failed"

A Daemon starts symlorad from $SL_BUILD (default build/) on 127.0.0.1 with port 0, reads
the real port from its "listening on" log line, waits for /health, and keeps its log in a
temporary directory (printed when a test fails). Every request has a timeout; every daemon
is stopped (SIGTERM, then SIGKILL) at exit.
"""
import atexit
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("SL_BUILD", "build")
DAEMON = os.path.join(ROOT, BUILD, "symlorad")
SANITIZED = bool(os.environ.get("SL_SANITIZED"))
FIXTURES = os.path.join(ROOT, "tests", "fixtures")
TIMEOUT = 120 if SANITIZED else 30


# --chat-template for the fixture models (which ship none): "llama3" is Llama 3.1's format with
# short tool instructions (tests/fixtures/chat/test/, so that tool requests fit the models' 512
# positions), "chatml" the real Qwen2.5 template of the corpus.
CHAT_TEMPLATES = {
    "llama3": os.path.join(FIXTURES, "chat", "test", "llama3-compact.jinja"),
    "chatml": os.path.join(FIXTURES, "chat", "templates", "Qwen-Qwen2.5-7B-Instruct.jinja"),
}


def fixture_adapters(model="llama-tiny"):
    d = os.path.join(FIXTURES, "adapters", model)
    return {n: os.path.join(d, n) for n in sorted(os.listdir(d))}


def expected():
    with open(os.path.join(FIXTURES, "expected", "expected.json")) as f:
        return json.load(f)


_daemons = []


class Daemon:
    def __init__(self, model="llama-tiny", adapters=None, args=(), chat_template="llama3"):
        self.model = model
        self.adapters = fixture_adapters(model) if adapters is None else adapters
        self.tmp = tempfile.mkdtemp(prefix="symlorad-test-")
        self.log_path = os.path.join(self.tmp, "symlorad.log")
        cmd = [DAEMON, "--model", os.path.join(FIXTURES, "models", model),
               "--store", os.path.join(self.tmp, "store"), "--listen", "127.0.0.1:0"]
        if chat_template:  # a name of CHAT_TEMPLATES or a file
            cmd += ["--chat-template", CHAT_TEMPLATES.get(chat_template, chat_template)]
        for name, path in self.adapters.items():
            cmd += ["--adapter", "%s=%s" % (name, path)]
        cmd += list(args)
        self.cmd = cmd
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log, cwd=ROOT)
        _daemons.append(self)
        self.port = None
        deadline = time.time() + TIMEOUT
        while time.time() < deadline and self.port is None:
            if self.proc.poll() is not None:
                raise RuntimeError("symlorad exited with %d:\n%s" % (self.proc.returncode, self.log_text()))
            m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", self.log_text())
            if m:
                self.port = int(m.group(1))
            else:
                time.sleep(0.02)
        if self.port is None:
            raise RuntimeError("symlorad did not start:\n" + self.log_text())
        while time.time() < deadline:
            try:
                if self.get("/health")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.02)
        raise RuntimeError("symlorad /health never answered:\n" + self.log_text())

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    # ------------------------------------------------------------------ HTTP
    def conn(self, timeout=TIMEOUT):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method, path, body=None, headers=None, timeout=TIMEOUT):
        """Returns (status, headers dict (lower-case names), body bytes)."""
        c = self.conn(timeout)
        try:
            h = dict(headers or {})
            if isinstance(body, (dict, list)):
                body = json.dumps(body).encode()
                h.setdefault("Content-Type", "application/json")
            elif isinstance(body, str):
                body = body.encode()
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            data = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, data
        finally:
            c.close()

    def get(self, path):
        return self.request("GET", path)

    def post(self, path, obj, **kw):
        """Returns (status, parsed JSON or None, headers)."""
        st, h, data = self.request("POST", path, obj, **kw)
        try:
            j = json.loads(data)
        except ValueError:
            j = None
        return st, j, h

    def stream(self, path, obj, timeout=TIMEOUT):
        """POSTs with stream=true; returns (status, [event JSON objects], saw_done)."""
        obj = dict(obj, stream=True)
        c = self.conn(timeout)
        try:
            c.request("POST", path, body=json.dumps(obj).encode(), headers={"Content-Type": "application/json"})
            r = c.getresponse()
            if r.status != 200:
                return r.status, [json.loads(r.read() or b"null")], False
            events, done = [], False
            for ev in sse_events(r):
                if ev == "[DONE]":
                    done = True
                    break
                events.append(json.loads(ev))
            return r.status, events, done
        finally:
            c.close()

    def metrics(self):
        st, _, data = self.get("/metrics")
        assert st == 200, st
        out = {}
        for line in data.decode().splitlines():
            if not line or line.startswith("#"):
                continue
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
        return out

    def wait_metric(self, name, pred, timeout=10):
        """Polls /metrics until pred(value) holds; returns the last value."""
        deadline = time.time() + timeout
        v = None
        while time.time() < deadline:
            v = self.metrics().get(name)
            if v is not None and pred(v):
                return v
            time.sleep(0.05)
        return v

    # ------------------------------------------------------------------ helpers
    def complete_ids(self, model, prompt_ids, max_tokens, **kw):
        """Greedy completion with token ids in and out (vLLM's return_tokens_as_token_ids)."""
        body = dict(model=model, prompt=prompt_ids, max_tokens=max_tokens, temperature=0, logprobs=0,
                    return_tokens_as_token_ids=True, ignore_eos=True)
        body.update(kw)
        st, j, _ = self.post("/v1/completions", body)
        assert st == 200, (st, j)
        return token_ids(j["choices"][0]["logprobs"]["tokens"]), j

    def stop(self, sig=signal.SIGTERM, timeout=TIMEOUT):
        """Sends SIG and returns the exit status (SIGKILL after TIMEOUT)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode

    def cleanup(self):
        if self.proc.poll() is None:
            self.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)


def token_ids(tokens):
    return [int(t.split(":", 1)[1]) for t in tokens]


def sse_events(resp):
    """Yields the data of each server-sent event of an http.client response."""
    buf = b""
    while True:
        chunk = resp.read1(65536) if hasattr(resp, "read1") else resp.read(1)
        if not chunk:
            break
        buf += chunk
        while b"\n\n" in buf:
            ev, buf = buf.split(b"\n\n", 1)
            for line in ev.split(b"\n"):
                if line.startswith(b"data: "):
                    yield line[6:].decode()


@atexit.register
def _stop_all():
    for d in _daemons:
        try:
            d.cleanup()
        except Exception:
            pass


# ---------------------------------------------------------------------- runner
_tests = []
_shared = {}


def test(fn):
    _tests.append(fn)
    return fn


class Skip(Exception):
    """Raised by a test that cannot run here (e.g. no permission to mount): printed as
    "skip NAME: reason", counted neither as passed nor as failed."""


def shared(factory=Daemon, key="default"):
    """One daemon per key, started on first use, for the tests of a file."""
    if key not in _shared:
        _shared[key] = factory()
    return _shared[key]


def run_parallel(fn, args_list):
    """Runs fn(*args) in threads; returns results in order (exceptions re-raised)."""
    results = [None] * len(args_list)
    errors = []

    def one(i, a):
        try:
            results[i] = fn(*a)
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    ts = [threading.Thread(target=one, args=(i, a)) for i, a in enumerate(args_list)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errors:
        raise errors[0]
    return results


def main(daemon_factory=None):
    passed = failed = 0
    only = sys.argv[1:]
    for fn in _tests:
        if only and fn.__name__ not in only:
            continue
        t0 = time.time()
        try:
            if fn.__code__.co_argcount:
                fn(shared(daemon_factory or Daemon))
            else:
                fn()
            passed += 1
            print("ok   %s (%.2f s)" % (fn.__name__, time.time() - t0), flush=True)
        except Skip as e:
            print("skip %s: %s" % (fn.__name__, e), flush=True)
        except Exception:  # noqa: BLE001
            failed += 1
            print("FAIL %s" % fn.__name__, flush=True)
            tb = traceback.format_exc().splitlines()
            start = next((i for i, l in enumerate(tb) if not l.startswith(" ") and i > 0), len(tb))
            for line in (tb[max(1, start - 6):start] + tb[start:start + 40]):  # last frames + the message
                print("    " + line)
            for d in list(_shared.values()):
                tail = d.log_text().splitlines()[-15:]
                print("    --- daemon log (last lines) ---")
                for line in tail:
                    print("    " + line)
    # The shared daemons must exit 0 on SIGTERM with nothing from the sanitizers in their log
    # (LeakSanitizer reports at exit and then sets a non-zero status).
    for key, d in _shared.items():
        rc = d.stop()
        log = d.log_text()
        bad = [l for l in log.splitlines() if "Sanitizer" in l or "runtime error" in l]
        if rc == 0 and not bad:
            passed += 1
            print("ok   %s daemon exits 0 cleanly" % key, flush=True)
        else:
            failed += 1
            print("FAIL %s daemon exit status %s" % (key, rc), flush=True)
            for line in (bad or log.splitlines())[-30:]:
                print("    " + line)
    for d in _daemons:
        d.cleanup()
    print("# %d passed, %d failed" % (passed, failed), flush=True)
    sys.exit(1 if failed else 0)
