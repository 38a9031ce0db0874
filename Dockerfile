# Dockerfile — symlorad in a container: build stage with the -dev packages, runtime stage with
# only the binary and the shared libraries it links.
#
#   docker build -t symlorad .
#   docker run -d -p 8080:8080 -v /srv/models/SmolLM2-135M:/model:ro \
#       -v symlora-store:/var/lib/symlora/store symlorad
#
# The model directory (a Hugging Face checkpoint) is mounted read-only at /model; the adapter
# store is a volume at /var/lib/symlora/store. The daemon listens on 0.0.0.0:8080 inside the
# container (a container's loopback is unreachable from outside it).
# Authentication: give it API keys whenever the port is published beyond this host. The keys
# file (lines `SHA256HEX TENANT ROLE`) must be mode 0400/0600 and readable by uid 10001:
#   install -m 0400 -o 10001 -g 10001 api-keys /srv/symlora/api-keys
#   docker run … -v /srv/symlora/api-keys:/etc/symlora/api-keys:ro symlorad --api-keys /etc/symlora/api-keys
# (`docker kill -s HUP` reloads it.) Without --api-keys, auth is off and the daemon only warns
# that 0.0.0.0 is reachable: then publish on loopback only (-p 127.0.0.1:8080:8080). (docs/deploy.md)
# On a machine without a registry, tests/container/test_container.sh builds this with podman
# on a locally made debian:bookworm-slim (../shared/CONTAINER-TESTING.md).

FROM debian:bookworm-slim AS build
# The -dev packages of tools/install-deps.sh needed for the daemon (no test or fuzz tools).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        build-essential pkg-config \
        libopenblas-dev libjansson-dev libuv1-dev libmicrohttpd-dev \
        libpcre2-dev libutf8proc-dev nettle-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN make -j"$(nproc)" build/symlorad && strip build/symlorad


FROM debian:bookworm-slim
# Runtime libraries only: the shared objects build/symlorad links (ldd), nothing else.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        libopenblas0-pthread libjansson4 libuv1 libmicrohttpd12 \
        libpcre2-8-0 libutf8proc2 libnettle8 \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin \
 && groupadd --system --gid 10001 symlora \
 && useradd --system --uid 10001 --gid symlora --home-dir /var/lib/symlora \
        --no-create-home --shell /usr/sbin/nologin symlora \
 && mkdir -p /var/lib/symlora/store /model \
 && chown -R symlora:symlora /var/lib/symlora \
 && chmod 0750 /var/lib/symlora /var/lib/symlora/store
COPY --from=build /src/build/symlorad /usr/local/bin/symlorad

# Numeric, so Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
USER 10001:10001
WORKDIR /var/lib/symlora
VOLUME ["/var/lib/symlora/store"]
EXPOSE 8080
# The check needs no extra package: bash's /dev/tcp sends GET /health and reads the status line.
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
    CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8080 && printf 'GET /health HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n' >&3 && read -r -t 4 _ code _ <&3 && [ \"$code\" = 200 ]"]
STOPSIGNAL SIGTERM
# The container's layout is fixed here; further options are appended as arguments (the last
# value of an option wins): `docker run … symlorad --model-name smollm2 --config /etc/symlora/x.conf`.
# A --config file sets everything else; these three, given on the command line, win over it.
ENTRYPOINT ["/usr/local/bin/symlorad", "--model", "/model", "--store", "/var/lib/symlora/store", \
            "--listen", "0.0.0.0:8080"]
CMD []
