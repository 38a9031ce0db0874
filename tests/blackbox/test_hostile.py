"""Hostile tenants (issue 17): a tenant with a valid key must not be able to hurt the others.

- Regex work is bounded: module patterns are resolved once at upload (the stored config carries
  the result), a catastrophic pattern is a fast 422 naming it, and other tenants' uploads are
  not slowed by such an attack.
- Upload slots per tenant and per address (429), per-tenant quotas of stored bytes and adapters
  (413, while other tenants go on), per-tenant usage in /metrics for an admin only.
- A minimum upload rate, a reserve of connections for /health, /metrics and authenticated
  requests, strict HTTP framing, no server path in any message.
Timings are asserted as ratios or with margins scaled for sanitizer builds (SL_SANITIZED)."""
import hashlib
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

from harness import FIXTURES, SANITIZED, TIMEOUT, Daemon, fixture_adapters, main, test

FIX = fixture_adapters()
SLACK = 4 if SANITIZED else 1
KEYS = {"alice": "sk-alice-hostile-0001", "bob": "sk-bob-hostile-0002", "carl": "sk-carl-hostile-0003",
        "root": "sk-root-hostile-0004"}


def h(key):
    return hashlib.sha256(key.encode()).hexdigest()


def keys_file(lines):
    d = tempfile.mkdtemp(prefix="symlora-hostile-keys-")
    p = os.path.join(d, "keys")
    with open(p, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.chmod(p, 0o600)
    return p


def auth(who):
    return {"Authorization": "Bearer " + KEYS[who]} if who else {}


def fixture_files(fix="lora-qv-r4"):
    c = open(os.path.join(FIX[fix], "adapter_config.json"), "rb").read()
    w = open(os.path.join(FIX[fix], "adapter_model.safetensors"), "rb").read()
    return c, w


def multipart(config, weights, b=b"b0undary"):
    return (b"".join(b"--" + b + b'\r\nContent-Disposition: form-data; name="' + n + b'"; filename="f"\r\n\r\n' + v + b"\r\n"
                     for n, v in ((b"config", config), (b"weights", weights))) + b"--" + b + b"--\r\n")


def upload(d, who, name, config=None, weights=None):
    c, w = fixture_files()
    body = multipart(config if config is not None else c, weights if weights is not None else w)
    hd = dict(auth(who), **{"Content-Type": "multipart/form-data; boundary=b0undary"})
    st, _, data = d.request("PUT", "/v1/adapters/" + name, body, headers=hd)
    try:
        return st, json.loads(data)
    except ValueError:
        return st, data


def with_patterns(rank_pattern, alpha_pattern=None):
    cfg = json.loads(fixture_files()[0])
    cfg["rank_pattern"] = rank_pattern
    cfg["alpha_pattern"] = alpha_pattern or {}
    return json.dumps(cfg).encode()


def catastrophic(n):
    # Keys in file order: the first one already reaches the match limit.
    return with_patterns({"(.|.)*\\d\\d(?:z)?%d" % i: 4 for i in range(n)})


# ---------------------------------------------------------------------------------------------- regexes

@test
def patterns_are_resolved_at_upload_and_stored():
    d = Daemon(adapters={}, args=["--store-rescan-ms", "0"])
    try:
        # alpha 16 for layer 1's v_proj: a different output than the plain fixture.
        cfg = with_patterns({"q_proj": 4}, {"model\\.layers\\.1\\.self_attn\\.v_proj": 16})
        st, j = upload(d, None, "pat", cfg)
        assert st == 201, j
        stored = os.path.join(d.tmp, "store", "default", "pat", "v1", "adapter_config.json")
        s = json.load(open(stored))
        mods = s["symlora_resolved"]["modules"]
        assert s["symlora_resolved"]["version"] == 1 and len(mods) == 4, mods
        assert mods["model.layers.1.self_attn.v_proj"] == [4, 16.0] and mods["model.layers.0.self_attn.v_proj"] == [4, 8.0]
        assert s["rank_pattern"] == {"q_proj": 4}  # the client's fields stay, for people
        # A client may not send the resolved table itself.
        st, j = upload(d, None, "forged", json.dumps(s).encode())
        assert st == 422 and "symlora_resolved" in j["error"]["message"], (st, j)
        # After a restart the stored version loads (from the resolved table) and serves.
        body = dict(model="pat", prompt=[1, 2, 3], max_tokens=4, temperature=0)
        st1, _, a1 = d.request("POST", "/v1/completions", json.dumps(body).encode(), headers={"Content-Type": "application/json"})
        d.stop()
        d2 = Daemon(adapters={}, args=["--store-rescan-ms", "0", "--store", os.path.join(d.tmp, "store")])
        try:
            st2, _, a2 = d2.request("POST", "/v1/completions", json.dumps(body).encode(),
                                    headers={"Content-Type": "application/json"})
            assert st1 == st2 == 200, (st1, st2, a2)
            assert json.loads(a1)["choices"][0]["text"] == json.loads(a2)["choices"][0]["text"]
            assert d2.stop() == 0
        finally:
            d2.cleanup()
    finally:
        d.cleanup()


def store_legacy(store, tenant, name, config):
    """Makes TENANT/NAME v1 look stored before patterns were resolved at upload: its config is
    CONFIG as the client sent it (no symlora_resolved), meta.json's config_bytes to match."""
    v = os.path.join(store, tenant, name, "v1")
    with open(os.path.join(v, "adapter_config.json"), "wb") as f:
        f.write(config)
    meta = json.load(open(os.path.join(v, "meta.json")))
    meta["config_bytes"] = len(config)
    with open(os.path.join(v, "meta.json"), "w") as f:
        json.dump(meta, f)


@test
def versions_stored_before_resolution_still_load_with_bounded_work():
    d = Daemon(adapters={}, args=["--store-rescan-ms", "0"])
    store = os.path.join(d.tmp, "store")
    try:
        cfg = with_patterns({}, {"model\\.layers\\.1\\.self_attn\\.v_proj": 16})
        assert upload(d, None, "legacy", cfg)[0] == 201
        assert upload(d, None, "bomb")[0] == 201
        body = dict(model="legacy", prompt=[1, 2, 3], max_tokens=6, temperature=0)
        st, _, a1 = d.request("POST", "/v1/completions", json.dumps(body).encode(), headers={"Content-Type": "application/json"})
        assert st == 200, a1
        assert d.stop() == 0
        store_legacy(store, "default", "legacy", cfg)
        store_legacy(store, "default", "bomb", catastrophic(1000))
        d2 = Daemon(adapters={}, args=["--store-rescan-ms", "0", "--store", store])
        try:
            st, _, a2 = d2.request("POST", "/v1/completions", json.dumps(body).encode(),
                                   headers={"Content-Type": "application/json"})
            assert st == 200 and json.loads(a1)["choices"][0]["text"] == json.loads(a2)["choices"][0]["text"], a2
            t0 = time.time()
            st, _, b = d2.request("POST", "/v1/completions", json.dumps(dict(body, model="bomb")).encode(),
                                  headers={"Content-Type": "application/json"})
            took = time.time() - t0
            assert st == 503 and b"adapter_unavailable" in b and b"limit" in b, (st, b)
            assert d.tmp.encode() not in b, b  # no server path
            assert took < 1.0 * SLACK, took
            assert d2.get("/health")[0] == 200
            assert d2.stop() == 0
        finally:
            d2.cleanup()
    finally:
        d.cleanup()


def victim_latency(d, who, attacker_key, windows=4, per_window=3):
    """Median latency of WHO's upload (the same payload each time) with the ATTACK process idle
    and running, in alternating windows (idle, attack, idle, attack, ...) so that whatever else
    the machine does weighs on both alike. Returns (idle median, attack median, attack uploads)."""
    def one(i):
        t = time.time()
        st, j = upload(d, who, "good%d" % (i % 3))
        assert st in (200, 201), (st, j)
        return time.time() - t
    for i in range(2):
        one(i)  # warm: the name exists, its replacement is what is measured
    a = subprocess.Popen([sys.executable, "-c", ATTACK, str(d.port), attacker_key], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    def tell(cmd):
        a.stdin.write(cmd + b"\n")
        a.stdin.flush()
        line = a.stdout.readline()
        assert line, a.stderr.read()[-2000:]  # the attacker failed
        return line.split()
    idle, busy, done = [], [], 0
    try:
        for w in range(windows):
            done = int(tell(b"stop")[1])
            idle += [one(i) for i in range(per_window)]
            tell(b"go")
            until = time.time() + TIMEOUT
            while int(tell(b"count")[1]) - done < 4:  # in full swing: some attack uploads answered
                assert time.time() < until and a.poll() is None, "the attack does not go on"
                time.sleep(0.01)
            busy += [one(i) for i in range(per_window)]
        done = int(tell(b"stop")[1])
    finally:
        a.stdin.close()  # EOF: it ends
        a.wait(timeout=TIMEOUT)
    return statistics.median(idle), statistics.median(busy), done


@test
def catastrophic_patterns_are_a_fast_422_naming_the_pattern():
    d = Daemon(adapters={}, args=["--store-rescan-ms", "0", "--api-keys", keys_file(
        ["%s %s tenant" % (h(KEYS[t]), t) for t in ("alice", "bob")])])
    try:
        c, w = fixture_files()
        cat = catastrophic(1000)
        stage = os.path.join(d.tmp, "store", ".tmp")
        stage = os.path.join(stage, os.listdir(stage)[0])  # this process's directory of uploads
        before = os.stat(stage).st_mtime_ns
        time.sleep(0.05)  # past the file system's clock tick: any entry made or removed shows
        t0 = time.time()
        st, j = upload(d, "alice", "evil", cat)
        took = time.time() - t0
        assert st == 422, (st, j)
        # The config is checked before anything of the upload is written: nothing was made and removed.
        assert os.stat(stage).st_mtime_ns == before, "the refused upload touched the disk"
        msg = j["error"]["message"]
        assert '(.|.)*\\d\\d(?:z)?0' in msg and "limit" in msg, msg
        assert took < 1.0 * SLACK, "1000 catastrophic patterns took %.2f s" % took
        assert "/tmp" not in msg and d.tmp not in msg and ".tmp" not in msg, msg  # no server path
        # Another tenant's upload latency while four such uploads run in a loop: under 2x idle
        # (medians of 12 and 12, interleaved). The attacker's pool jobs run one at a time (the
        # tenant gate of api/server.c): without that it held four pool threads, and the victim's
        # median was 4-6x its idle one on 2 cores (2.7-3.4x with it, with other work on the machine).
        idle, busy, rounds = victim_latency(d, "bob", KEYS["alice"])
        floor = 0.02 * SLACK  # below this the ratio measures scheduler noise, not the daemon
        print("    # victim upload median: %.4f s idle, %.4f s during %d catastrophic uploads" % (idle, busy, rounds))
        assert busy < 2 * max(idle, floor), "victim median %.4f s under attack vs %.4f s idle (%d attack uploads)" % (
            busy, idle, rounds)
        assert d.stop() == 0
    finally:
        d.cleanup()


# A separate process (its own GIL): four threads upload catastrophic configs while running. Its
# stdin controls it: "go" starts the uploads, "stop" pauses them (each thread ends the upload in
# flight first); each command is acknowledged on stdout ("running", then "paused N" with the
# uploads done so far), so idle samples see no attack upload left in the daemon; "count" prints
# the uploads done so far. EOF ends it.
ATTACK = r'''
import http.client, json, sys, threading
port, key = int(sys.argv[1]), sys.argv[2]
cfg = json.load(open(%r))
cfg["rank_pattern"] = {"(.|.)*\\d\\d(?:z)?%%d" %% i: 4 for i in range(1000)}
c = json.dumps(cfg).encode()
w = open(%r, "rb").read()
b = b"b0undary"
body = b"".join(b"--" + b + b'\r\nContent-Disposition: form-data; name="' + n + b'"; filename="f"\r\n\r\n' + v + b"\r\n"
                for n, v in ((b"config", c), (b"weights", w))) + b"--" + b + b"--\r\n"
n = [0]
go = threading.Event()
busy = [threading.Semaphore(1) for i in range(4)]
def run(i):
    while True:
        go.wait()
        with busy[i]:
            if not go.is_set():
                continue
            k = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            k.request("PUT", "/v1/adapters/evil%%d" %% i, body, {"Authorization": "Bearer " + key,
                      "Content-Type": "multipart/form-data; boundary=b0undary"})
            r = k.getresponse(); r.read(); k.close()
            assert r.status in (422, 429), r.status
            n[0] += 1
ts = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(4)]
[t.start() for t in ts]
for line in sys.stdin:
    if line.strip() == "go":
        go.set()
        print("running", flush=True)
    elif line.strip() == "stop":
        go.clear()
        for s in busy:
            s.acquire(); s.release()
        print("paused", n[0], flush=True)
    elif line.strip() == "count":
        print("count", n[0], flush=True)
''' % (os.path.join(FIX["lora-qv-r4"], "adapter_config.json"), os.path.join(FIX["lora-qv-r4"], "adapter_model.safetensors"))


# ---------------------------------------------------------------------------------------------- quotas, slots

@test
def quotas_per_tenant_while_others_upload():
    c, w = fixture_files()
    per = len(c) + len(w) + 600  # what one stored version takes (weights + resolved config), with margin
    d = Daemon(adapters={}, args=["--store-rescan-ms", "0", "--api-keys", keys_file([
        "%s alice tenant max_adapters=2" % h(KEYS["alice"]),
        "%s bob tenant 1 max_store_bytes=%d" % (h(KEYS["bob"]), 2 * per),
        "%s carl tenant" % h(KEYS["carl"]),
        "%s ops admin" % h(KEYS["root"])])])
    try:
        for n in ("a1", "a2"):
            st, j = upload(d, "alice", n)
            assert st == 201, (n, st, j)
        st, j = upload(d, "alice", "a3")
        assert st == 413 and j["error"]["code"] == "adapter_quota_exceeded" and "max_adapters" in j["error"]["message"], j
        assert upload(d, "alice", "a2")[0] == 200  # replacing a name needs no new one
        assert upload(d, "carl", "c1")[0] == 201   # other tenants go on
        assert upload(d, "bob", "b1")[0] == 201
        assert upload(d, "bob", "b2")[0] == 201
        st, j = upload(d, "bob", "b3")
        assert st == 413 and j["error"]["code"] == "storage_quota_exceeded" and "max_store_bytes" in j["error"]["message"], j
        assert upload(d, "carl", "c2")[0] == 201
        # Deleting frees quota.
        st, _, _ = d.request("DELETE", "/v1/adapters/b1", headers=auth("bob"))
        assert st == 200
        assert upload(d, "bob", "b3")[0] == 201
        # Concurrent uploads of one tenant cannot overshoot: alice (max 2 adapters, 2 stored) deletes
        # one, then 4 new names race for the one free place.
        assert d.request("DELETE", "/v1/adapters/a1", headers=auth("alice"))[0] == 200
        res = []
        ts = [threading.Thread(target=lambda i=i: res.append(upload(d, "alice", "race%d" % i)[0])) for i in range(4)]
        [t.start() for t in ts]
        [t.join() for t in ts]
        assert sorted(res).count(201) == 1 and all(s in (201, 413, 429) for s in res), res
        st, _, data = d.request("GET", "/v1/adapters", headers=auth("alice"))
        assert len(json.loads(data)["data"]) == 2, data
        # /metrics: per-tenant usage only for an admin.
        st, _, m = d.request("GET", "/metrics")
        assert st == 200 and b"symlora_tenant_" not in m and b"alice" not in m
        st, _, m = d.request("GET", "/metrics", headers=auth("alice"))
        assert st == 200 and b"symlora_tenant_" not in m
        st, _, m = d.request("GET", "/metrics", headers=auth("root"))
        assert b'symlora_tenant_adapters{tenant="alice"} 2' in m, m
        assert b'symlora_tenant_adapters_limit{tenant="alice"} 2' in m
        assert b'symlora_tenant_store_bytes_limit{tenant="bob"} %d' % (2 * per) in m
        assert b"symlora_uploads_refused_total" in m
        assert d.stop() == 0
    finally:
        d.cleanup()


def slow_upload(port, key, name, source="127.0.0.1", send=b""):
    """Opens an upload whose body (10 MB declared) trickles: returns the socket after the headers
    (and SEND), or the status line if the server answered at once."""
    s = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT, source_address=(source, 0))
    s.sendall(("PUT /v1/adapters/%s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
               "Content-Type: multipart/form-data; boundary=b0undary\r\nContent-Length: 10000000\r\n\r\n" % (name, key)).encode()
              + b"--b0undary\r\n" + send)
    return s


def status_of(s, timeout=5):
    s.settimeout(timeout)
    try:
        data = s.recv(4096)
    except socket.timeout:
        return None
    return int(data.split(b" ")[1]) if data.startswith(b"HTTP/1.1 ") else data


@test
def upload_slots_per_tenant_and_per_address():
    d = Daemon(adapters={}, args=["--store-rescan-ms", "0", "--max-uploads-per-ip", "3", "--api-keys", keys_file([
        "%s alice tenant max_uploads=2" % h(KEYS["alice"]), "%s bob tenant" % h(KEYS["bob"]),
        "%s carl tenant" % h(KEYS["carl"])])])
    socks = []
    try:
        socks += [slow_upload(d.port, KEYS["alice"], "s%d" % i) for i in range(2)]
        time.sleep(0.2)
        s3 = slow_upload(d.port, KEYS["alice"], "s3")
        st = status_of(s3)
        assert st == 429, st
        s3.close()
        # Per address: bob from 127.0.0.1 gets one more (3 in all from there), then 429 ...
        socks.append(slow_upload(d.port, KEYS["bob"], "b0"))
        time.sleep(0.2)
        s4 = slow_upload(d.port, KEYS["bob"], "b1")
        assert status_of(s4) == 429
        s4.close()
        # ... while from another address he still may.
        st, j = upload_from(d, "127.0.0.2", "bob", "b2")
        assert st == 201, (st, j)
        for s in socks:
            s.close()
        socks = []
        time.sleep(0.3)
        assert upload(d, "alice", "after")[0] == 201  # slots come back when uploads end
        assert d.stop() == 0
    finally:
        for s in socks:
            s.close()
        d.cleanup()


def upload_from(d, source, who, name):
    c, w = fixture_files()
    body = multipart(c, w)
    s = socket.create_connection(("127.0.0.1", d.port), timeout=TIMEOUT, source_address=(source, 0))
    s.sendall(("PUT /v1/adapters/%s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nConnection: close\r\n"
               "Content-Type: multipart/form-data; boundary=b0undary\r\nContent-Length: %d\r\n\r\n"
               % (name, KEYS[who], len(body))).encode() + body)
    data = b""
    while True:
        k = s.recv(65536)
        if not k:
            break
        data += k
    s.close()
    head, _, rest = data.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), rest


# ---------------------------------------------------------------------------------------------- connections

def raw(port, data, source="127.0.0.1", shut=False, timeout=10):
    """Sends DATA on a new connection; returns every byte the server sends until it closes."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout, source_address=(source, 0))
    try:
        s.sendall(data)
        if shut:
            s.shutdown(socket.SHUT_WR)
        out = b""
        while True:
            try:
                k = s.recv(65536)
            except (socket.timeout, ConnectionResetError):
                break
            if not k:
                break
            out += k
        return out
    finally:
        s.close()


def body_length(head):
    m = re.search(rb"\r\nContent-Length: (\d+)\r\n", head, re.I)
    return int(m.group(1)) if m else 0


def once_then_closed(port, parts, what, first=None):
    """Sends PARTS on one connection, 0.3 s apart (with FIRST: the answer to the first part, of
    that status, is read before the next part is sent); the server must then answer exactly one
    400 naming a malformed Content-Length and close the connection (EOF, not a timeout)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5 * SLACK)
    try:
        out = b""
        for i, p in enumerate(parts):
            if i:
                time.sleep(0.3)
            s.sendall(p)
            if i == 0 and first is not None and len(parts) > 1:
                while b"\r\n\r\n" not in out or len(out.partition(b"\r\n\r\n")[2]) < body_length(out):
                    k = s.recv(65536)
                    assert k, (what, out)
                    out += k
                assert out.startswith(b"HTTP/1.1 %d " % first), (what, out[:300])
                out = b""
        while True:
            k = s.recv(65536)  # socket.timeout here: the connection was left open
            if not k:
                break
            out += k
    finally:
        s.close()
    lines = re.findall(rb"HTTP/1\.1 \d{3}(?= )", out)
    want = ([b"HTTP/1.1 %d" % first] if first is not None and len(parts) == 1 else []) + [b"HTTP/1.1 400"]
    assert lines == want, (what, lines, out[:600])
    assert b"malformed Content-Length" in out, (what, out[:600])


@test
def strict_framing_each_case_answered_once():
    keys = keys_file(["%s alice tenant" % h(KEYS["alice"])])
    d = Daemon(adapters={}, args=["--store-rescan-ms", "0", "--api-keys", keys])
    try:
        good = "Authorization: Bearer %s\r\n" % KEYS["alice"]
        cases = [
            ("NUL in a header value", b"GET /v1/models HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
             KEYS["alice"].encode() + b"\x00zz\r\n\r\n", 400, b"NUL"),
            ("a line hidden behind NUL NUL", b"GET /health HTTP/1.1\r\nX-A: a\x00\x00Host: y\r\nHost: x\r\n\r\n", 400, b"NUL"),
            # obs-fold (RFC 9112 5.2): libmicrohttpd glues the line onto the previous header's name.
            ("a folded header line", b"GET /v1/models HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer a\r\n b\r\n"
             b"Connection: close\r\n\r\n", 400, b"folded header line"),
            ("a folded last header line (HTAB)", b"GET /health HTTP/1.1\r\nHost: x\r\nX-A: a\r\n\tb\r\n\r\n", 400,
             b"folded header line"),
            ("a line starting with a space after the request line", b"GET /health HTTP/1.1\r\n X: y\r\nHost: x\r\n\r\n",
             400, b"folded header line"),
            ("a bare LF ending a header line", b"GET /health HTTP/1.1\r\nHost: x\nX-A: a\r\n\r\n", 400, b"CR LF"),
            ("a bare LF ending the last header line", b"GET /health HTTP/1.1\r\nHost: x\r\nX-A: a\n\r\n", 400, b"CR LF"),
            ("a bare LF ending the empty line", b"GET /health HTTP/1.1\r\nHost: x\r\n\n", 400, b"CR LF"),
            ("bare LFs only", b"GET /health HTTP/1.1\nHost: x\n\n", 400, b"CR LF"),
            ("a bare LF ending the request line (no headers)", b"GET /health HTTP/1.0\n\r\n", 400, b"CR LF"),
            ("control byte in a value", b"GET /health HTTP/1.1\r\nHost: x\r\nX-A: a\x01b\r\n\r\n", 400, b"control"),
            ("control byte in a name", b"GET /health HTTP/1.1\r\nHost: x\r\nX\x01A: ab\r\n\r\n", 400, b"control"),
            ("two Authorization headers", ("GET /v1/models HTTP/1.1\r\nHost: x\r\n" + good + good + "\r\n").encode(), 400,
             b"more than one Authorization"),
            ("Content-Length and Transfer-Encoding", b"POST /tokenize HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
             b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, b"both Content-Length and Transfer-Encoding"),
            ("two Content-Length headers", b"POST /tokenize HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
             b"Content-Length: 3\r\n\r\n{}", 400, b"more than one Content-Length"),
            ("Transfer-Encoding other than chunked", b"POST /tokenize HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
             400, b"chunked"),
            ("HTTP/1.1 without Host", b"GET /health HTTP/1.1\r\n\r\n", 400, b"Host"),
            ("a space in the target", b"GET /a b HTTP/1.1\r\nHost: x\r\n\r\n", 400, b"space"),
            # libmicrohttpd 0.9 ends the target at a NUL: these were served as /health and /v1/models.
            ("NUL in the target's path", b"GET /health\x00/../v1/x HTTP/1.1\r\nHost: x\r\n\r\n", 400, b"NUL"),
            ("NUL in the query string", b"GET /v1/models?a=\x00b HTTP/1.1\r\nHost: x\r\n" + good.encode() + b"\r\n",
             400, b"NUL"),
            ("NUL ending the target", b"GET /health\x00 HTTP/1.1\r\nHost: x\r\n\r\n", 400, b"NUL"),
            ("a long query string", b"GET /health?" + b"&".join(b"a%d=b" % i for i in range(2000)) + b" HTTP/1.1\r\nHost: x\r\n\r\n",
             414, b"query string"),
            ("a 30 KB query string", b"GET /health?" + b"x" * 30000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414, b"query string"),
            # libmicrohttpd 0.9.75 answered this 431 itself, twice (no memory left to copy the cookies);
            # no route uses cookies, so it no longer parses them.
            ("a 15 KB Cookie header", b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\nCookie: " + b"a=b; " * 3000 + b"\r\n\r\n", 200,
             b'"ok"'),
        ]
        for what, req, want, word in cases:
            t0 = time.time()
            out = raw(d.port, req)
            assert len(re.findall(rb"(?:^|\r\n)HTTP/1\.1 \d{3} ", out)) == 1, (what, out[:400])  # exactly one status line
            assert out.startswith(b"HTTP/1.1 %d " % want), (what, out[:300])
            assert word in out, (what, out[:400])
            assert time.time() - t0 < 5 * SLACK, what  # an answer, never silence until a timeout
        # An empty method (or a request line without a space): libmicrohttpd closes the connection
        # before any of our code runs (SECURITY.md): no answer, but a prompt clean close (EOF).
        for req in (b" /health HTTP/1.1\r\nHost: x\r\n\r\n", b"GET\r\nHost: x\r\n\r\n"):
            t0 = time.time()
            s = socket.create_connection(("127.0.0.1", d.port), timeout=5 * SLACK)
            try:
                s.sendall(req)
                assert s.recv(65536) == b"", req  # EOF (socket.timeout: left open; reset: not clean)
            finally:
                s.close()
            assert time.time() - t0 < 5 * SLACK, req
        # Behind an answered request, the answer stays; a malformed version gets libmicrohttpd's own 400, once.
        out = raw(d.port, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n /health HTTP/1.1\r\nHost: x\r\n\r\n", timeout=5 * SLACK)
        assert re.findall(rb"HTTP/1\.1 \d{3}", out) == [b"HTTP/1.1 200"] and out.endswith(b'"ok"}'), out[:400]
        out = raw(d.port, b"GET /health FOO\r\nHost: x\r\n\r\n", timeout=5 * SLACK)
        assert re.findall(rb"HTTP/1\.1 \d{3}", out) == [b"HTTP/1.1 400"], out[:400]
        # Malformed or overflowing Content-Length. libmicrohttpd 0.9.75 would answer these itself (400,
        # 413 for 10^30) with its status line and headers written twice; framing_guard.c hides such a
        # value from it, so our check answers: one 400 naming it, then the connection is closed.
        # Also when the header line arrives in two writes, and on the second request of a kept-alive
        # connection (answered first, then pipelined behind another).
        bad = b"POST /tokenize HTTP/1.1\r\nHost: x\r\nContent-Length: %s\r\n\r\n"
        for v in (b"5x", b"1" + b"0" * 30, b"-1", b"18446744073709551616", b""):
            once_then_closed(d.port, [bad % v], v)
        once_then_closed(d.port, [b"POST /tokenize HTTP/1.1\r\nHost: x\r\nContent-Le", b"ngth: 1" + b"0" * 30 + b"\r\n\r\n"],
                         "split")
        once_then_closed(d.port, [b"POST /tokenize HTTP/1.1\r\nHost: x\r\nContent-Length: 12", b"x4\r\n\r\n"], "split value")
        ok = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
        once_then_closed(d.port, [ok, bad % b"-1"], "kept alive", first=200)
        once_then_closed(d.port, [ok + bad % b"5x"], "pipelined", first=200)
        # Normal requests still pass, a short query string is answered normally.
        assert d.request("GET", "/health?a=1&b=2")[0] == 200
        st, _, data = d.request("GET", "/v1/models", headers=auth("alice"))
        assert st == 200, data
        m = d.request("GET", "/metrics")[2]
        assert b"symlora_http_bad_framing_total" in m
        assert d.stop() == 0
    finally:
        d.cleanup()


@test
def half_closed_client_gets_its_answer():
    d = Daemon(adapters={}, args=["--store-rescan-ms", "0"])
    try:
        body = json.dumps({"model": "llama-tiny", "prompt": [1, 2, 3], "max_tokens": 4, "temperature": 0}).encode()
        req = (b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nConnection: close\r\n"
               b"Content-Length: %d\r\n\r\n" % len(body) + body)
        out = raw(d.port, req, shut=True)
        # An interim 1xx may come first; then exactly one final answer.
        finals = [l for l in out.split(b"\r\n") if l.startswith(b"HTTP/1.1 ") and not l.startswith(b"HTTP/1.1 1")]
        assert finals == [b"HTTP/1.1 200 OK"], out[:500]
        assert json.loads(out.split(b"\r\n\r\n")[-1])["choices"][0]["finish_reason"] == "length", out[-300:]
        # Streaming too.
        sbody = json.dumps({"model": "llama-tiny", "prompt": [1, 2, 3], "max_tokens": 4, "stream": True}).encode()
        out = raw(d.port, b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: %d\r\n\r\n" % len(sbody) + sbody, shut=True)
        assert b"HTTP/1.1 200 OK" in out and b"data: [DONE]" in out, out[-300:]
        assert d.stop() == 0
    finally:
        d.cleanup()


@test
def slow_upload_below_min_rate_is_cut():
    keys = keys_file(["%s alice tenant" % h(KEYS["alice"])])
    d = Daemon(adapters={}, args=["--store-rescan-ms", "0", "--api-keys", keys, "--request-timeout", "1",
                                  "--upload-min-rate", "2000"])
    try:
        s = slow_upload(d.port, KEYS["alice"], "slow")
        t0 = time.time()
        closed = False
        while time.time() - t0 < 10 * SLACK:
            try:
                s.sendall(b"x" * 10)  # 10 bytes every 0.1 s: 100 bytes/s
                s.settimeout(0.1)
                if s.recv(4096) == b"":
                    closed = True
                    break
            except socket.timeout:
                continue
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
        took = time.time() - t0
        s.close()
        assert closed, "a 100 byte/s upload was not cut"
        assert took < 6 * SLACK, took  # 1 s grace, then 2000 bytes/s is missed at once
        assert "below --upload-min-rate" in d.log_text()
        m = d.metrics()
        assert m["symlora_uploads_too_slow_total"] == 1, m
        # A fast upload is not affected.
        assert upload(d, "alice", "fast")[0] == 201
        assert d.stop() == 0
    finally:
        d.cleanup()


@test
def slow_uploads_from_two_addresses_cannot_lock_out_health_or_completions():
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 2200 and hard > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
    keys = keys_file(["%s alice tenant" % h(KEYS["alice"]), "%s bob tenant" % h(KEYS["bob"])])
    d = Daemon(adapters={"lora": FIX["lora-qv-r4"]}, args=["--store-rescan-ms", "0", "--api-keys", keys])
    socks = []
    try:
        body = json.dumps({"model": "lora", "prompt": [1, 2, 3], "max_tokens": 2, "temperature": 0})

        def serve_times():
            t = time.time()
            st1 = raw(d.port, b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")[:12]
            t1 = time.time() - t
            t = time.time()
            st2 = raw(d.port, ("POST /v1/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                               "Content-Type: application/json\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s"
                               % (KEYS["bob"], len(body), body)).encode())[:12]
            return st1, t1, st2, time.time() - t

        # 1,024 uploads from two addresses: each sends its headers and then one byte now and then.
        for i in range(1024):
            src = "127.0.0.2" if i % 2 else "127.0.0.3"
            try:
                socks.append(slow_upload(d.port, KEYS["alice"], "u%d" % i, source=src))
            except OSError:
                break  # refused at the limit: also fine, the point is what others get
        time.sleep(0.5)
        for s in socks[:64]:
            try:
                s.send(b"x")
            except OSError:
                pass
        st1, t1, st2, t2 = serve_times()
        assert st1 == b"HTTP/1.1 200", st1
        assert st2 == b"HTTP/1.1 200", st2
        assert t1 < 1.0 * SLACK and t2 < 1.0 * SLACK, (t1, t2)
        m = d.metrics()
        assert m["symlora_uploads_active"] <= 8, m  # --max-uploads-per-ip 8, --max-uploads-per-tenant 4
        # Idle sockets too: the same addresses hold every connection they can without a request.
        for s in socks:
            s.close()
        socks = []
        time.sleep(0.3)
        for i in range(1024):
            src = "127.0.0.2" if i % 2 else "127.0.0.3"
            try:
                socks.append(socket.create_connection(("127.0.0.1", d.port), timeout=5, source_address=(src, 0)))
            except OSError:
                break
        time.sleep(0.5)
        st1, t1, st2, t2 = serve_times()
        assert st1 == b"HTTP/1.1 200" and st2 == b"HTTP/1.1 200", (st1, st2)
        assert t1 < 1.0 * SLACK and t2 < 1.0 * SLACK, (t1, t2)
        print("    # with 1,024 idle sockets from two addresses: /health %.3f s, completion %.3f s" % (t1, t2))
        for s in socks:
            s.close()
        socks = []
        assert d.stop() == 0
    finally:
        for s in socks:
            s.close()
        d.cleanup()


# ---------------------------------------------------------------------------------------------- leaks

@test
def models_root_is_the_model_id_and_messages_have_no_server_path():
    d = Daemon(adapters={}, args=["--store-rescan-ms", "0"])
    try:
        st, _, data = d.get("/v1/models")
        j = json.loads(data)
        base = j["data"][0]
        assert base["root"] == base["id"] == "llama-tiny", base
        assert FIXTURES not in json.dumps(j)
        # Refused uploads of several kinds: no message names a directory of the server.
        c, w = fixture_files()
        bad = [json.dumps({"peft_type": "LORA"}).encode(), b"{not json", with_patterns({"(": 4}),
               c.replace(b'"r": 4', b'"r": 5')]
        for cfg in bad:
            st, j = upload(d, None, "x", cfg)
            assert 400 <= st < 500, (st, j)
            msg = json.dumps(j)
            assert d.tmp not in msg and "/.tmp" not in msg and "up-" not in msg, msg
        st, j = upload(d, None, "x", weights=w[:-7])
        assert st == 422 and d.tmp not in json.dumps(j), j
        assert d.stop() == 0
    finally:
        d.cleanup()


if __name__ == "__main__":
    os.chdir(os.path.dirname(os.path.abspath(__file__)))
    main()
