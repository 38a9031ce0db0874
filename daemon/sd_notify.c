/* sd_notify.c — see sd_notify.h. The whole of systemd's NOTIFY_SOCKET protocol that a service
 * needs: one unconnected unix datagram socket, one sendto, close. */
#include "sd_notify.h"

#include "error.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int sl_sd_notify(const char *state) {
    const char *addr = getenv("NOTIFY_SOCKET");
    if (!addr || !addr[0]) return 0;
    if (!state || !state[0]) return SL_EINVAL;

    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    size_t n = strlen(addr);
    socklen_t salen;
    if (addr[0] == '/') {
        if (n >= sizeof sa.sun_path) return SL_EINVAL; /* room for the terminating NUL */
        memcpy(sa.sun_path, addr, n);
        salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
    } else if (addr[0] == '@') {
        /* Abstract namespace: sun_path[0] = NUL, then the name; the length is exact (no
         * terminator), since every byte of an abstract name is significant. */
        if (n < 2 || n > sizeof sa.sun_path) return SL_EINVAL;
        memcpy(sa.sun_path + 1, addr + 1, n - 1);
        salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
    } else if (strncmp(addr, "vsock:", 6) == 0) {
        return SL_ENOTSUP;
    } else {
        return SL_EINVAL;
    }

    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return SL_EIO;
    size_t len = strlen(state);
    ssize_t r;
    do {
        r = sendto(fd, state, len, MSG_DONTWAIT | MSG_NOSIGNAL, (const struct sockaddr *)&sa, salen);
    } while (r < 0 && errno == EINTR);
    int saved = errno;
    close(fd);
    errno = saved;
    if (r < 0) return (saved == EAGAIN || saved == EWOULDBLOCK) ? SL_EBUSY : SL_EIO;
    if ((size_t)r != len) return SL_EIO; /* datagrams are all or nothing; never expected */
    return 1;
}
