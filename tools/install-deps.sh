#!/bin/sh
# Installs the Debian 12 packages symlora needs to build and test, when missing.
# Fast no-op when everything is present (make test calls it every time).
# nginx-light: tests/blackbox/test_scaleout.py runs it in front of three replicas.
# python3-jsonschema: tests/blackbox/test_structured.py validates structured outputs with it.
set -eu
PKGS="build-essential pkg-config clang libclang-rt-14-dev
libopenblas-dev libopenblas0-pthread libjansson-dev libuv1-dev libmicrohttpd-dev
libpcre2-dev libutf8proc-dev nettle-dev
python3 python3-jsonschema curl ca-certificates nodejs npm
nginx-light"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
# Node and npm may come from outside Debian (e.g. a preinstalled Node 20); accept them.
case "$missing" in *nodejs*|*npm*)
    if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
        missing=$(echo "$missing" | sed -e 's/ nodejs//' -e 's/ npm//')
    fi;;
esac
[ -z "$missing" ] && exit 0
echo "install-deps: installing:$missing" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
