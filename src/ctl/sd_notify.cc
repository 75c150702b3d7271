// sd_notify (qgate/sd_notify.h). The protocol is one datagram of "KEY=VALUE" lines to the
// AF_UNIX socket in $NOTIFY_SOCKET; a leading '@' names an abstract socket (first byte NUL).
// libsystemd is not linked for this: the whole protocol qgate needs is these lines.

#include "qgate/sd_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>

namespace qgate::ctl {

bool sd_notify(const char* state) {
    const char* path = std::getenv("NOTIFY_SOCKET");
    if (path == nullptr || path[0] == '\0') return false;
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    const size_t len = std::strlen(path);
    if ((path[0] != '/' && path[0] != '@') || len >= sizeof sa.sun_path) {
        errno = EINVAL;
        return false;
    }
    std::memcpy(sa.sun_path, path, len);
    if (path[0] == '@') sa.sun_path[0] = '\0';  // abstract: the length, not a NUL, ends it
    const auto salen = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + len);
    const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    const ssize_t n = ::sendto(fd, state, std::strlen(state), MSG_DONTWAIT | MSG_NOSIGNAL,
                               reinterpret_cast<const sockaddr*>(&sa), salen);
    const int saved = errno;
    ::close(fd);
    errno = saved;
    return n >= 0;
}

}  // namespace qgate::ctl
