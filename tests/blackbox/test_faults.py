"""Faults a server meets in the wild, against a real symlorad: 1,000 idle connections and a
slowloris sender, connection limits, overload beyond the wait queue, a full disk. Each test
prints what it measured. The SIGKILL-during-uploads test is in test_adapters.py, the soak in
tests/soak/soak.py (make soak)."""
import errno
import hashlib
import json
import os
import resource
import shutil
import socket
import subprocess
import tempfile
import threading
import time

import harness
from harness import SANITIZED, Daemon, Skip, expected, fixture_adapters, main, test

_n = len(harness._tests)
from test_adapters import check_golden, get_json, prompts, put, tmp_entries  # noqa: E402 (its helpers only:
del harness._tests[_n:]                                                      # not its tests)

EXP = expected()["models"]["llama-tiny"]
FIX = fixture_adapters()
SLACK = 4 if SANITIZED else 1  # sanitizer builds are several times slower
N_IDLE = 1000


def raise_nofile(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = n if hard == resource.RLIM_INFINITY else min(n, hard)
    if soft != resource.RLIM_INFINITY and soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for %d" % pid)


def connect_from(port, src, timeout=10):
    """A TCP connection to the daemon from the loopback address SRC (127.0.0.0/8 is all ours)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    return s


def closed_by_peer(s):
    """True if the daemon has closed S (EOF or reset), False if it is still open and silent."""
    s.setblocking(False)
    try:
        return s.recv(1) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True
    finally:
        s.setblocking(True)


def timed(fn, *a):
    t0 = time.time()
    r = fn(*a)
    return r, time.time() - t0


class Slowloris(threading.Thread):
    """Sends a request's headers one byte per second and never finishes them; records when the
    daemon hung up and whether it ever answered."""

    def __init__(self, port, src="127.0.0.3"):
        super().__init__(daemon=True)
        self.sock = connect_from(port, src)
        self.t0 = time.time()
        self.cut_after = None
        self.answered = b""
        self.stop = threading.Event()

    def run(self):
        data = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 10000
        for ch in data:
            if self.stop.is_set():
                return
            try:
                self.sock.send(bytes([ch]))
            except OSError:
                break
            if self.stop.wait(1.0):
                return
            self.sock.setblocking(False)
            try:
                got = self.sock.recv(4096)
                if not got:
                    break
                self.answered += got
            except BlockingIOError:
                pass
            except OSError:
                break
            finally:
                self.sock.setblocking(True)
        self.cut_after = time.time() - self.t0


@test
def idle_connections_and_slowloris_do_not_stop_service():
    """1,000 connections that send nothing and one that sends its headers a byte a second:
    /health and real completions are still served at once, with the right tokens; after
    --request-timeout all of them are closed by the daemon, the slowloris unanswered."""
    limit = raise_nofile(N_IDLE + 512)
    assert limit >= N_IDLE + 100, "RLIMIT_NOFILE %d is too low for %d connections" % (limit, N_IDLE)
    timeout_s = 7 if SANITIZED else 5
    d = Daemon(adapters={"a": FIX["symlora-qo-r8"]},
               args=["--max-connections", str(N_IDLE + 200), "--max-connections-per-ip", "0",
                     "--request-timeout", str(timeout_s), "--connection-timeout", "120"])
    idle = []
    slow = None
    try:
        prompt = prompts()[1]
        want = EXP["cases"]["symlora-qo-r8"]["greedy"][1]
        t_open = time.time()
        for i in range(N_IDLE):
            idle.append(connect_from(d.port, "127.0.0.2"))
        held = d.wait_metric("symlora_http_connections", lambda v: v >= N_IDLE, timeout=10 * SLACK)
        t_held = time.time() - t_open
        assert held is not None and held >= N_IDLE, "the daemon holds %s connections" % held
        slow = Slowloris(d.port)
        slow.start()
        health, comps = [], []
        for i in range(20):
            (st, _, _), dt = timed(d.get, "/health")
            assert st == 200
            health.append(dt)
        for i in range(3):
            (got, _), dt = timed(d.complete_ids, "a", prompt, len(want))
            assert got == want, (got, want)
            comps.append(dt)
        assert time.time() - t_open < timeout_s, "too slow to measure inside the deadline: make it longer"
        print("    %d idle connections held (opened in %.2f s) + a slowloris: /health max %.1f ms, "
              "a 12-token completion max %.1f ms" % (held, t_held, max(health) * 1e3, max(comps) * 1e3))
        assert max(health) < 0.5 * SLACK and max(comps) < 2.0 * SLACK, (health, comps)
        # The deadline: every one of them is cut after --request-timeout, the slowloris unanswered.
        cut = d.wait_metric("symlora_http_request_timeouts_total", lambda v: v >= N_IDLE + 1,
                            timeout=timeout_s + 10 * SLACK)
        assert cut is not None and cut >= N_IDLE + 1, cut
        slow.join(10)
        assert slow.cut_after is not None and timeout_s - 1 <= slow.cut_after <= timeout_s + 3 * SLACK, slow.cut_after
        assert slow.answered == b"", slow.answered
        still = [s for s in idle if not closed_by_peer(s)]
        assert not still, "%d idle connections still open" % len(still)
        print("    after --request-timeout %d s: %d connections cut, the slowloris after %.1f s"
              % (timeout_s, cut, slow.cut_after))
        assert d.get("/health")[0] == 200 and d.metrics()["symlora_http_connections"] <= 2
        assert d.stop() == 0
    finally:
        if slow:
            slow.stop.set()
        for s in idle:
            s.close()
        d.cleanup()


@test
def connection_limits_per_address_and_in_all():
    """--max-connections-per-ip: one address gets that many, the others are still served;
    --max-connections: when it is reached nobody else gets in until connections close."""
    raise_nofile(1024)
    # Without the reserve (--reserved-connections: its idle connections are closed after 2 s, so a
    # newcomer would get in; test_hostile.py tests that).
    d = Daemon(adapters={}, args=["--max-connections-per-ip", "8", "--max-connections", "24", "--reserved-connections", "0"])
    socks = []
    try:
        socks = [connect_from(d.port, "127.0.0.2") for _ in range(30)]
        time.sleep(0.3 * SLACK)
        open_ = [s for s in socks if not closed_by_peer(s)]
        assert len(open_) == 8, "%d connections from one address are open, want 8" % len(open_)
        (st, _, _), dt = timed(d.get, "/health")  # another address: served
        assert st == 200 and dt < 0.5 * SLACK, (st, dt)
        # Fill the rest of the 24 from other addresses; then a newcomer waits.
        more = [connect_from(d.port, "127.0.0.%d" % (3 + i // 8)) for i in range(16)]
        socks += more
        time.sleep(0.3 * SLACK)
        late = connect_from(d.port, "127.0.0.9", timeout=1.0)
        late.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            got = late.recv(100)
        except socket.timeout:
            got = None
        assert not got, "served beyond --max-connections: %r" % got
        for s in more:  # room again: the waiting one is taken in and answered
            s.close()
        late.settimeout(5 * SLACK)
        got = late.recv(100)
        late.close()
        assert got.startswith(b"HTTP/1.1 200"), got
        assert d.get("/health")[0] == 200
        assert d.stop() == 0
    finally:
        for s in socks:
            s.close()
        d.cleanup()


@test
def overload_beyond_the_wait_queue_gets_429_fast():
    """32 concurrent requests at a server that runs 2 and queues 6: the 24 beyond get 429
    (with Retry-After) at once, the 8 admitted finish with exactly the tokens of a solo run,
    twice over, and the daemon's memory stays where it was."""
    d = Daemon(adapters={"a": FIX["lora-all-r8"]},
               args=["--max-running", "2", "--max-waiting", "6", "--step-delay-ms", "25", "--retry-after", "3"])
    try:
        prompt = prompts()[2]
        solo = d.complete_ids("a", prompt, 16)[0]
        body = dict(model="a", prompt=prompt, max_tokens=16, temperature=0, logprobs=0,
                    return_tokens_as_token_ids=True, ignore_eos=True)
        rss0 = rss_kb(d.proc.pid)
        lat429 = []
        for rnd in range(2):
            n = 32
            barrier = threading.Barrier(n)
            out = [None] * n

            def one(i):
                c = d.conn()
                data = json.dumps(body).encode()
                barrier.wait()
                t0 = time.time()
                c.request("POST", "/v1/completions", body=data, headers={"Content-Type": "application/json"})
                r = c.getresponse()
                raw = r.read()
                out[i] = (r.status, time.time() - t0, json.loads(raw), r.getheader("Retry-After"))
                c.close()

            ts = [threading.Thread(target=one, args=(i,)) for i in range(n)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            ok = [o for o in out if o[0] == 200]
            busy = [o for o in out if o[0] in (429, 503)]
            assert len(ok) + len(busy) == n, [o[:2] for o in out]
            # 6 queued, plus the 0-2 the engine has moved on to running by the time they come.
            assert 6 <= len(ok) <= 8, (len(ok), len(busy))
            for st, dt, j, ra in ok:
                assert [int(t.split(":")[1]) for t in j["choices"][0]["logprobs"]["tokens"]] == solo
            for st, dt, j, ra in busy:
                assert st == 429 and j["error"]["code"] == "queue_full" and ra == "3", (st, j, ra)
                lat429.append(dt)
            slowest_ok = max(o[1] for o in ok)
            assert max(o[1] for o in busy) < min(0.5 * SLACK, slowest_ok), (max(o[1] for o in busy), slowest_ok)
        rss1 = rss_kb(d.proc.pid)
        lat429.sort()
        print("    %d requests refused with 429: median %.1f ms, max %.1f ms (admitted ones took up to %.0f ms); "
              "RSS %.1f -> %.1f MB" % (len(lat429), lat429[len(lat429) // 2] * 1e3, lat429[-1] * 1e3, slowest_ok * 1e3,
                                       rss0 / 1024, rss1 / 1024))
        assert rss1 - rss0 < 32 * 1024, (rss0, rss1)
        m = d.metrics()
        assert m['symlora_requests_total{route="completions",status="429"}'] == len(lat429), m
        assert m["symlora_num_requests_running"] == 0 and m["symlora_kv_blocks_used"] == 0, m
        assert d.stop() == 0
    finally:
        d.cleanup()


def fill(path, leave):
    """Fills the file system of PATH up to LEAVE free bytes with the file PATH."""
    st = os.statvfs(os.path.dirname(path))
    free = st.f_bavail * st.f_frsize
    with open(path, "wb") as f:
        try:
            f.write(b"\0" * max(0, free - leave))
        except OSError as e:
            if e.errno != errno.ENOSPC:
                raise


@test
def disk_full_upload_gets_507_and_the_previous_version_serves():
    """The store on a 1 MiB tmpfs, filled up: a replacement and a new name both get 507
    insufficient_storage, nothing is left in STORE/.tmp, the previous version keeps serving;
    with room again the same upload succeeds."""
    if os.geteuid() != 0:
        raise Skip("not root: cannot mount a tmpfs")
    mnt = tempfile.mkdtemp(prefix="symlora-tmpfs-")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", mnt], capture_output=True, text=True)
    if r.returncode != 0:
        shutil.rmtree(mnt, ignore_errors=True)
        raise Skip("mount -t tmpfs failed: %s" % (r.stderr.strip() or r.returncode))
    d = None
    try:
        store = os.path.join(mnt, "store")
        d = Daemon(adapters={}, args=["--store", store, "--store-rescan-ms", "0"])
        st, v1 = put(d, "keep", fix="symlora-qo-r8")
        assert st == 201, v1
        filler = os.path.join(mnt, "filler")
        fill(filler, 16 * 1024)
        for name, want_created in (("keep", False), ("fresh", True)):
            st, j = put(d, name, fix="lora-all-r8")  # 81 KB of weights: does not fit
            assert st == 507, (name, st, j)
            assert j["error"]["code"] == "insufficient_storage" and j["error"]["type"] == "server_error", j
            assert tmp_entries(store) == [], tmp_entries(store)
        st, j = get_json(d, "/v1/adapters/keep")
        assert st == 200 and j["version"] == 1 and j["sha256"] == v1["sha256"], j
        assert get_json(d, "/v1/adapters/fresh")[0] == 404
        assert sorted(os.listdir(os.path.join(store, "default"))) == ["keep"]
        vdir = os.path.join(store, "default", "keep", "v1")
        with open(os.path.join(vdir, "adapter_model.safetensors"), "rb") as f:
            assert hashlib.sha256(f.read()).hexdigest() == v1["sha256"]
        check_golden(d, "keep", "symlora-qo-r8")
        os.remove(filler)
        st, j = put(d, "keep", fix="lora-all-r8")
        assert st == 200 and j["version"] == 2, (st, j)
        check_golden(d, "keep", "lora-all-r8")
        assert tmp_entries(store) == []
        print("    507 for a replacement and a new name on a full 1 MiB tmpfs; v1 served on; v2 stored once there was room")
        assert d.stop() == 0
    finally:
        if d:
            d.cleanup()
        subprocess.run(["umount", "-l", mnt], capture_output=True)
        shutil.rmtree(mnt, ignore_errors=True)


if __name__ == "__main__":
    os.chdir(os.path.dirname(os.path.abspath(__file__)))
    main()
