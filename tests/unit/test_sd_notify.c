/* test_sd_notify.c — systemd's NOTIFY_SOCKET protocol against real unix datagram sockets,
 * bound here the way systemd binds its own: a file-system path and an abstract name.
 *
 * daemon/ objects are linked only into symlorad, so the module is compiled in here directly. */
#include "check.h"

#include "sd_notify.c"

#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

/* Binds an AF_UNIX datagram socket to ADDR ("/path" or "@abstract"); -1 on failure. */
static int bind_dgram(const char *addr) {
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    size_t n = strlen(addr);
    if (n >= sizeof sa.sun_path) return -1;
    memcpy(sa.sun_path, addr, n);
    socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (addr[0] == '@' ? 0 : 1));
    if (addr[0] == '@') sa.sun_path[0] = '\0';
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    if (bind(fd, (struct sockaddr *)&sa, len) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Receives one datagram within 2 s into BUF (NUL-terminated); its length, or -1. */
static ssize_t recv_one(int fd, char *buf, size_t cap) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, 2000) != 1) return -1;
    ssize_t r = recv(fd, buf, cap - 1, MSG_DONTWAIT);
    if (r >= 0) buf[r] = '\0';
    return r;
}

static char tmpdir[64];

TEST(unset_or_empty_is_a_noop) {
    unsetenv("NOTIFY_SOCKET");
    CHECK(sl_sd_notify("READY=1") == 0);
    setenv("NOTIFY_SOCKET", "", 1);
    CHECK(sl_sd_notify("READY=1") == 0);
    unsetenv("NOTIFY_SOCKET");
}

TEST(path_socket_receives_ready) {
    char path[128];
    snprintf(path, sizeof path, "%s/notify", tmpdir);
    int fd = bind_dgram(path);
    CHECKF(fd >= 0, "bind %s: %s", path, strerror(errno));
    if (fd < 0) return;
    setenv("NOTIFY_SOCKET", path, 1);
    CHECK(sl_sd_notify("READY=1") == 1);
    char buf[256];
    ssize_t r = recv_one(fd, buf, sizeof buf);
    CHECKF(r == 7 && strcmp(buf, "READY=1") == 0, "got %zd \"%s\"", r, r >= 0 ? buf : "");
    CHECK(sl_sd_notify("STOPPING=1") == 1);
    r = recv_one(fd, buf, sizeof buf);
    CHECKF(r >= 0 && strcmp(buf, "STOPPING=1") == 0, "got \"%s\"", r >= 0 ? buf : "");
    close(fd);
    unlink(path);
    unsetenv("NOTIFY_SOCKET");
}

TEST(abstract_socket_receives_ready) {
    char name[96];
    snprintf(name, sizeof name, "@symlora/test_sd_notify/%ld", (long)getpid());
    int fd = bind_dgram(name);
    CHECKF(fd >= 0, "bind %s: %s", name, strerror(errno));
    if (fd < 0) return;
    setenv("NOTIFY_SOCKET", name, 1);
    CHECK(sl_sd_notify("READY=1") == 1);
    char buf[256];
    ssize_t r = recv_one(fd, buf, sizeof buf);
    CHECKF(r == 7 && strcmp(buf, "READY=1") == 0, "got %zd \"%s\"", r, r >= 0 ? buf : "");
    /* Several assignments travel in one datagram, unchanged. */
    CHECK(sl_sd_notify("RELOADING=1\nSTATUS=reloading keys") == 1);
    r = recv_one(fd, buf, sizeof buf);
    CHECKF(r >= 0 && strcmp(buf, "RELOADING=1\nSTATUS=reloading keys") == 0, "got \"%s\"", r >= 0 ? buf : "");
    close(fd);
    /* A name that differs only by a trailing byte is another socket: nobody listens there. */
    char other[100];
    snprintf(other, sizeof other, "%sx", name);
    setenv("NOTIFY_SOCKET", other, 1);
    CHECK(sl_sd_notify("READY=1") == SL_EIO);
    unsetenv("NOTIFY_SOCKET");
}

TEST(bad_addresses_and_states) {
    setenv("NOTIFY_SOCKET", "relative/path", 1);
    CHECK(sl_sd_notify("READY=1") == SL_EINVAL);
    setenv("NOTIFY_SOCKET", "@", 1);
    CHECK(sl_sd_notify("READY=1") == SL_EINVAL);
    setenv("NOTIFY_SOCKET", "vsock:2:1234", 1);
    CHECK(sl_sd_notify("READY=1") == SL_ENOTSUP);
    char longpath[300];
    memset(longpath, 'a', sizeof longpath - 1);
    longpath[0] = '/';
    longpath[sizeof longpath - 1] = '\0';
    setenv("NOTIFY_SOCKET", longpath, 1);
    CHECK(sl_sd_notify("READY=1") == SL_EINVAL);
    longpath[0] = '@';
    CHECK(sl_sd_notify("READY=1") == SL_EINVAL);
    char nobody[128];
    snprintf(nobody, sizeof nobody, "%s/nobody-listens", tmpdir);
    setenv("NOTIFY_SOCKET", nobody, 1);
    CHECK(sl_sd_notify("READY=1") == SL_EIO);
    CHECK(sl_sd_notify(NULL) == SL_EINVAL);
    CHECK(sl_sd_notify("") == SL_EINVAL);
    unsetenv("NOTIFY_SOCKET");
}

/* A receiver that never reads: the sends fill its queue and then fail with SL_EBUSY at once
 * instead of blocking (alarm() turns a hang into a visible failure). */
TEST(full_receiver_never_blocks) {
    char path[128];
    snprintf(path, sizeof path, "%s/full", tmpdir);
    int fd = bind_dgram(path);
    CHECK(fd >= 0);
    if (fd < 0) return;
    setenv("NOTIFY_SOCKET", path, 1);
    alarm(20);
    int sent = 0, busy = 0, other = 0;
    for (int i = 0; i < 100000 && !busy; i++) {
        int r = sl_sd_notify("STATUS=filling the queue");
        if (r == 1) sent++;
        else if (r == SL_EBUSY) busy++;
        else other++;
    }
    alarm(0);
    CHECKF(sent > 0 && busy == 1 && other == 0, "sent %d busy %d other %d", sent, busy, other);
    close(fd);
    unlink(path);
    unsetenv("NOTIFY_SOCKET");
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/sl-sdnotify-XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(unset_or_empty_is_a_noop);
    RUN(path_socket_receives_ready);
    RUN(abstract_socket_receives_ready);
    RUN(bad_addresses_and_states);
    RUN(full_receiver_never_blocks);
    rmdir(tmpdir);
    return check_summary();
}
