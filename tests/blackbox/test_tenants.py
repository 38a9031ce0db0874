"""Tenants and API keys: 401 without a valid key, every tenant sees and touches only its own
adapters (another's is a 404 exactly like a missing one), admins address TENANT/NAME, the keys
file must be private and is reloaded on SIGHUP, keys never appear in the log."""
import hashlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time

from harness import DAEMON, FIXTURES, TIMEOUT, Daemon, expected, fixture_adapters, main, test

EXP = expected()["models"]["llama-tiny"]
FIX = fixture_adapters()
KEYS = {"alice": "sk-alice-0123456789", "bob": "sk-bob-abcdefghij", "root": "sk-root-admin-key-42",
        "carol": "sk-carol-new-key"}


def h(key):
    return hashlib.sha256(key.encode()).hexdigest()


def write_keys(path, lines, mode=0o600):
    with open(path, "w") as f:
        f.write("# sha256 tenant role\n\n" + "\n".join(lines) + "\n")
    os.chmod(path, mode)


_keyfile = os.path.join(tempfile.mkdtemp(prefix="symlora-keys-"), "api-keys")
write_keys(_keyfile, ["%s alice tenant" % h(KEYS["alice"]), "%s bob tenant" % h(KEYS["bob"]),
                      "%s ops admin" % h(KEYS["root"])])


def keyed_daemon():
    return Daemon(adapters={"shared": FIX["lora-qv-r4"]}, args=["--api-keys", _keyfile, "--store-rescan-ms", "0"])


def auth(who):
    return {"Authorization": "Bearer " + KEYS[who]}


def req(d, method, path, who=None, body=None, headers=None):
    hd = dict(auth(who) if who else {})
    hd.update(headers or {})
    st, _, data = d.request(method, path, body, headers=hd)
    try:
        return st, json.loads(data)
    except ValueError:
        return st, data


def upload(d, who, name, fix):
    c = open(os.path.join(FIX[fix], "adapter_config.json"), "rb").read()
    w = open(os.path.join(FIX[fix], "adapter_model.safetensors"), "rb").read()
    b = b"b0undary"
    body = b"".join(b"--" + b + b'\r\nContent-Disposition: form-data; name="' + n + b'"; filename="f"\r\n\r\n' + v + b"\r\n"
                    for n, v in ((b"config", c), (b"weights", w))) + b"--" + b + b"--\r\n"
    return req(d, "PUT", "/v1/adapters/" + name, who, body,
               {"Content-Type": "multipart/form-data; boundary=" + b.decode()})


def complete(d, who, model, n=12):
    prompt = EXP["prompts"][1]
    body = dict(model=model, prompt=prompt, max_tokens=n, temperature=0, logprobs=0, return_tokens_as_token_ids=True,
                ignore_eos=True)
    st, j = req(d, "POST", "/v1/completions", who, body)
    if st != 200:
        return st, j
    return st, [int(t.split(":")[1]) for t in j["choices"][0]["logprobs"]["tokens"]]


GOLD = {f: EXP["cases"][f]["greedy"][1] for f in FIX}


@test
def no_key_or_wrong_key_is_401(d):
    routes = [("GET", "/v1/models", None), ("GET", "/v1/adapters", None), ("GET", "/v1/adapters/x", None),
              ("DELETE", "/v1/adapters/x", None), ("PUT", "/v1/adapters/x", b""),
              ("POST", "/v1/completions", {"model": "llama-tiny", "prompt": "x"}),
              ("POST", "/v1/chat/completions", {"model": "llama-tiny", "messages": []}),
              ("POST", "/tokenize", {"prompt": "x"}), ("POST", "/detokenize", {"tokens": [1]}),
              ("POST", "/v1/load_lora_adapter", {}), ("POST", "/v1/unload_lora_adapter", {})]
    bad = [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Bearer " + KEYS["alice"] + "x"},
           {"Authorization": "Basic " + KEYS["alice"]}, {"Authorization": "Bearer"},
           {"Authorization": "Bearer " + h(KEYS["alice"])}]  # the hash itself is not a key
    for method, path, body in routes:
        for hd in bad:
            st, j = req(d, method, path, None, body, hd)
            assert st == 401, (method, path, hd, st, j)
            assert j["error"]["code"] == "invalid_api_key" and j["error"]["type"] == "authentication_error", j
    st, _, _ = d.request("GET", "/health")
    assert st == 200
    st, _, data = d.request("GET", "/metrics")  # open, for scrapers: counters only, no names
    assert st == 200 and b"symlora_auth_failures_total" in data
    assert b"alice" not in data and b"bob" not in data
    st, j = req(d, "GET", "/v1/models", "alice", headers={"Authorization": "bearer  " + KEYS["alice"] + " "})
    assert st == 200, j  # the scheme is case-insensitive, spaces around the key are fine


@test
def tenants_see_and_touch_only_their_own(d):
    assert upload(d, "alice", "x", "symlora-qo-r8")[0] == 201
    assert upload(d, "alice", "only-alice", "symlora-all-r4")[0] == 201
    # Bob: x and only-alice do not exist for him, exactly like a name nobody has.
    missing = [req(d, "GET", "/v1/adapters/nobody-has-this", "bob"), req(d, "DELETE", "/v1/adapters/nobody-has-this", "bob")]
    for ref in ("only-alice", "alice/only-alice", "alice%2Fonly-alice"):
        for i, method in enumerate(("GET", "DELETE")):
            st, j = req(d, method, "/v1/adapters/" + ref, "bob")
            assert st == 404 and st == missing[i][0], (method, ref, st, j)
            want = missing[i][1]["error"]
            assert j["error"]["code"] == want["code"] and j["error"]["type"] == want["type"], (j, want)
            assert j["error"]["message"] == want["message"].replace("nobody-has-this", ref.replace("%2F", "/")), (j, want)
    st, j = req(d, "GET", "/v1/adapters", "bob")
    assert st == 200 and [a["name"] for a in j["data"]] == ["shared"], j  # only the pinned one
    st, j = req(d, "GET", "/v1/models", "bob")
    assert [m["id"] for m in j["data"]] == ["llama-tiny", "shared"], j
    for model in ("only-alice", "alice/only-alice"):
        st, j = complete(d, "bob", model)
        assert st == 404 and j["error"]["code"] == "model_not_found", j
        st2, j2 = complete(d, "bob", "nobody-has-this")
        assert st2 == 404 and j2["error"]["code"] == j["error"]["code"]
    st, j = upload(d, "bob", "alice/x", "lora-all-r8")
    assert st == 404, j  # bob cannot write into alice's namespace
    st, j = req(d, "POST", "/v1/unload_lora_adapter", "bob", {"lora_name": "only-alice"})
    assert st == 404, j
    # Bob's own "x" is another adapter: alice's stays as it was.
    st, j = upload(d, "bob", "x", "lora-all-r8")
    assert st == 201 and j["tenant"] == "bob" and j["version"] == 1, j
    assert complete(d, "bob", "x") == (200, GOLD["lora-all-r8"])
    assert complete(d, "alice", "x") == (200, GOLD["symlora-qo-r8"])
    st, j = req(d, "GET", "/v1/adapters/x", "alice")
    assert j["version"] == 1 and j["tenant"] == "alice" and j["peft_type"] == "SYMLORA", j
    st, j = req(d, "DELETE", "/v1/adapters/x", "bob")
    assert st == 200, j
    assert complete(d, "alice", "x") == (200, GOLD["symlora-qo-r8"])
    # Alice lists hers (and the pinned one); /v1/models too; she may write her own tenant/name.
    st, j = req(d, "GET", "/v1/adapters", "alice")
    assert sorted(a["name"] for a in j["data"]) == ["only-alice", "shared", "x"], j
    st, j = req(d, "GET", "/v1/models", "alice")
    assert sorted(m["id"] for m in j["data"][1:]) == ["only-alice", "shared", "x"], j
    assert req(d, "GET", "/v1/adapters/alice/x", "alice")[0] == 200
    assert complete(d, "alice", "shared") == (200, GOLD["lora-qv-r4"])
    # The store is laid out by tenant; nothing of alice's under bob.
    store = os.path.join(d.tmp, "store")
    assert sorted(os.listdir(os.path.join(store, "alice"))) == ["only-alice", "x"]
    assert os.listdir(os.path.join(store, "bob")) == []


@test
def admin_addresses_tenant_slash_name(d):
    assert upload(d, "alice", "adm", "lora-qv-r4")[0] in (200, 201)
    st, j = req(d, "GET", "/v1/adapters/alice/adm", "root")
    assert st == 200 and j["tenant"] == "alice", j
    st, j = req(d, "GET", "/v1/adapters/alice%2Fadm", "root")
    assert st == 200 and j["tenant"] == "alice", j
    assert complete(d, "root", "alice/adm") == (200, GOLD["lora-qv-r4"])
    st, j = req(d, "GET", "/v1/adapters", "root")  # every tenant
    assert ("alice", "adm") in [(a["tenant"], a["name"]) for a in j["data"]], j
    st, j = req(d, "GET", "/v1/adapters?tenant=alice", "root")
    assert {a["tenant"] for a in j["data"] if not a["pinned"]} == {"alice"}, j
    st, j = upload(d, "root", "alice/adm", "symlora-qo-r16-bf16")  # replaces alice's
    assert st == 200 and j["tenant"] == "alice" and j["version"] == 2, j
    assert complete(d, "alice", "adm") == (200, GOLD["symlora-qo-r16-bf16"])
    st, j = req(d, "GET", "/v1/adapters/adm", "root")  # a plain name is the admin's own tenant ("ops")
    assert st == 404, j
    st, j = req(d, "DELETE", "/v1/adapters/alice/adm", "root")
    assert st == 200, j
    assert req(d, "GET", "/v1/adapters/adm", "alice")[0] == 404
    for bad in ("alice/", "/adm", "alice/adm/x", "Alice/adm", "..%2Fadm"):
        st, j = req(d, "GET", "/v1/adapters/" + bad, "root")
        assert st == 400, (bad, st, j)


@test
def keys_never_logged(d):
    log = d.log_text()
    for k in KEYS.values():
        assert k not in log
    for k in ("alice", "bob", "root"):
        assert h(KEYS[k]) not in log


@test
def every_adapter_route_refuses_another_tenants_adapter(d):
    """The routes test_tenants' other tests do not cover: chat (streamed and not), a streamed
    completion, PUT and unload through TENANT/NAME and its %2F form, ?tenant= on the list."""
    assert upload(d, "alice", "priv", "symlora-qo-r8")[0] in (200, 201)
    before = req(d, "GET", "/v1/adapters/priv", "alice")[1]
    chat = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}
    for model in ("priv", "alice/priv"):
        for path, body in (("/v1/chat/completions", dict(chat, model=model)),
                           ("/v1/chat/completions", dict(chat, model=model, stream=True)),
                           ("/v1/completions", {"model": model, "prompt": "x", "max_tokens": 2, "stream": True})):
            st, j = req(d, "POST", path, "bob", body)
            assert st == 404 and j["error"]["code"] == "model_not_found", (path, model, st, j)
    for ref in ("alice/priv", "alice%2Fpriv"):
        st, j = upload(d, "bob", ref, "lora-qv-r4")
        assert st == 404, (ref, st, j)
        st, j = req(d, "POST", "/v1/unload_lora_adapter", "bob", {"lora_name": ref.replace("%2F", "/")})
        assert st == 404, (ref, st, j)
    st, j = req(d, "GET", "/v1/adapters?tenant=alice", "bob")
    assert st == 200 and all(a["pinned"] or a["tenant"] == "bob" for a in j["data"]), j
    after = req(d, "GET", "/v1/adapters/priv", "alice")[1]
    assert after["version"] == before["version"] and after["sha256"] == before["sha256"], (before, after)
    assert complete(d, "alice", "priv") == (200, GOLD["symlora-qo-r8"])


@test
def load_lora_adapter_cannot_reach_another_tenant():
    imp = tempfile.mkdtemp(prefix="symlora-import-")
    shutil.copytree(FIX["lora-all-r8"], os.path.join(imp, "lora"))
    d = Daemon(adapters={}, args=["--api-keys", _keyfile, "--import-dir", imp, "--store-rescan-ms", "0"])
    try:
        assert upload(d, "alice", "mine", "symlora-qo-r8")[0] == 201
        for name in ("alice/mine", "alice/new"):
            for inplace in (False, True):
                st, j = req(d, "POST", "/v1/load_lora_adapter", "bob",
                            {"lora_name": name, "lora_path": "lora", "load_inplace": inplace})
                assert st == 404, (name, inplace, st, j)
        assert req(d, "GET", "/v1/adapters/new", "alice")[0] == 404
        assert complete(d, "alice", "mine") == (200, GOLD["symlora-qo-r8"])
        st, j = req(d, "POST", "/v1/load_lora_adapter", "bob", {"lora_name": "mine", "lora_path": "lora"})
        assert st == 200, j  # bob's own "mine"
        assert complete(d, "bob", "mine") == (200, GOLD["lora-all-r8"])
        assert complete(d, "alice", "mine") == (200, GOLD["symlora-qo-r8"])
        st, j = req(d, "POST", "/v1/load_lora_adapter", "root", {"lora_name": "alice/adm", "lora_path": "lora"})
        assert st == 200, j  # an admin may
        assert complete(d, "alice", "adm") == (200, GOLD["lora-all-r8"])
        assert d.stop() == 0
    finally:
        d.cleanup()
        shutil.rmtree(imp, ignore_errors=True)


@test
def keys_never_logged_even_at_debug_level():
    """Valid, invalid and malformed keys, on open and closed routes, with debug-level text and
    JSON logs: neither a key nor its SHA-256 (hex, either case) appears in stdout or stderr."""
    wrong = ["sk-wrong-key-0123456789", KEYS["alice"][:-1], KEYS["alice"] + "0", "x" * 300]
    for fmt in ("text", "json"):
        d = Daemon(adapters={}, args=["--api-keys", _keyfile, "--store-rescan-ms", "0", "--log-level", "debug",
                                      "--log-format", fmt])
        try:
            for who in ("alice", "root"):
                assert req(d, "GET", "/v1/adapters", who)[0] == 200
                assert complete(d, who, "llama-tiny")[0] == 200
                assert upload(d, who, "k", "lora-qv-r4")[0] in (200, 201)
            for k in wrong:
                for hd in ({"Authorization": "Bearer " + k}, {"Authorization": k}, {"Authorization": "Basic " + k},
                           {"X-Api-Key": k}):
                    assert req(d, "GET", "/v1/models", headers=hd)[0] == 401
                    assert req(d, "GET", "/health", headers=hd)[0] == 200
            assert d.stop() == 0
            log = d.log_text()
            assert "request" in log and "401" in log, log[-500:]
            for k in list(KEYS.values()) + wrong:
                for s in (k, h(k), h(k).upper(), h(k)[:16]):
                    assert s not in log, (fmt, s)
        finally:
            d.cleanup()


@test
def keys_file_must_be_private_and_well_formed():
    tmp = tempfile.mkdtemp()
    path = os.path.join(tmp, "keys")
    base = [DAEMON, "--model", os.path.join(FIXTURES, "models", "llama-tiny"), "--store", os.path.join(tmp, "store"),
            "--listen", "127.0.0.1:0", "--api-keys", path]
    cases = [(["%s alice tenant" % h("k")], 0o644, "chmod 600"),
             (["%s alice tenant" % h("k")], 0o640, "chmod 600"),
             (["%s alice tenant" % h("k")], 0o604, "chmod 600"),  # world-readable alone
             (["%s alice tenant" % h("k")], 0o620, "chmod 600"),  # group-writable
             (["%s alice tenant" % h("k")], 0o602, "chmod 600"),
             (["%s alice owner" % h("k")], 0o600, "role"),
             (["abc alice tenant"], 0o600, "SHA-256"),
             (["%s Alice tenant" % h("k")], 0o600, "tenant"),
             (["%s alice tenant" % h("k"), "%s bob tenant" % h("k")], 0o600, "twice"),
             (["# c", "%s alice tenant 0" % h("k")], 0o600, "keys:4: the weight '0'"),
             (["%s alice tenant max_store_bytes=lots" % h("k")], 0o600, "keys:3: max_store_bytes='lots'"),
             (["%s alice tenant 2" % h("k"), "%s alice tenant 3" % h("k2")], 0o600, "keys:4: tenant 'alice' has weight 2 on line 3"),
             ([], 0o600, "no keys")]
    for lines, mode, word in cases:
        write_keys(path, lines, mode)
        r = subprocess.run(base, capture_output=True, text=True, timeout=TIMEOUT)
        assert r.returncode != 0 and word in r.stderr, (lines, oct(mode), r.stderr[-500:])
    r = subprocess.run(base[:-1] + [os.path.join(tmp, "missing")], capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode != 0 and "missing" in r.stderr


@test
def sighup_reloads_keys():
    tmp = tempfile.mkdtemp()
    path = os.path.join(tmp, "keys")
    write_keys(path, ["%s alice tenant" % h(KEYS["alice"])])
    d = Daemon(adapters={}, args=["--api-keys", path, "--store-rescan-ms", "0"])
    try:
        assert req(d, "GET", "/v1/adapters", "alice")[0] == 200
        assert req(d, "GET", "/v1/adapters", "carol")[0] == 401
        write_keys(path, ["%s carol tenant" % h(KEYS["carol"])])
        d.proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 5
        while req(d, "GET", "/v1/adapters", "carol")[0] != 200 and time.time() < deadline:
            time.sleep(0.05)
        assert req(d, "GET", "/v1/adapters", "carol")[0] == 200
        assert req(d, "GET", "/v1/adapters", "alice")[0] == 401  # removed keys stop working
        # A broken file (world-readable) is refused and the keys in force stay.
        write_keys(path, ["%s alice tenant" % h(KEYS["alice"])], 0o644)
        d.proc.send_signal(signal.SIGHUP)
        time.sleep(0.3)
        assert req(d, "GET", "/v1/adapters", "carol")[0] == 200
        assert req(d, "GET", "/v1/adapters", "alice")[0] == 401
        assert "keeping the keys loaded before" in d.log_text()
        # So is a malformed line, named in the log; the weight and limit columns are accepted.
        write_keys(path, ["%s alice tenant 2 max_adapters=3" % h(KEYS["alice"]), "%s carol tenant x" % h(KEYS["carol"])])
        d.proc.send_signal(signal.SIGHUP)
        time.sleep(0.3)
        assert req(d, "GET", "/v1/adapters", "carol")[0] == 200
        assert req(d, "GET", "/v1/adapters", "alice")[0] == 401
        assert "keys:4: the weight 'x'" in d.log_text(), d.log_text()[-2000:]
        write_keys(path, ["%s alice tenant 2 max_adapters=3" % h(KEYS["alice"])])
        d.proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 5
        while req(d, "GET", "/v1/adapters", "alice")[0] != 200 and time.time() < deadline:
            time.sleep(0.05)
        assert req(d, "GET", "/v1/adapters", "alice")[0] == 200
        assert d.stop() == 0
    finally:
        d.cleanup()


@test
def without_keys_everything_is_the_default_tenant():
    d = Daemon(adapters={}, args=["--store-rescan-ms", "0"])
    try:
        assert upload(d, None, "open", "lora-qv-r4")[0] == 201
        st, j = req(d, "GET", "/v1/adapters/open")
        assert st == 200 and j["tenant"] == "default", j
        st, j = req(d, "GET", "/v1/adapters", headers={"Authorization": "Bearer anything"})
        assert st == 200, j  # no keys file: auth is off
        assert os.path.isdir(os.path.join(d.tmp, "store", "default", "open"))
        assert "listening on http://127.0.0.1:" in d.log_text() and "auth off" in d.log_text()
        assert d.stop() == 0
    finally:
        d.cleanup()


if __name__ == "__main__":
    os.chdir(os.path.dirname(os.path.abspath(__file__)))
    main(keyed_daemon)
