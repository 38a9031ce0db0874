"""Scale-out (issue 7): three symlorad replicas sharing ONE --store directory, behind a real
Debian nginx running a config derived from deploy/nginx/symlora.conf (only the upstream ports,
the listen address and the temp/log paths changed).

Checked: an upload, a replacement and a delete made through nginx are seen by EVERY replica,
asked directly on its own port, within a few seconds (the delays are printed: a replica learns
of another's change from the store's .generation marker through a file-system event, or at the
latest at its next --store-rescan-ms); each replica then serves the new version's golden greedy
outputs. A tenant's requests all reach one replica (`hash $http_authorization consistent`).
After SIGKILL of that replica, no request through nginx fails: a non-streaming request in
flight on it is re-run by nginx on the next replica, and so is every request sent afterwards;
a stream in flight on it is cut (its headers already went out, so nginx cannot retry it) and
the client sees the body end without `data: [DONE]`.

Skipped, with the reason printed, when nginx is not installed (tools/install-deps.sh installs
nginx-light)."""
import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

from harness import FIXTURES, ROOT, SANITIZED, TIMEOUT, Daemon, expected, fixture_adapters, main, test, token_ids

EXP = expected()["models"]["llama-tiny"]
FIX = fixture_adapters()
CONF = os.path.join(ROOT, "deploy", "nginx", "symlora.conf")
KEYS = {"alice": "sk-scaleout-alice-0123456789", "bob": "sk-scaleout-bob-abcdefghij"}
STEP_MS = 3            # --step-delay-ms: makes a long generation last long enough to be killed mid-way
WITHIN = 5.0           # "within a few seconds": the bound every replica must meet
DELAYS = {}            # label -> [seconds per replica], printed at the end
# How each replica learns of the others' changes. Replicas 0 and 1 only through the file-system
# event on STORE/.generation (their periodic rescan is far beyond WITHIN), replica 2 only
# through its periodic rescan (--store-watch 0), so that both paths are proven and measured.
# A production replica has both (the defaults: watch on, rescan every 2000 ms).
PATHS = [("event", ["--store-rescan-ms", "600000"]), ("event", ["--store-rescan-ms", "600000"]),
         ("rescan 1000 ms", ["--store-watch", "0", "--store-rescan-ms", "1000"])]


def find_nginx():
    for p in (shutil.which("nginx"), "/usr/sbin/nginx", "/usr/local/sbin/nginx"):
        if p and os.access(p, os.X_OK):
            return p
    return None


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def auth(who):
    return {"Authorization": "Bearer " + KEYS[who]}


def read(path):
    with open(path, "rb") as f:
        return f.read()


def sha(fix):
    return hashlib.sha256(read(os.path.join(FIX[fix], "adapter_model.safetensors"))).hexdigest()


def prompts():
    """expected.json's prompts (BOS included), whose greedy continuations it records."""
    return EXP["prompts"]


# ---------------------------------------------------------------------- the cluster

class Nginx:
    """nginx in the foreground (daemon off) with everything it writes under a temp dir."""

    def __init__(self, binary, ports):
        self.dir = tempfile.mkdtemp(prefix="symlora-nginx-")
        os.chmod(self.dir, 0o755)  # the workers (www-data when we are root) write body temp files here
        self.port = free_port()
        self.site = derive_site(read(CONF).decode(), ports, self.port)
        d = self.dir
        main_conf = "\n".join([
            "worker_processes 2;",
            "pid %s/nginx.pid;" % d,
            "error_log %s/error.log info;" % d,
            "events { worker_connections 512; }",
            "http {",
            # Which replica answered, and every one tried ("A, B" = a retry on the next).
            "    log_format up '$request $status up=\"$upstream_addr\" ups=\"$upstream_status\" t=$request_time';",
            "    access_log %s/access.log up;" % d,
            "    client_body_temp_path %s/body;" % d,
            "    proxy_temp_path %s/proxy;" % d,
            "    fastcgi_temp_path %s/fastcgi;" % d,
            "    uwsgi_temp_path %s/uwsgi;" % d,
            "    scgi_temp_path %s/scgi;" % d,
            "    include %s/symlora.conf;" % d,
            "}", ""])
        with open(os.path.join(d, "symlora.conf"), "w") as f:
            f.write(self.site)
        with open(os.path.join(d, "nginx.conf"), "w") as f:
            f.write(main_conf)
        args = [binary, "-p", d + "/", "-e", d + "/error.log", "-c", d + "/nginx.conf"]
        t = subprocess.run(args + ["-t"], capture_output=True, timeout=TIMEOUT)
        assert t.returncode == 0, "nginx -t: %s" % t.stderr.decode()
        self.log = open(os.path.join(d, "stderr.log"), "wb")
        self.proc = subprocess.Popen(args + ["-g", "daemon off;"], stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=self.log)
        deadline = time.time() + TIMEOUT
        while time.time() < deadline:
            assert self.proc.poll() is None, "nginx exited: %s" % self.text("stderr.log") + self.text("error.log")
            try:
                if self.request("GET", "/health")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.02)
        raise RuntimeError("nginx did not answer: " + self.text("error.log"))

    def text(self, name):
        try:
            return read(os.path.join(self.dir, name)).decode("utf-8", "replace")
        except OSError:
            return ""

    def request(self, method, path, body=None, headers=None, timeout=TIMEOUT):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            h = dict(headers or {})
            if isinstance(body, (dict, list)):
                body = json.dumps(body).encode()
                h["Content-Type"] = "application/json"
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            return r.status, r.read()
        finally:
            c.close()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)  # graceful: finish what is running, then exit
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


def derive_site(text, ports, listen_port):
    """deploy/nginx/symlora.conf with our replica ports, our listen port on loopback only (no
    IPv6 listener: CI containers may lack ::1), and nothing else changed. Fails if the shipped
    file lost one of the directives this test relies on."""
    for needed in ("hash $http_authorization consistent;", "proxy_next_upstream error timeout http_502 http_503",
                   "proxy_buffering off;", "client_max_body_size", "keepalive"):
        assert needed in text, "deploy/nginx/symlora.conf lacks %r" % needed
    servers = re.findall(r"^(\s*)server\s+\S+:\d+(\s[^;]*)?;\s*$", text, re.M)
    assert servers, "no upstream server lines in deploy/nginx/symlora.conf"
    indent, params = servers[0][0], servers[0][1] or ""
    lines, done = [], False
    for line in text.splitlines():
        if re.match(r"^\s*server\s+\S+:\d+(\s[^;]*)?;\s*$", line):
            if not done:
                lines += ["%sserver 127.0.0.1:%d%s;" % (indent, p, params) for p in ports]
                done = True
            continue
        if re.match(r"^\s*listen\s+\[::\]:\d+;", line):
            continue
        line = re.sub(r"^(\s*)listen\s+\d+;", r"\1listen 127.0.0.1:%d;" % listen_port, line)
        lines.append(line)
    out = "\n".join(lines) + "\n"
    assert "listen 127.0.0.1:%d;" % listen_port in out, "no `listen PORT;` line to rewrite"
    return out


class Cluster:
    def __init__(self, nginx_bin):
        self.tmp = tempfile.mkdtemp(prefix="symlora-scaleout-")
        self.store = os.path.join(self.tmp, "store")
        self.keys = os.path.join(self.tmp, "api-keys")
        with open(self.keys, "w") as f:
            f.write("# sha256 tenant role\n")
            for who, key in KEYS.items():
                f.write("%s %s tenant\n" % (hashlib.sha256(key.encode()).hexdigest(), who))
        os.chmod(self.keys, 0o600)
        args = ["--store", self.store, "--api-keys", self.keys, "--step-delay-ms", str(STEP_MS)]
        self.replicas = [None] * 3
        errors = []

        def start(i):
            try:
                self.replicas[i] = Daemon(adapters={}, args=args + PATHS[i][1])
            except Exception as e:  # noqa: BLE001
                errors.append(e)

        ts = [threading.Thread(target=start, args=(i,)) for i in range(3)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        if errors:
            raise errors[0]
        self.nginx = Nginx(nginx_bin, [d.port for d in self.replicas])
        self.victim = None  # the replica killed by the last test

    def alive(self):
        return [d for d in self.replicas if d is not self.victim]

    def cleanup(self):
        self.nginx.stop()
        shutil.rmtree(self.nginx.dir, ignore_errors=True)
        shutil.rmtree(self.tmp, ignore_errors=True)


_cluster = None


def cluster():
    global _cluster
    if _cluster is None:
        _cluster = Cluster(NGINX)
    return _cluster


# ---------------------------------------------------------------------- helpers

def curl_put(port, who, name, fix):
    """PUT through PORT with the real curl binary (multipart form, as the README shows it)."""
    cmd = ["curl", "-sS", "-X", "PUT", "-H", "Authorization: Bearer " + KEYS[who],
           "-F", "config=@" + os.path.join(FIX[fix], "adapter_config.json"),
           "-F", "weights=@" + os.path.join(FIX[fix], "adapter_model.safetensors"), "-w", "\n%{http_code}",
           "http://127.0.0.1:%d/v1/adapters/%s" % (port, name)]
    r = subprocess.run(cmd, capture_output=True, timeout=TIMEOUT)
    assert r.returncode == 0, r
    body, _, code = r.stdout.rpartition(b"\n")
    return int(code), json.loads(body)


def adapter_on(d, who, name):
    st, _, data = d.request("GET", "/v1/adapters/" + name, headers=auth(who))
    return st, (json.loads(data) if st == 200 else None)


def wait_all(label, pred, t0):
    """Polls every live replica directly until pred(replica) holds; records the delay of each
    (seconds after t0, the moment nginx acknowledged the change)."""
    c = cluster()
    seen = {}
    deadline = t0 + WITHIN
    while len(seen) < len(c.alive()) and time.time() < deadline:
        for i, d in enumerate(c.replicas):
            if d is c.victim or i in seen:
                continue
            if pred(d):
                seen[i] = time.time() - t0
        time.sleep(0.005)
    missing = [i for i, d in enumerate(c.replicas) if d is not c.victim and i not in seen]
    assert not missing, "%s: replicas %s did not see it within %.1f s" % (label, missing, WITHIN)
    # The replica nginx gave the change to (the last line of its access log) has it at once.
    last = c.nginx.text("access.log").strip().splitlines()[-1]
    ports = [d.port for d in c.replicas]
    took = re.search(r'up="[^"]*:(\d+)"', last)
    took = ports.index(int(took.group(1))) if took and int(took.group(1)) in ports else None
    DELAYS[label] = ["%.3f%s" % (seen[i], "*" if i == took else " ") for i in sorted(seen)]


def complete_ids(d, who, model, prompt, n):
    body = dict(model=model, prompt=prompt, max_tokens=n, temperature=0, logprobs=0,
                return_tokens_as_token_ids=True, ignore_eos=True)
    st, _, data = d.request("POST", "/v1/completions", body, headers=auth(who))
    assert st == 200, (st, data)
    return token_ids(json.loads(data)["choices"][0]["logprobs"]["tokens"])


def check_golden(d, who, model, case):
    bad = []
    for i, prompt in enumerate(prompts()):
        want = EXP["cases"][case]["greedy"][i]
        got = complete_ids(d, who, model, prompt, len(want))
        if got != want:
            bad.append("port %d: %s (as %s) prompt %d: got %s want %s" % (d.port, case, model, i, got, want))
    assert not bad, "\n".join(bad)


def completions_count(d):
    """Requests to /v1/completions this replica answered, whatever the status."""
    return sum(v for k, v in d.metrics().items()
               if k.startswith("symlora_requests_total{") and 'route="completions"' in k)


def via_nginx(who, model, max_tokens=4, timeout=TIMEOUT):
    body = {"model": model, "prompt": [5, 6, 7], "max_tokens": max_tokens, "temperature": 0, "ignore_eos": True}
    return cluster().nginx.request("POST", "/v1/completions", body, headers=auth(who), timeout=timeout)


# ---------------------------------------------------------------------- tests

@test
def nginx_runs_the_shipped_config_in_front_of_three_replicas():
    c = cluster()
    assert "hash $http_authorization consistent;" in c.nginx.site
    for d in c.replicas:
        assert d.get("/health")[0] == 200
    st, data = c.nginx.request("GET", "/v1/models")
    assert st == 401, (st, data)  # keys are on; nginx passes the answer through
    st, data = c.nginx.request("GET", "/v1/models", headers=auth("alice"))
    assert st == 200, (st, data)


@test
def upload_through_nginx_is_served_by_every_replica():
    c = cluster()
    for who, name, fix, label in (("alice", "ada", "symlora-qo-r8", "upload"), ("bob", "bobs", "symlora-all-r4", "upload (2nd tenant)")):
        st, j = curl_put(c.nginx.port, who, name, fix)
        t0 = time.time()
        assert st == 201 and j["version"] == 1 and j["sha256"] == sha(fix), (st, j)
        wait_all(label, lambda d: adapter_on(d, who, name)[0] == 200 and
                 adapter_on(d, who, name)[1]["sha256"] == sha(fix), t0)
    for d in c.replicas:
        check_golden(d, "alice", "ada", "symlora-qo-r8")
        check_golden(d, "bob", "bobs", "symlora-all-r4")
        # Tenants stay apart on every replica: bob does not see alice's adapter.
        assert adapter_on(d, "bob", "ada")[0] == 404


@test
def replacement_through_nginx_is_served_by_every_replica():
    c = cluster()
    st, j = curl_put(c.nginx.port, "alice", "ada", "lora-all-r8")
    t0 = time.time()
    assert st == 200 and j["version"] == 2 and j["sha256"] == sha("lora-all-r8"), (st, j)
    new = sha("lora-all-r8")
    wait_all("replace", lambda d: (adapter_on(d, "alice", "ada")[1] or {}).get("sha256") == new, t0)
    for d in c.replicas:  # each had v1 resident from the previous test: it must serve v2 now
        check_golden(d, "alice", "ada", "lora-all-r8")


@test
def a_tenants_requests_stay_on_one_replica():
    c = cluster()
    c.home = {}
    for who in KEYS:
        before = [completions_count(d) for d in c.replicas]
        for _ in range(8):
            st, data = via_nginx(who, "llama-tiny")
            assert st == 200, (st, data)
        delta = [completions_count(d) - b for d, b in zip(c.replicas, before)]
        assert sorted(delta) == [0, 0, 8], (who, delta)
        c.home[who] = delta.index(8)
    print("#   tenant -> replica: %s (ports %s)" % (c.home, [d.port for d in c.replicas]))


@test
def delete_through_nginx_is_seen_by_every_replica():
    c = cluster()
    st, data = c.nginx.request("DELETE", "/v1/adapters/ada", headers=auth("alice"))
    t0 = time.time()
    assert st == 200, (st, data)
    wait_all("delete", lambda d: adapter_on(d, "alice", "ada")[0] == 404, t0)
    for d in c.replicas:
        st, _, data = d.request("POST", "/v1/completions", {"model": "ada", "prompt": "x", "max_tokens": 1},
                                headers=auth("alice"))
        assert st == 404, (d.port, st, data)


@test
def killing_a_replica_fails_no_request_through_nginx():
    c = cluster()
    victim = c.replicas[c.home["alice"]]
    # In flight on the victim at the moment of the kill: one stream and one plain request, both
    # long (STEP_MS per token).
    stream_out = {}

    def stream():
        conn = http.client.HTTPConnection("127.0.0.1", c.nginx.port, timeout=TIMEOUT)
        body = {"model": "llama-tiny", "prompt": [5, 6, 7], "max_tokens": 400, "temperature": 0, "ignore_eos": True,
                "stream": True}
        events, done, err = 0, False, None
        try:
            conn.request("POST", "/v1/completions", body=json.dumps(body).encode(),
                         headers=dict(auth("alice"), **{"Content-Type": "application/json"}))
            r = conn.getresponse()
            stream_out["status"] = r.status
            buf = b""
            while True:
                chunk = r.read1(65536)
                if not chunk:
                    break
                buf += chunk
                while b"\n\n" in buf:
                    ev, buf = buf.split(b"\n\n", 1)
                    if ev == b"data: [DONE]":
                        done = True
                    elif ev.startswith(b"data: "):
                        events += 1
                        stream_out["first"] = True
        except Exception as e:  # noqa: BLE001  (http.client.IncompleteRead: the chunked body was cut)
            err = "%s: %s" % (type(e).__name__, e)
        finally:
            conn.close()
        stream_out.update(events=events, done=done, error=err)

    plain_out = {}

    def plain():
        t = time.time()
        plain_out["st"], plain_out["body"] = via_nginx("alice", "llama-tiny", max_tokens=300)
        plain_out["s"] = time.time() - t

    ts = threading.Thread(target=stream)
    tp = threading.Thread(target=plain)
    ts.start()
    tp.start()
    deadline = time.time() + TIMEOUT
    while time.time() < deadline and not (stream_out.get("first") and victim.metrics().get(
            "symlora_num_requests_running", 0) >= 2):
        time.sleep(0.01)
    assert stream_out.get("first"), "the stream never started"
    os.kill(victim.proc.pid, signal.SIGKILL)
    victim.proc.wait()
    c.victim = victim
    # After the kill: both tenants through nginx, sequentially and in parallel. Not one may fail.
    results = []
    for i in range(10):
        for who in KEYS:
            results.append((who,) + via_nginx(who, "llama-tiny"))
    par = []

    def one(who):
        par.append((who,) + via_nginx(who, "llama-tiny"))

    workers = [threading.Thread(target=one, args=(w,)) for w in list(KEYS) * 5]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    bad = [(who, st, data[:200]) for who, st, data in results + par if st != 200]
    assert not bad, bad
    # bob's adapter (in the shared store) still gives its golden outputs through nginx.
    for i, prompt in enumerate(prompts()):
        want = EXP["cases"]["symlora-all-r4"]["greedy"][i]
        body = dict(model="bobs", prompt=prompt, max_tokens=len(want), temperature=0, logprobs=0,
                    return_tokens_as_token_ids=True, ignore_eos=True)
        st, data = c.nginx.request("POST", "/v1/completions", body, headers=auth("bob"))
        assert st == 200, (st, data)
        assert token_ids(json.loads(data)["choices"][0]["logprobs"]["tokens"]) == want
    tp.join(TIMEOUT)
    ts.join(TIMEOUT)
    # The plain request in flight on the victim: nginx had no response header yet, so it ran it
    # again on the next replica (non_idempotent) — the client just waited longer.
    assert plain_out.get("st") == 200, plain_out
    # The stream in flight: nginx had sent its headers (200) and some events; it cannot retry, so
    # it closes the chunked body without the last chunk: the client sees a cut stream, no [DONE].
    assert stream_out.get("status") == 200 and not stream_out["done"], stream_out
    log = c.nginx.text("access.log")
    retried = [l for l in log.splitlines() if "up=\"" in l and ", " in l.split("up=\"", 1)[1].split("\"", 1)[0]]
    print("#   killed replica port %d (alice's); in-flight plain request: 200 after %.2f s (retried); in-flight stream: "
          "%d events then %s, no [DONE]" % (victim.port, plain_out["s"], stream_out["events"],
                                            stream_out["error"] or "EOF"))
    print("#   %d requests after the kill, all 200; nginx retried %d request(s) on another replica:" %
          (len(results) + len(par) + len(prompts()), len(retried)))
    for line in retried[:4]:
        print("#     " + line)
    assert retried, "nginx's access log shows no retry on a second replica:\n" + log[-2000:]


@test
def survivors_stop_cleanly():
    c = cluster()
    for d in c.alive():
        rc = d.stop()
        bad = [l for l in d.log_text().splitlines() if "Sanitizer" in l or "runtime error" in l]
        assert rc == 0 and not bad, (d.port, rc, bad[-10:])
    assert c.nginx.stop() == 0
    err = [l for l in c.nginx.text("error.log").splitlines() if "[emerg]" in l or "[alert]" in l]
    assert not err, err
    print("#   propagation delay (s) to replica:  %s" % "  ".join("%d (%s)" % (i, p[0]) for i, p in enumerate(PATHS)))
    for label, ds in DELAYS.items():
        print("#     %-20s %s" % (label + ":", "  ".join(ds)))
    print("#     (* the replica that took the change through nginx: its own change, visible at once)")


if __name__ == "__main__":
    NGINX = find_nginx()
    if NGINX is None:
        print("# skipped: no nginx binary (tools/install-deps.sh installs nginx-light)")
        print("# 0 passed, 0 failed")
        sys.exit(0)
    try:
        main()
    finally:
        if _cluster is not None:
            _cluster.cleanup()
