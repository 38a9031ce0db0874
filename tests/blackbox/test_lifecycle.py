"""Daemon lifecycle: disconnects cancel, SIGTERM drains, options, config file, logs."""
import json
import os
import signal
import socket
import subprocess
import threading
import time

from harness import DAEMON, FIXTURES, Daemon, main, test


def slow_daemon(**kw):
    return Daemon(adapters={}, args=["--step-delay-ms", "20"] + kw.get("args", []))


def open_stream(d, body):
    """Raw socket: sends a streaming request, returns the socket once the first event is in."""
    s = socket.create_connection(("127.0.0.1", d.port), timeout=10)
    data = json.dumps(dict(body, stream=True)).encode()
    s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Content-Length: %d\r\n\r\n" % len(data) + data)
    got = b""
    while b"data: " not in got:
        chunk = s.recv(4096)
        assert chunk, "connection closed before the first event: %r" % got
        got += chunk
    return s


LONG = dict(prompt=[0, 735, 284], max_tokens=400, temperature=0, ignore_eos=True)


@test
def killed_client_frees_its_sequence():
    d = slow_daemon()
    try:
        # 1. The socket is reset mid-stream.
        s = open_stream(d, LONG)
        assert d.metrics()["symlora_num_requests_running"] == 1
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        s.close()
        t0 = time.time()
        assert d.wait_metric("symlora_num_requests_running", lambda v: v == 0, timeout=3) == 0
        took = time.time() - t0
        m = d.metrics()
        assert m["symlora_kv_blocks_used"] == 0, m
        assert m['symlora_requests_finished_total{reason="cancelled"}'] == 1, m
        assert took < 2, "cancellation took %.2f s (400 tokens would take 8 s)" % took
        # 2. A curl process killed with SIGKILL mid-stream.
        p = subprocess.Popen(["curl", "-sN", "http://127.0.0.1:%d/v1/completions" % d.port,
                              "-H", "Content-Type: application/json", "-d", json.dumps(dict(LONG, stream=True))],
                             stdout=subprocess.PIPE)
        first = p.stdout.readline()
        assert first.startswith(b"data: "), first
        p.kill()
        p.wait()
        assert d.wait_metric("symlora_num_requests_running", lambda v: v == 0, timeout=3) == 0
        # 3. A non-streaming client that hangs up while waiting.
        s = socket.create_connection(("127.0.0.1", d.port), timeout=10)
        data = json.dumps(LONG).encode()
        s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(data) + data)
        assert d.wait_metric("symlora_num_requests_running", lambda v: v == 1, timeout=3) == 1
        s.close()
        assert d.wait_metric("symlora_num_requests_running", lambda v: v == 0, timeout=3) == 0
        m = d.metrics()
        assert m['symlora_requests_finished_total{reason="cancelled"}'] == 3, m
        assert m["symlora_kv_blocks_used"] == 0 and m["symlora_client_disconnects_total"] == 3, m
        assert d.get("/health")[0] == 200
        assert d.stop() == 0
    finally:
        d.cleanup()


def collect(d, body, out, i):
    try:
        out[i] = d.stream("/v1/completions", body, timeout=30)
    except Exception as e:  # noqa: BLE001
        out[i] = e


@test
def sigterm_lets_streams_finish():
    d = Daemon(adapters={}, args=["--step-delay-ms", "5", "--shutdown-grace", "20"])
    try:
        body = dict(prompt=[0, 735], max_tokens=80, temperature=0, ignore_eos=True)
        out = [None] * 4
        ts = [threading.Thread(target=collect, args=(d, body, out, i)) for i in range(4)]
        for t in ts:
            t.start()
        d.wait_metric("symlora_num_requests_running", lambda v: v == 4, timeout=5)
        d.proc.send_signal(signal.SIGTERM)
        for t in ts:
            t.join()
        assert d.proc.wait(20) == 0
        for st, events, done in out:
            assert st == 200 and done, (st, events[-1:])
            assert events[-1]["choices"][0]["finish_reason"] == "length"
        try:  # no longer listening
            socket.create_connection(("127.0.0.1", d.port), timeout=2).close()
            raise AssertionError("still accepting connections after SIGTERM")
        except OSError:
            pass
        import re
        assert re.search(r"SIGTERM: draining [1-4] request", d.log_text()), d.log_text()
    finally:
        d.cleanup()


@test
def sigterm_grace_cancels_and_exits_0():
    d = Daemon(adapters={}, args=["--step-delay-ms", "20", "--shutdown-grace", "0.3"])
    try:
        out = [None] * 3
        ts = [threading.Thread(target=collect, args=(d, LONG, out, i)) for i in range(3)]
        for t in ts:
            t.start()
        d.wait_metric("symlora_num_requests_running", lambda v: v == 3, timeout=5)
        t0 = time.time()
        d.proc.send_signal(signal.SIGTERM)
        assert d.proc.wait(10) == 0
        assert time.time() - t0 < 5
        for t in ts:
            t.join()
        for r in out:
            st, events, done = r
            assert st == 200 and done, r
            assert events[-1]["choices"][0]["finish_reason"] == "abort", events[-1]
    finally:
        d.cleanup()


@test
def sigterm_storm_during_teardown_exits_0():
    """SIGTERM after SIGTERM, as fast as they can be sent, until the daemon is gone: it must
    still exit 0. (It once closed its signal watchers before the final teardown, which put back
    the default action: a SIGTERM then killed it with the signal.)"""
    for i in range(5):
        d = Daemon(args=["--shutdown-grace", "1"])
        try:
            pid = d.proc.pid
            sent = 0
            while d.proc.poll() is None:
                try:
                    os.kill(pid, signal.SIGTERM)
                    sent += 1
                except ProcessLookupError:
                    break
            rc = d.proc.wait()
            assert rc == 0, "run %d: exit status %d after %d SIGTERMs\n%s" % (i, rc, sent, d.log_text()[-1500:])
        finally:
            d.cleanup()


@test
def sighup_keeps_serving():
    d = Daemon(adapters={})
    try:
        d.proc.send_signal(signal.SIGHUP)
        time.sleep(0.2)
        assert d.proc.poll() is None and d.get("/health")[0] == 200
        assert "SIGHUP" in d.log_text()
        assert d.stop() == 0
    finally:
        d.cleanup()


@test
def help_lists_every_option():
    r = subprocess.run([DAEMON, "--help"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, r
    for opt in ["--model", "--store", "--listen", "--adapter", "--config", "--max-batch-tokens", "--max-running",
                "--max-waiting", "--prefill-chunk", "--kv-blocks", "--max-body-bytes", "--shutdown-grace",
                "--log-format", "--chat-template"]:
        assert opt in r.stdout, opt
    assert "(default: 127.0.0.1:8080)" in r.stdout
    r = subprocess.run([DAEMON, "--model", "x"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 2 and "--store" in r.stderr, r
    r = subprocess.run([DAEMON, "--bogus"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 2 and "unknown option" in r.stderr, r


@test
def config_file_and_json_logs():
    import tempfile
    tmp = tempfile.mkdtemp()
    cfg = os.path.join(tmp, "symlorad.conf")
    with open(cfg, "w") as f:
        f.write("# test config\nmodel-name = tiny-base\nmax_running = 3\nlog-format = json\n"
                "adapter = mine=%s\n" % os.path.join(FIXTURES, "adapters", "llama-tiny", "lora-qv-r4"))
    d = Daemon(adapters={}, args=["--config", cfg])
    try:
        st, _, body = d.get("/v1/models")
        ids = [m["id"] for m in json.loads(body)["data"]]
        assert ids == ["tiny-base", "mine"], ids
        # ignore_eos: two tokens whatever the sampling draws (an EOS drawn first made this flaky)
        st, j, _ = d.post("/v1/completions", dict(model="tiny-base", prompt="x", max_tokens=2, ignore_eos=True))
        assert st == 200, j
        assert d.stop() == 0
        lines = [json.loads(l) for l in d.log_text().splitlines() if l.strip()]
        assert all({"ts", "level", "msg"} <= set(l) for l in lines), lines[:3]
        reqs = [l for l in lines if l["msg"] == "request" and l.get("path") == "/v1/completions"]
        assert reqs and reqs[0]["status"] == 200 and reqs[0]["completion_tokens"] == 2, reqs
        assert os.path.isdir(os.path.join(d.tmp, "store")), "the store directory was not created"
    finally:
        d.cleanup()


if __name__ == "__main__":
    os.chdir(os.path.dirname(os.path.abspath(__file__)))
    main()
