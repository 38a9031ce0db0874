/* sd_notify.h — systemd's service readiness protocol (Type=notify), without libsystemd.
 *
 * The protocol: when systemd starts a Type=notify service it sets NOTIFY_SOCKET to the address
 * of a unix datagram socket; the service sends newline-separated "KEY=VALUE" assignments to it
 * as one datagram each time its state changes. NOTIFY_SOCKET is either an absolute file-system
 * path ("/run/systemd/notify") or an abstract socket name written with a leading '@'
 * ("@/org/freedesktop/systemd1/notify/123"), whose '@' stands for the leading NUL byte.
 * Outside systemd (NOTIFY_SOCKET unset or empty) every call is a no-op.
 *
 * For the daemon's owner (daemon/main.c), the calls symlorad makes:
 *   sl_sd_notify("READY=1")     once the model is loaded AND the HTTP port listens, i.e. just
 *                               before entering the event loop (systemd then considers the
 *                               service started and `systemctl start` returns);
 *   sl_sd_notify("STOPPING=1")  as soon as SIGTERM (or another shutdown) begins the drain;
 *   optionally "RELOADING=1" ... "READY=1" around a SIGHUP key reload, and "STATUS=..." text.
 * A failed notification is worth one warning in the log, never a reason to stop.
 *
 * Never blocks (MSG_DONTWAIT); no allocation; safe to call from any thread, but not
 * async-signal-safe by contract (call it from the loop, not from a signal handler). */
#ifndef SL_SD_NOTIFY_H
#define SL_SD_NOTIFY_H

/* Sends STATE (e.g. "READY=1", or several lines "READY=1\nSTATUS=serving") as one datagram to
 * the socket named by $NOTIFY_SOCKET. Returns, as libsystemd's sd_notify does:
 *   1           the datagram was sent;
 *   0           NOTIFY_SOCKET is unset or empty (not running under systemd): nothing done;
 *   SL_EINVAL   STATE is NULL or empty, or NOTIFY_SOCKET is not a valid unix socket address
 *               (neither "/…" nor "@…", or longer than sun_path);
 *   SL_ENOTSUP  an address family other than unix (e.g. systemd's "vsock:CID:PORT");
 *   SL_EBUSY    the receiver's queue is full (the send would block);
 *   SL_EIO      any other socket error (errno is left set). */
int sl_sd_notify(const char *state);

#endif
