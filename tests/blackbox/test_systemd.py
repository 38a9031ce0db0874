#!/usr/bin/env python3
"""test_systemd.py — the systemd unit, `make install`, the example config and Type=notify.

Without systemd as PID 1 (as here), the unit cannot really be started, so this checks what can
be checked for real:
  - `systemd-analyze verify` on systemd/symlorad.service (and on the unit `make install`
    writes), `systemd-analyze security --offline` exposure, the required directives;
  - `make install` with DESTDIR and PREFIX=/usr/local and /usr: paths and ExecStart;
  - systemd/symlorad.conf.example names every option of `symlorad --help` and the daemon
    accepts it (all options uncommented);
  - the unit's privileged copy of /etc/symlora/api-keys for the dynamic user, run on stand-in
    directories, and the daemon as an unprivileged user reading it (start and reload);
  - symlorad under a real NOTIFY_SOCKET (a unix datagram socket bound here, as systemd does,
    both a path and an abstract name): READY=1 arrives from the daemon's own PID once /health
    answers, SIGHUP (ExecReload) gives RELOADING=1 then READY=1 and keeps it serving, SIGTERM
    sends STOPPING=1 and exits 0;
  - the hardening the unit asks for, applied by hand: MemoryDenyWriteExecute (PR_SET_MDWE:
    PCRE2's JIT is refused, the interpreter must give the same completion) with
    NoNewPrivileges, and SystemCallFilter=@system-service (every system call the daemon makes
    under strace, from start through a completion to exit, is in that set).
A check that cannot run here (no systemd-analyze, no strace, an old kernel) is printed as
"skip", never counted as passed. Last line: "# N passed, N failed".
Env: SL_BUILD (build directory, default build).
"""
import ctypes
import http.client
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
os.chdir(ROOT)
BUILD = os.environ.get("SL_BUILD", "build")
DAEMON = os.path.abspath(os.path.join(BUILD, "symlorad"))
UNIT = "systemd/symlorad.service"
CONF = "systemd/symlorad.conf.example"
MODEL = os.path.abspath("tests/fixtures/models/llama-tiny")

passed = failed = 0


def ok(name):
    global passed
    passed += 1
    print(f"ok   {name}", flush=True)


def fail(name, why=""):
    global failed
    failed += 1
    print(f"FAIL {name}" + (f": {why}" if why else ""), flush=True)


def skip(name, why):
    print(f"skip {name}: {why}", flush=True)


def check(name, cond, why=""):
    (ok if cond else lambda n: fail(n, why))(name)


def tmpdir():
    d = tempfile.mkdtemp(prefix="sl-systemd-")
    TMPS.append(d)
    return d


TMPS = []
SYSTEMD_ANALYZE = shutil.which("systemd-analyze")
HAVE_DAEMON = os.access(DAEMON, os.X_OK)


# ---------------------------------------------------------------- the unit file
def unit_copy(src, exec_path):
    """The unit with ExecStart's binary replaced (verify insists that it exists)."""
    d = tmpdir()
    text = open(src).read()
    text = re.sub(r"^(ExecStart=)\S+", lambda m: m.group(1) + exec_path, text, flags=re.M)
    path = os.path.join(d, "symlorad.service")
    with open(path, "w") as f:
        f.write(text)
    return path


def verify(name, path):
    if not SYSTEMD_ANALYZE:
        skip(name, "systemd-analyze is not installed")
        return
    r = subprocess.run([SYSTEMD_ANALYZE, "verify", "--man=no", path], capture_output=True, text=True,
                       cwd=os.path.dirname(path), timeout=60)
    out = (r.stdout + r.stderr).strip()
    # verify exits 0 even on unknown keys; any message about the unit counts as a failure.
    check(name, r.returncode == 0 and not out, f"rc {r.returncode}: {out[:600]}")


def test_unit():
    text = open(UNIT).read()
    kv = {}
    for line in text.splitlines():
        m = re.match(r"^([A-Za-z]+)=(.*)$", line)
        if m:
            kv.setdefault(m.group(1), []).append(m.group(2))
    want = {
        "Type": "notify", "ExecStart": "/usr/local/bin/symlorad --config /etc/symlora/symlorad.conf",
        "DynamicUser": "yes", "StateDirectory": "symlora", "RuntimeDirectory": "symlora",
        "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes", "PrivateDevices": "yes",
        "NoNewPrivileges": "yes", "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
        "MemoryDenyWriteExecute": "yes", "SystemCallFilter": "@system-service", "LockPersonality": "yes",
        "RestrictNamespaces": "yes", "RestrictRealtime": "yes", "ProtectKernelTunables": "yes",
        "ProtectKernelModules": "yes", "ProtectKernelLogs": "yes", "ProtectControlGroups": "yes",
        "CapabilityBoundingSet": "",
    }
    bad = [f"{k}={v!r} (has {kv.get(k)})" for k, v in want.items() if kv.get(k) != [v]]
    for k in ("TimeoutStopSec", "LimitNOFILE"):
        if k not in kv:
            bad.append(f"{k} missing")
    if (kv.get("ExecReload") or [""])[-1] != "/bin/kill -HUP $MAINPID":
        bad.append(f"the last ExecReload must be '/bin/kill -HUP $MAINPID' (has {kv.get('ExecReload')})")
    check("unit has the required directives", not bad, "; ".join(bad))

    verify("systemd-analyze verify symlorad.service",
           unit_copy(UNIT, DAEMON if HAVE_DAEMON else "/bin/true"))

    if not SYSTEMD_ANALYZE:
        skip("systemd-analyze security exposure", "systemd-analyze is not installed")
        return
    r = subprocess.run([SYSTEMD_ANALYZE, "security", "--offline=yes", unit_copy(UNIT, "/bin/true")],
                       capture_output=True, text=True, timeout=60)
    m = re.search(r"Overall exposure level for \S+: ([0-9.]+)", r.stdout + r.stderr)
    if not m:
        skip("systemd-analyze security exposure", "no --offline mode here: " + (r.stderr.strip()[:200]))
    else:
        check(f"systemd-analyze security exposure {m.group(1)} <= 2.0", float(m.group(1)) <= 2.0)


# ---------------------------------------------------------------- make install
def test_install():
    if not HAVE_DAEMON:
        skip("make install", f"{DAEMON} is not built")
        return
    for prefix, unitdir in (("/usr/local", "/usr/local/lib/systemd/system"), ("/usr", "/lib/systemd/system")):
        dest = tmpdir()
        # -o: take the existing binary as up to date, never rebuild from here.
        r = subprocess.run(["make", "--no-print-directory", "-s", f"BUILD={BUILD}", "-o", f"{BUILD}/symlorad",
                            "install", f"PREFIX={prefix}", f"DESTDIR={dest}"],
                           capture_output=True, text=True, timeout=120)
        name = f"make install PREFIX={prefix} DESTDIR=…"
        if r.returncode != 0:
            fail(name, (r.stdout + r.stderr)[-600:])
            continue
        binp = dest + prefix + "/bin/symlorad"
        unit = dest + unitdir + "/symlorad.service"
        conf = dest + "/etc/symlora/symlorad.conf.example"
        problems = [p for p in (binp, unit, conf) if not os.path.isfile(p)]
        if not problems:
            if not os.access(binp, os.X_OK):
                problems.append("binary not executable")
            if f"ExecStart={prefix}/bin/symlorad --config /etc/symlora/symlorad.conf\n" not in open(unit).read():
                problems.append("ExecStart not rewritten to PREFIX")
            if oct(os.stat(unit).st_mode & 0o777) != "0o644":
                problems.append(f"unit mode {oct(os.stat(unit).st_mode & 0o777)}")
        check(name + f" → bin, {unitdir}, /etc/symlora", not problems, "; ".join(problems))
        cli = next((c for c in ("clients/symlora", "clients/symlora.py") if os.path.isfile(c)), None)
        if cli:
            target = f"{prefix}/lib/symlora/clients/{os.path.basename(cli)}"
            link = dest + prefix + "/bin/symlora"
            good = os.path.islink(link) and os.readlink(link) == target
            r = subprocess.run([sys.executable, dest + target, "--help"], capture_output=True, text=True,
                               timeout=30) if good else None
            check(f"make install PREFIX={prefix}: the symlora client runs from {prefix}/lib/symlora/clients",
                  good and r.returncode == 0,
                  f"link {os.readlink(link) if os.path.islink(link) else None}" + (f", --help: {r.stderr[-300:]}" if r else ""))
        if not problems and prefix == "/usr":
            verify("systemd-analyze verify on the installed unit", unit_copy(unit, binp))
        r = subprocess.run(["make", "--no-print-directory", "-s", "uninstall", f"PREFIX={prefix}", f"DESTDIR={dest}"],
                           capture_output=True, text=True, timeout=60)
        left = [os.path.join(dp, f) for dp, _, fs in os.walk(dest) for f in fs]
        check(f"make uninstall PREFIX={prefix} removes every file", r.returncode == 0 and not left,
              f"rc {r.returncode}, left {left}")


# ---------------------------------------------------------------- the daemon
def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def notify_socket(kind):
    """A datagram socket as systemd binds it; returns (socket, NOTIFY_SOCKET value)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    if kind == "abstract":
        name = f"@symlora/test_systemd/{os.getpid()}/{time.monotonic_ns()}"
        s.bind("\0" + name[1:])
    else:
        name = os.path.join(tmpdir(), "notify")
        s.bind(name)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    return s, name


def recv_notify(s, timeout):
    """One notification: (text, sender pid) or (None, None) after TIMEOUT seconds."""
    s.settimeout(timeout)
    try:
        data, anc, _, _ = s.recvmsg(4096, socket.CMSG_SPACE(12))
    except socket.timeout:
        return None, None
    pid = None
    for level, typ, cdata in anc:
        if level == socket.SOL_SOCKET and typ == socket.SCM_CREDENTIALS:
            pid = struct.unpack("iII", cdata[:12])[0]
    return data.decode(errors="replace"), pid


def request(port, method, path, body=None, timeout=30):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        hdr = {"Content-Type": "application/json"} if body is not None else {}
        c.request(method, path, body=json.dumps(body) if body is not None else None, headers=hdr)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def start(args, env_extra=None, preexec=None, wrapper=()):
    env = dict(os.environ)
    env.pop("NOTIFY_SOCKET", None)
    env.update(env_extra or {})
    log = open(os.path.join(tmpdir(), "daemon.log"), "w+")
    p = subprocess.Popen(list(wrapper) + [DAEMON] + args, stdout=log, stderr=subprocess.STDOUT, env=env,
                         preexec_fn=preexec)
    p.log = log
    return p


def logtail(p, n=15):
    p.log.flush()
    p.log.seek(0)
    return "".join(p.log.readlines()[-n:])


def stop(p, timeout=30, term=True):
    """Waits for the daemon's exit (after one SIGTERM unless TERM is false); its status."""
    if term and p.poll() is None:
        p.send_signal(signal.SIGTERM)
    try:
        return p.wait(timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        return "timeout"


def wait_health(port, p, seconds=60):
    end = time.time() + seconds
    while time.time() < end and p.poll() is None:
        try:
            if request(port, "GET", "/health", timeout=2)[0] == 200:
                return True
        except OSError:
            pass
        time.sleep(0.05)
    return False


def base_args(port):
    return ["--model", MODEL, "--store", os.path.join(tmpdir(), "store"), "--listen", f"127.0.0.1:{port}"]


def test_notify(kind):
    s, name = notify_socket(kind)
    port = free_port()
    t0 = time.time()
    p = start(base_args(port), {"NOTIFY_SOCKET": name})
    try:
        msg, pid = recv_notify(s, 60)
        while msg is not None and "READY=1" not in msg.split("\n"):
            msg, pid = recv_notify(s, 60)  # STATUS= or other lines before READY=1 are fine
        ready = time.time() - t0
        if msg is None:
            fail(f"READY=1 on a {kind} NOTIFY_SOCKET", "nothing within 60 s; " + logtail(p))
            return
        check(f"READY=1 on a {kind} NOTIFY_SOCKET ({ready:.2f} s), from the daemon's own PID (NotifyAccess=main)",
              pid == p.pid, f"sender pid {pid}, daemon pid {p.pid}")
        try:
            st, _ = request(port, "GET", "/health", timeout=5)
        except OSError as e:
            st = str(e)
        check(f"/health answers at once after READY=1 ({kind})", st == 200, f"got {st}")
        if kind == "path":
            p.send_signal(signal.SIGHUP)
            seen = []
            msg, _ = recv_notify(s, 10)
            while msg is not None:
                seen += msg.split("\n")
                if "READY=1" in seen:
                    break
                msg, _ = recv_notify(s, 10)
            check("SIGHUP (ExecReload) → RELOADING=1, then READY=1 again",
                  "RELOADING=1" in seen and "READY=1" in seen and seen.index("RELOADING=1") < seen.index("READY=1"),
                  f"got {seen}")
            try:
                st, _ = request(port, "GET", "/health", timeout=5)
            except OSError as e:
                st = str(e)
            check("SIGHUP (ExecReload) keeps the daemon serving", p.poll() is None and st == 200,
                  f"alive {p.poll() is None}, /health {st}")
        p.send_signal(signal.SIGTERM)
        msg, pid = recv_notify(s, 30)
        while msg is not None and "STOPPING=1" not in msg.split("\n"):
            msg, pid = recv_notify(s, 30)
        check(f"SIGTERM → STOPPING=1 ({kind})", msg is not None and pid == p.pid, f"msg {msg!r} pid {pid}")
        rc = stop(p, term=False)  # one SIGTERM, as systemd sends
        check(f"SIGTERM → exit status 0 ({kind})", rc == 0, f"exit {rc}; " + logtail(p))
    finally:
        stop(p)
        s.close()


def test_config():
    if not HAVE_DAEMON:
        return
    r = subprocess.run([DAEMON, "--help"], capture_output=True, text=True, timeout=30)
    opts = set(re.findall(r"^\s+--([a-z0-9-]+)", r.stdout, flags=re.M)) - {"help", "version", "config"}
    text = open(CONF).read()
    named = set(m.replace("_", "-") for m in re.findall(r"^[#;]?\s*([a-z0-9_-]+)\s*=", text, flags=re.M))
    missing = sorted(opts - named)
    unknown = sorted(named - opts)
    check(f"{CONF} names every option of --help ({len(opts)})", opts and not missing and not unknown,
          f"missing {missing}, unknown {unknown}")
    # Every option set: uncomment the commented assignments, point the paths at the fixtures.
    port = free_port()
    lines = []
    for line in text.splitlines():
        m = re.match(r"^#\s*([a-z0-9_-]+\s*=.*)$", line)
        if m:
            line = m.group(1)
        key = line.split("=", 1)[0].strip() if "=" in line and not line.startswith("#") else None
        if key == "model":
            line = f"model = {MODEL}"
        elif key == "store":
            line = f"store = {os.path.join(tmpdir(), 'store')}"
        elif key == "listen":
            line = f"listen = 127.0.0.1:{port}"
        elif key == "adapter":
            line = "adapter = ex=" + os.path.abspath("tests/fixtures/adapters/llama-tiny/symlora-qo-r8")
        elif key == "api-keys":
            keys = os.path.join(tmpdir(), "api-keys")
            write_keys(keys, [("k1", "acme", "tenant")])
            line = f"api-keys = {keys}"
        elif key == "import-dir":
            line = f"import-dir = {tmpdir()}"
        elif key is not None and line.split("=", 1)[1].strip() == "":
            continue  # an empty example value (model-name =) means "default": leave it out
        lines.append(line)
    conf = os.path.join(tmpdir(), "symlorad.conf")
    with open(conf, "w") as f:
        f.write("\n".join(lines) + "\n")
    p = start(["--config", conf])
    try:
        up = wait_health(port, p)
        check("the daemon starts from the example config, every option set", up, logtail(p))
    finally:
        rc = stop(p)
    check("… and exits 0 on SIGTERM", rc == 0, f"exit {rc}")


def write_keys(path, entries, mode=0o600):
    import hashlib
    with open(path, "w") as f:
        for key, tenant, role in entries:
            f.write(f"{hashlib.sha256(key.encode()).hexdigest()} {tenant} {role}\n")
    os.chmod(path, mode)


def unit_keys_command(directive):
    """The unit's privileged keys-copy command (the first DIRECTIVE= line starting with '+'), as
    the argv systemd would run: '$$' and '%%' unescaped, quoting parsed."""
    import shlex
    for line in open(UNIT).read().splitlines():
        if line.startswith(directive + "=+"):
            return shlex.split(line[len(directive) + 2:].replace("$$", "$").replace("%%", "%"))
    return None


def test_keys_copy():
    """DynamicUser and the keys file: the unit's ExecStartPre=+ / ExecReload=+ copy, run here
    as root on stand-in directories, then the daemon as an unprivileged user (as the dynamic
    user would be) reading the copy; a reload = copy + SIGHUP switches keys."""
    name = "keys copy of the unit (ExecStartPre=+, ExecReload=+) for an unprivileged daemon"
    if os.geteuid() != 0:
        skip(name, "needs root (chown, setuid)")
        return
    start_cmd, reload_cmd = unit_keys_command("ExecStartPre"), unit_keys_command("ExecReload")
    if not start_cmd or not reload_cmd:
        fail(name, "no ExecStartPre=+ / ExecReload=+ keys copy in the unit")
        return
    uid = gid = 65534
    pid = os.fork()  # can that user read the model (a checkout under /root could hide it)?
    if pid == 0:
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
        os._exit(0 if os.access(os.path.join(MODEL, "model.safetensors"), os.R_OK) else 1)
    if os.waitpid(pid, 0)[1] != 0:
        skip(name, f"{MODEL} is not readable by an unprivileged user")
        return
    base = tmpdir()
    os.chmod(base, 0o755)
    etc, run, store = (os.path.join(base, d) for d in ("etc", "run", "store"))
    for d in (etc, run, store):
        os.mkdir(d, 0o700)
    os.chown(run, uid, gid)
    os.chown(store, uid, gid)

    def localize(argv):
        return [a.replace("/etc/symlora/", etc + "/").replace("/run/symlora", run) for a in argv]

    write_keys(os.path.join(etc, "api-keys"), [("key-one", "acme", "tenant")])
    r = subprocess.run(localize(start_cmd), capture_output=True, text=True, timeout=30)
    copy = os.path.join(run, "api-keys")
    st = os.stat(copy) if os.path.exists(copy) else None
    check("ExecStartPre=+ copies /etc/symlora/api-keys to /run/symlora, 0400, owned by the service user",
          r.returncode == 0 and st and st.st_uid == uid and st.st_mode & 0o777 == 0o400,
          f"rc {r.returncode} {r.stderr.strip()}; {copy}: {st and (st.st_uid, oct(st.st_mode & 0o777))}")
    if not st:
        return

    def drop():
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)

    port = free_port()
    p = start(["--model", MODEL, "--store", store, "--listen", f"127.0.0.1:{port}", "--api-keys", copy],
              preexec=drop)
    try:
        if not wait_health(port, p):
            fail(name, "the unprivileged daemon did not come up: " + logtail(p))
            return

        def status(key):
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            try:
                c.request("GET", "/v1/models", headers={"Authorization": f"Bearer {key}"} if key else {})
                return c.getresponse().status
            finally:
                c.close()

        got = (status(None), status("key-one"), status("key-two"))
        check("the daemon as an unprivileged user reads the copy: no key 401, the key 200",
              got == (401, 200, 401), f"got {got}")
        write_keys(os.path.join(etc, "api-keys"), [("key-two", "acme", "tenant")])
        r = subprocess.run(localize(reload_cmd), capture_output=True, text=True, timeout=30)
        p.send_signal(signal.SIGHUP)
        got = None
        for _ in range(50):  # the reload is asynchronous: wait until it has happened
            time.sleep(0.1)
            got = (status("key-one"), status("key-two"))
            if got == (401, 200):
                break
        check("reload (ExecReload=+ copy, then SIGHUP) switches to the edited keys",
              r.returncode == 0 and got == (401, 200), f"rc {r.returncode} {r.stderr.strip()}, got {got}")
    finally:
        rc = stop(p)
    check("… and the unprivileged daemon exits 0 on SIGTERM", rc == 0, f"exit {rc}; " + logtail(p))


PR_SET_NO_NEW_PRIVS = 38
PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN = 65, 1


def mdwe_supported():
    """Whether PR_SET_MDWE works here (Linux 6.3+), tried in a child process."""
    pid = os.fork()
    if pid == 0:
        libc = ctypes.CDLL(None, use_errno=True)
        os._exit(0 if libc.prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0) == 0 else 1)
    return os.waitpid(pid, 0)[1] == 0


def harden():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    libc.prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0)


TEXT_REQ = {"model": "llama-tiny", "prompt": "Hello world, this is symlora: 12345!", "max_tokens": 8,
            "temperature": 0, "return_tokens_as_token_ids": True}


def completion(port):
    st, body = request(port, "POST", "/v1/completions", TEXT_REQ)
    if st != 200:
        return None
    d = json.loads(body)
    return d["choices"][0]["text"], d["usage"]


def test_mdwe():
    name = "MemoryDenyWriteExecute + NoNewPrivileges (PR_SET_MDWE): text completion equals the unhardened one"
    if not mdwe_supported():
        skip(name, "PR_SET_MDWE is not supported by this kernel (Linux < 6.3)")
        return
    results = []
    for pre in (None, harden):
        port = free_port()
        p = start(base_args(port), preexec=pre)
        try:
            if not wait_health(port, p):
                fail(name, ("hardened" if pre else "plain") + " daemon did not come up: " + logtail(p))
                return
            results.append(completion(port))
            if pre:
                status = open(f"/proc/{p.pid}/status").read()
                flags = re.search(r"^NoNewPrivs:\s*(\d)", status, re.M)
                if not flags or flags.group(1) != "1":
                    fail(name, "NoNewPrivs not set on the daemon")
                    return
        finally:
            rc = stop(p)
        if rc != 0:
            fail(name, f"exit {rc}")
            return
    check(name, results[0] is not None and results[0] == results[1], f"{results}")


def syscall_set(group, seen=None):
    seen = set() if seen is None else seen
    r = subprocess.run([SYSTEMD_ANALYZE, "syscall-filter", group], capture_output=True, text=True, timeout=30)
    out = set()
    for line in r.stdout.splitlines()[1:]:
        w = line.strip()
        if not w or w.startswith("#"):
            continue
        if w.startswith("@"):
            if w not in seen:
                seen.add(w)
                out |= syscall_set(w, seen)
        else:
            out.add(w)
    return out


def test_syscalls():
    name = "every system call of the daemon is in SystemCallFilter=@system-service"
    strace = shutil.which("strace")
    if not SYSTEMD_ANALYZE or not strace:
        skip(name, "needs systemd-analyze and strace (apt-get install strace)")
        return
    allowed = syscall_set("@system-service")
    if len(allowed) < 100:
        skip(name, f"systemd-analyze syscall-filter gave only {len(allowed)} names")
        return
    out = os.path.join(tmpdir(), "strace.out")
    port = free_port()
    p = start(base_args(port), wrapper=(strace, "-f", "-qq", "-o", out))
    try:
        if not wait_health(port, p, 120):
            fail(name, "daemon under strace did not come up: " + logtail(p))
            return
        completion(port)
        request(port, "GET", "/metrics")
        # SIGTERM to the daemon itself (strace's child), not to strace.
        kids = open(f"/proc/{p.pid}/task/{p.pid}/children").read().split()
        if kids:
            os.kill(int(kids[0]), signal.SIGTERM)
        stop(p, 60, term=False)
    finally:
        stop(p)
    used = set()
    for line in open(out):
        m = re.match(r"^\d+\s+([a-z0-9_]+)\(", line)
        if m:
            used.add(m.group(1))
    outside = sorted(used - allowed)
    check(f"{name} ({len(used)} distinct calls)", used and not outside, f"outside the set: {outside}")


def main():
    try:
        test_unit()
        test_install()
        if not HAVE_DAEMON:
            skip("the daemon under NOTIFY_SOCKET, config, hardening", f"{DAEMON} is not built")
        else:
            test_notify("path")
            test_notify("abstract")
            test_config()
            test_keys_copy()
            test_mdwe()
            test_syscalls()
    finally:
        for d in TMPS:
            shutil.rmtree(d, ignore_errors=True)
    print(f"# {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
