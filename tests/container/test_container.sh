#!/bin/sh
# test_container.sh — builds the Dockerfile for real and runs the image (make test-container).
#
# No container registry is reachable here, so this follows ../shared/CONTAINER-TESTING.md:
# podman (Docker engine is not needed), a private containers.conf (runc, ulimits), a
# debian:bookworm-slim base made locally with debootstrap from this machine's apt mirror and
# imported under that name (kept between runs; SL_REBUILD_BASE=1 makes it again), then
# `podman build --pull=never --format docker --network host`.
#
# Checks: the image builds; the runtime stage runs as a numeric non-root user and holds no
# compiler; the container answers /health and its own HEALTHCHECK passes; a mounted API keys
# file is in force (401 without the key); /v1/models and a
# completion (token-id prompt) works on the base model and on a preloaded, mounted adapter; an
# uploaded adapter, stored in the volume, serves a completion and is still there after the
# container is stopped and started again; the daemon process is not root (/proc of the
# container's PID 1 and `podman top`); `podman stop` (SIGTERM) ends it with exit status 0.
# Prints timings per phase and "# N passed, N failed" last. Build layers stay cached in podman's
# storage between runs (`podman image prune` reclaims the superseded ones). Needs root (or sudo) for apt-get,
# debootstrap and rootful podman. Env: SL_PORT (host port, default: a free one).
set -u
cd "$(dirname "$0")/../.." || exit 2
ROOT=$(pwd)
IMAGE=localhost/symlorad:test
BASE=docker.io/library/debian:bookworm-slim
NAME=symlorad-test-$$
MODEL=tests/fixtures/models/llama-tiny
ADAPTER=tests/fixtures/adapters/llama-tiny/symlora-qo-r8

passed=0; failed=0
ok() { passed=$((passed + 1)); echo "ok   $1"; }
fail() { failed=$((failed + 1)); echo "FAIL $1${2:+: $2}"; }
skip() { echo "skip $1${2:+: $2}"; }
check() { name=$1; shift; if "$@"; then ok "$name"; else fail "$name"; fi; }
now() { date +%s.%N; }
took() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
timing() { echo "# time $1: $2 s"; }
finish() { echo "# $passed passed, $failed failed"; [ "$failed" -eq 0 ]; exit $?; }

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

# 1. Tools.
t0=$(now)
missing=""
for p in podman buildah debootstrap runc curl python3; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "# installing:$missing"
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null \
        || { $SUDO apt-get update -qq && $SUDO env DEBIAN_FRONTEND=noninteractive \
             apt-get install -y -qq --no-install-recommends $missing >/dev/null; } \
        || { fail "install podman buildah debootstrap runc"; finish; }
fi
timing "tools" "$(took "$t0")"
PODMAN="$SUDO podman"

# 2. Private containers.conf: runc (crun fails on hybrid cgroups here) and ulimits within the
# hard limit; chroot isolation for RUN steps.
WORK=$(mktemp -d /tmp/symlora-container.XXXXXX)
cleanup() {
    $PODMAN rm -f -v "$NAME" >/dev/null 2>&1    # one name per call: podman rm gives up
    $PODMAN rm -f -v "$NAME-k8s" >/dev/null 2>&1  # on all of them if one is missing
    $SUDO rm -rf "$WORK"
}
trap cleanup EXIT INT TERM
nofile=$(ulimit -Hn)
[ "$nofile" = unlimited ] && nofile=1048576
cat > "$WORK/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=4096:4096"]

[engine]
runtime = "runc"
CONF
export CONTAINERS_CONF="$WORK/containers.conf" BUILDAH_ISOLATION=chroot
PODMAN="$SUDO env CONTAINERS_CONF=$CONTAINERS_CONF BUILDAH_ISOLATION=chroot podman"

# 3. The base image, made locally unless already there.
# The Debian mirror apt uses here (deb822 .sources or one-line sources.list), and its security one.
mirror_for() { # $1: suite → URI of the first source serving it
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        awk -v suite="$1" '
            /^[ \t]*$/ { if (uri != "" && has) { print uri; exit } uri = ""; has = 0; next }
            /^URIs:/ { uri = $2 }
            /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == suite) has = 1 }
            END { if (uri != "" && has) print uri }' "$f"
    done
    cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
        | awk -v suite="$1" '$1 == "deb" { u = ($2 ~ /^\[/) ? $3 : $2; s = ($2 ~ /^\[/) ? $4 : $3;
                                           if (s == suite) print u }'
}
if [ "${SL_REBUILD_BASE:-0}" != 1 ] && $PODMAN image exists "$BASE"; then
    echo "# base image $BASE present (cached; SL_REBUILD_BASE=1 makes it again)"
else
    MIRROR=$(mirror_for bookworm | head -n 1)
    SECURITY=$(mirror_for bookworm-security | head -n 1)
    [ -n "$MIRROR" ] || MIRROR=http://deb.debian.org/debian
    [ -n "$SECURITY" ] || SECURITY=http://deb.debian.org/debian-security
    echo "# debootstrap bookworm minbase from $MIRROR"
    t0=$(now)
    ROOTFS="$WORK/rootfs"
    if $SUDO debootstrap --variant=minbase bookworm "$ROOTFS" "$MIRROR" > "$WORK/debootstrap.log" 2>&1; then
        timing "debootstrap" "$(took "$t0")"
        $SUDO sh -c "printf '%s\n' 'deb $MIRROR bookworm main' 'deb $MIRROR bookworm-updates main' \
            'deb $SECURITY bookworm-security main' > '$ROOTFS/etc/apt/sources.list'"
        $SUDO sh -c "rm -rf '$ROOTFS'/var/lib/apt/lists/* '$ROOTFS'/var/cache/apt/*.bin \
            '$ROOTFS'/var/cache/apt/archives/*.deb '$ROOTFS'/var/log/*.log"
        t0=$(now)
        if $SUDO tar -C "$ROOTFS" -c . | $PODMAN import - "$BASE" > "$WORK/import.log" 2>&1; then
            timing "import" "$(took "$t0")"
        else
            cat "$WORK/import.log"
            fail "import base image"; finish
        fi
        $SUDO rm -rf "$ROOTFS"
    else
        tail -n 20 "$WORK/debootstrap.log"
        fail "debootstrap bookworm"; finish
    fi
fi

# 4. Build.
t0=$(now)
if $PODMAN build --pull=never --format docker --network host -t "$IMAGE" -f Dockerfile . > "$WORK/build.log" 2>&1; then
    ok "podman build"
else
    tail -n 40 "$WORK/build.log"
    fail "podman build"; finish
fi
timing "build" "$(took "$t0")"
echo "# image size: $($PODMAN image inspect --format '{{.Size}}' "$IMAGE" | awk '{ printf "%.0f MB", $1 / 1e6 }')"

user=$($PODMAN image inspect --format '{{.Config.User}}' "$IMAGE")
case "$user" in
    ""|0|0:*|root|root:*) fail "image runs as a numeric non-root user" "User=$user" ;;
    *[!0-9:]*) fail "image runs as a numeric non-root user" "User=$user (not numeric)" ;;
    *) ok "image runs as a numeric non-root user ($user)" ;;
esac
hc=$($PODMAN image inspect --format '{{if .Config.Healthcheck}}{{index .Config.Healthcheck.Test 0}}{{end}}' "$IMAGE" 2>/dev/null)
check "image has a HEALTHCHECK" [ -n "$hc" ]
if $PODMAN run --rm --network none --entrypoint sh "$IMAGE" -c \
        'command -v cc || command -v gcc || command -v make || ls /usr/include/jansson.h' >/dev/null 2>&1; then
    fail "runtime stage holds no compiler or headers"
else
    ok "runtime stage holds no compiler or headers"
fi
if $PODMAN run --rm --network none --entrypoint sh "$IMAGE" -c \
        'ldd /usr/local/bin/symlorad | grep -q "not found"' >/dev/null 2>&1; then
    fail "every shared library of symlorad is in the image"
else
    ok "every shared library of symlorad is in the image"
fi

# deploy/k8s's init container, as the kubelet would run it: the Secret file arrives 0440
# root:10001 (defaultMode 0400 + fsGroup); `install -m 0400` in the image, as 10001, must make a
# 0400 copy owned by 10001 in the emptyDir (a directory of group 10001 here), which symlorad accepts.
mkdir -p "$WORK/k8s-secret" "$WORK/k8s-emptydir"
printf '%s acme tenant\n' "$(printf %s k8s-key | sha256sum | cut -d' ' -f1)" > "$WORK/k8s-secret/api-keys"
$SUDO chown 0:10001 "$WORK/k8s-secret/api-keys" && $SUDO chmod 0440 "$WORK/k8s-secret/api-keys"
$SUDO chown 0:10001 "$WORK/k8s-emptydir" && $SUDO chmod 2770 "$WORK/k8s-emptydir"
$SUDO chmod 0755 "$WORK" "$WORK/k8s-secret"
init_cmd=$(python3 -c 'import yaml' 2>/dev/null && python3 -c '
import yaml; d = yaml.safe_load(open("deploy/k8s/deployment.yaml"))
print(" ".join(d["spec"]["template"]["spec"]["initContainers"][0]["command"]))')
[ -n "$init_cmd" ] || init_cmd="install -m 0400 /etc/symlora/keys/api-keys /run/symlora/keys/api-keys"
# shellcheck disable=SC2086
if $PODMAN run --rm --network none --read-only --user 10001:10001 \
        -v "$WORK/k8s-secret:/etc/symlora/keys:ro" -v "$WORK/k8s-emptydir:/run/symlora/keys" \
        --entrypoint "${init_cmd%% *}" "$IMAGE" ${init_cmd#* } > "$WORK/init.log" 2>&1 \
   && [ "$(stat -c '%a %u' "$WORK/k8s-emptydir/api-keys" 2>/dev/null)" = "400 10001" ]; then
    ok "the k8s init container's command copies the Secret to a 0400 file of uid 10001"
else
    fail "the k8s init container's command copies the Secret to a 0400 file of uid 10001" \
        "$(cat "$WORK/init.log") $(stat -c '%a %u' "$WORK/k8s-emptydir/api-keys" 2>&1)"
fi

# 5. Run it. Host networking (as the recipe); the container keeps its 0.0.0.0:8080 unless that
# port is taken here, then --listen is moved and the health command follows it.
PORT=${SL_PORT:-}
if [ -z "$PORT" ]; then
    if python3 -c 'import socket,sys; s=socket.socket(); s.bind(("0.0.0.0", 8080))' 2>/dev/null; then
        PORT=8080
    else
        PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    fi
fi
URL=http://127.0.0.1:$PORT
set --
if [ "$PORT" != 8080 ]; then
    set -- --health-cmd "bash -c 'exec 3<>/dev/tcp/127.0.0.1/$PORT && printf \"GET /health HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n\" >&3 && read -r -t 4 _ c _ <&3 && [ \"\$c\" = 200 ]'"
fi
t0=$(now)
# The image's ENTRYPOINT fixes --model /model --store … --listen 0.0.0.0:8080; arguments are
# appended: API keys as docs/deploy.md says (0400, uid 10001, mounted read-only), a fixture
# adapter mounted and preloaded, and the port when 8080 is taken here.
KEY=sk-container-test-$$
printf '%s ctest tenant\n' "$(printf %s "$KEY" | sha256sum | cut -d' ' -f1)" > "$WORK/api-keys"
$SUDO chown 10001:10001 "$WORK/api-keys" && $SUDO chmod 0400 "$WORK/api-keys"
if [ "$PORT" != 8080 ]; then listen="--listen 0.0.0.0:$PORT"; else listen=""; fi
# shellcheck disable=SC2086
if ! $PODMAN run -d --name "$NAME" --network host \
        -v "$ROOT/$MODEL:/model:ro" -v "$ROOT/$ADAPTER:/adapters/preloaded:ro" \
        -v "$WORK/api-keys:/etc/symlora/api-keys:ro" "$@" "$IMAGE" \
        --model-name llama-tiny --adapter fixture=/adapters/preloaded --api-keys /etc/symlora/api-keys \
        $listen > "$WORK/run.log" 2>&1; then
    cat "$WORK/run.log"
    fail "podman run"; finish
fi
up=0
for _ in $(seq 1 300); do
    if curl -fsS -o /dev/null "$URL/health" 2>/dev/null; then up=1; break; fi
    [ "$($PODMAN inspect --format '{{.State.Running}}' "$NAME" 2>/dev/null)" = true ] || break
    sleep 0.2
done
if [ "$up" = 1 ]; then
    ok "container answers GET /health"
    timing "start to /health" "$(took "$t0")"
else
    $PODMAN logs "$NAME" 2>&1 | tail -n 30
    fail "container answers GET /health"; finish
fi

check "podman healthcheck run (the image's HEALTHCHECK)" $PODMAN healthcheck run "$NAME"

code=$(curl -sS -o /dev/null -w '%{http_code}' "$URL/v1/models")
check "no API key → 401 (the mounted keys file is in force)" [ "$code" = 401 ]
AUTH="Authorization: Bearer $KEY"
models=$(curl -fsS -H "$AUTH" "$URL/v1/models")
BASE_ID=$(printf '%s' "$models" | python3 -c '
import json, sys
d = json.load(sys.stdin)["data"]
print(next(m["id"] for m in d if not m.get("parent")))' 2>/dev/null)
if [ -n "$BASE_ID" ]; then ok "GET /v1/models names the base model ($BASE_ID)"; else fail "GET /v1/models" "$models"; fi

# prints the completion's token count (return_tokens_as_token_ids is not needed: usage says it)
complete() { # $1 model
    curl -sS -o "$WORK/completion.json" -w '%{http_code}' -H "$AUTH" -H 'Content-Type: application/json' \
        -d "{\"model\": \"$1\", \"prompt\": [0, 735], \"max_tokens\": 4, \"temperature\": 0}" \
        "$URL/v1/completions"
}
check_completion() { python3 - "$WORK/completion.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
c = d["choices"][0]
assert isinstance(c["text"], str), c
assert d["usage"]["completion_tokens"] == 4, d["usage"]
assert c["finish_reason"] == "length", c
PY
}
check "the appended --model-name is the base model's id" [ "$BASE_ID" = llama-tiny ]
code=$(complete "$BASE_ID")
if [ "$code" = 200 ] && check_completion; then
    ok "POST /v1/completions on the base model"
else
    fail "POST /v1/completions on the base model" "HTTP $code $(head -c 300 "$WORK/completion.json")"
fi
code=$(complete fixture)
if [ "$code" = 200 ] && check_completion; then
    ok "POST /v1/completions with a preloaded adapter (--adapter from a mounted directory)"
else
    fail "POST /v1/completions with a preloaded adapter" "HTTP $code $(head -c 300 "$WORK/completion.json")"
fi

# An adapter uploaded into the store volume (PUT /v1/adapters/{name}, multipart as curl -F).
uploaded=0
code=$(curl -sS -o "$WORK/upload.json" -w '%{http_code}' -X PUT -H "$AUTH" \
    -F "config=@$ADAPTER/adapter_config.json" -F "weights=@$ADAPTER/adapter_model.safetensors" \
    "$URL/v1/adapters/ctest")
case "$code" in
    200|201)
        uploaded=1
        ok "PUT /v1/adapters/ctest (HTTP $code, stored in the volume)"
        code=$(complete ctest)
        if [ "$code" = 200 ] && check_completion; then
            ok "POST /v1/completions with the uploaded adapter"
        else
            fail "POST /v1/completions with the uploaded adapter" "HTTP $code $(head -c 300 "$WORK/completion.json")"
        fi ;;
    *)
        fail "PUT /v1/adapters/ctest" "HTTP $code $(head -c 300 "$WORK/upload.json")" ;;
esac

# 6. Non-root: the container's PID 1 is symlorad itself (exec-form ENTRYPOINT).
status=$($PODMAN exec "$NAME" cat /proc/1/status 2>/dev/null)
comm=$(printf '%s\n' "$status" | awk '$1 == "Name:" { print $2 }')
uids=$(printf '%s\n' "$status" | awk '$1 == "Uid:" { print $2, $3, $4, $5 }')
if [ "$comm" = symlorad ] && [ -n "$uids" ] && ! printf '%s\n' "$uids" | grep -qw 0; then
    ok "symlorad runs as non-root in the container (uids $uids)"
else
    fail "symlorad runs as non-root in the container" "PID 1 $comm uids '$uids'"
fi
top=$($PODMAN top "$NAME" user huser comm 2>/dev/null | awk 'NR > 1 && $3 == "symlorad" { print $1, $2 }')
case "$top" in
    ""|root\ *|*\ root|0\ *) fail "podman top shows a non-root symlorad" "'$top'" ;;
    *) ok "podman top shows a non-root symlorad (user huser: $top)" ;;
esac
caps=$(printf '%s\n' "$status" | awk '$1 == "CapEff:" { print $2 }')
check "no effective capabilities (CapEff $caps)" [ "$caps" = 0000000000000000 ]

# 7. SIGTERM (podman stop) drains and exits 0.
t0=$(now)
$PODMAN stop -t 30 "$NAME" >/dev/null 2>&1
rc=$($PODMAN inspect --format '{{.State.ExitCode}}' "$NAME" 2>/dev/null)
if [ "$rc" = 0 ]; then ok "podman stop (SIGTERM) → exit status 0"; else
    $PODMAN logs "$NAME" 2>&1 | tail -n 20
    fail "podman stop (SIGTERM) → exit status 0" "exit $rc"
fi
timing "stop" "$(took "$t0")"

# 8. The store is a volume: the uploaded adapter survives a stop and start of the container.
if [ "$uploaded" = 1 ]; then
    $PODMAN start "$NAME" >/dev/null 2>&1
    up=0
    for _ in $(seq 1 300); do
        if curl -fsS -o /dev/null "$URL/health" 2>/dev/null; then up=1; break; fi
        sleep 0.2
    done
    code=$(curl -sS -o /dev/null -w '%{http_code}' -H "$AUTH" "$URL/v1/adapters/ctest")
    ccode=$(complete ctest)
    if [ "$up" = 1 ] && [ "$code" = 200 ] && [ "$ccode" = 200 ] && check_completion; then
        ok "after stop and start, the uploaded adapter is in the store volume and serves"
    else
        fail "after stop and start, the uploaded adapter is in the store volume and serves" \
            "up $up, GET $code, completion $ccode"
    fi
    $PODMAN stop -t 30 "$NAME" >/dev/null 2>&1
fi

# 9. The daemon accepts the init container's copy (deploy/k8s: --api-keys /run/symlora/keys/…).
if [ -f "$WORK/k8s-emptydir/api-keys" ]; then
    PORT2=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    $PODMAN run -d --name "$NAME-k8s" --network host --read-only -v "$ROOT/$MODEL:/model:ro" \
        -v "$WORK/k8s-emptydir:/run/symlora/keys:ro" "$IMAGE" \
        --listen "127.0.0.1:$PORT2" --api-keys /run/symlora/keys/api-keys > "$WORK/run2.log" 2>&1
    for _ in $(seq 1 300); do
        curl -fsS -o /dev/null "http://127.0.0.1:$PORT2/health" 2>/dev/null && break
        [ "$($PODMAN inspect --format '{{.State.Running}}' "$NAME-k8s" 2>/dev/null)" = true ] || break
        sleep 0.2
    done
    code=$(curl -sS -o /dev/null -w '%{http_code}' -H "Authorization: Bearer k8s-key" "http://127.0.0.1:$PORT2/v1/models")
    if [ "$code" = 200 ]; then
        ok "symlorad (read-only root file system) accepts the init container's copy of the keys"
    else
        $PODMAN logs "$NAME-k8s" 2>&1 | tail -n 5
        fail "symlorad accepts the init container's copy of the keys" "HTTP $code"
    fi
    $PODMAN rm -f -v "$NAME-k8s" >/dev/null 2>&1
fi
finish
