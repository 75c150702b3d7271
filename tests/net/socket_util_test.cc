// Socket helpers (src/net/socket_util.h): address parsing and resolution, listeners on port 0,
// upstream sockets and their options, the loopback test. Loopback only; the one name looked up
// through getaddrinfo is answered from /etc/hosts, and the failing one is refused before any
// DNS query is built (a label longer than 63 bytes).

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "net/socket_util.h"

using namespace qgate;
using net::sock_addr;

namespace {

// Closes an fd at scope exit so a failing CHECK leaks nothing into the next case.
struct fd_guard {
    int fd;
    explicit fd_guard(int f) : fd(f) {}
    fd_guard(const fd_guard&) = delete;
    fd_guard& operator=(const fd_guard&) = delete;
    ~fd_guard() {
        if (fd >= 0) ::close(fd);
    }
};

const sockaddr_in& v4(const sock_addr& a) { return reinterpret_cast<const sockaddr_in&>(a.ss); }
const sockaddr_in6& v6(const sock_addr& a) {
    return reinterpret_cast<const sockaddr_in6&>(a.ss);
}

std::string v4_text(const sock_addr& a) {
    char buf[INET_ADDRSTRLEN] = {};
    inet_ntop(AF_INET, &v4(a).sin_addr, buf, sizeof buf);
    return buf;
}

int int_opt(int fd, int level, int name) {
    int v = -1;
    socklen_t len = sizeof v;
    REQUIRE(getsockopt(fd, level, name, &v, &len) == 0);
    return v;
}

sockaddr_storage v4_storage(const char* text) {
    sockaddr_storage ss{};
    auto& a = reinterpret_cast<sockaddr_in&>(ss);
    a.sin_family = AF_INET;
    REQUIRE(inet_pton(AF_INET, text, &a.sin_addr) == 1);
    return ss;
}

sockaddr_storage v6_storage(const char* text) {
    sockaddr_storage ss{};
    auto& a = reinterpret_cast<sockaddr_in6&>(ss);
    a.sin6_family = AF_INET6;
    REQUIRE(inet_pton(AF_INET6, text, &a.sin6_addr) == 1);
    return ss;
}

// A loopback listener on port 0 and its address with the bound port filled in.
int loopback_listener(sock_addr& addr) {
    std::string err;
    REQUIRE(net::resolve({"127.0.0.1", 0}, addr, err));
    const int fd = net::listen_reuseport(addr, 16, err);
    REQUIRE_MESSAGE(fd >= 0, err);
    net::set_port(addr, net::local_port(fd));
    return fd;
}

}  // namespace

TEST_CASE("resolve: numeric IPv4 and IPv6 keep address and port") {
    sock_addr a;
    std::string err;
    REQUIRE(net::resolve({"10.1.2.3", 5001}, a, err));
    CHECK(a.family() == AF_INET);
    CHECK(a.len == sizeof(sockaddr_in));
    CHECK(v4_text(a) == "10.1.2.3");
    CHECK(ntohs(v4(a).sin_port) == 5001);

    REQUIRE(net::resolve({"::1", 5002}, a, err));
    CHECK(a.family() == AF_INET6);
    CHECK(a.len == sizeof(sockaddr_in6));
    CHECK(IN6_IS_ADDR_LOOPBACK(&v6(a).sin6_addr));
    CHECK(ntohs(v6(a).sin6_port) == 5002);
    CHECK(err.empty());
}

TEST_CASE("resolve: an empty host is 0.0.0.0 and localhost is 127.0.0.1") {
    sock_addr a;
    std::string err;
    REQUIRE(net::resolve({"", 7}, a, err));
    CHECK(a.family() == AF_INET);
    CHECK(v4_text(a) == "0.0.0.0");
    CHECK(ntohs(v4(a).sin_port) == 7);
    REQUIRE(net::resolve({"localhost", 8}, a, err));
    CHECK(a.family() == AF_INET);
    CHECK(v4_text(a) == "127.0.0.1");
    CHECK(ntohs(v4(a).sin_port) == 8);
}

TEST_CASE("resolve: a name goes through getaddrinfo and gets the endpoint's port") {
    // Not the literal "localhost" (special-cased above), but /etc/hosts matches names without
    // regard to case, so this needs no DNS.
    sock_addr a;
    std::string err;
    REQUIRE_MESSAGE(net::resolve({"LocalHost", 9001}, a, err), err);
    CHECK(net::is_loopback(a.ss));
    if (a.family() == AF_INET) {
        CHECK(a.len == sizeof(sockaddr_in));
        CHECK(ntohs(v4(a).sin_port) == 9001);
    } else {
        REQUIRE(a.family() == AF_INET6);
        CHECK(a.len == sizeof(sockaddr_in6));
        CHECK(ntohs(v6(a).sin6_port) == 9001);
    }
}

TEST_CASE("resolve: an unresolvable name fails with the name in the error") {
    const std::string host(70, 'x');  // a DNS label is at most 63 bytes: refused locally
    sock_addr a;
    a.len = 99;
    std::string err;
    CHECK_FALSE(net::resolve({host, 1}, a, err));
    CHECK(err.find("cannot resolve '" + host + "'") == 0);
    CHECK(a.len == 0);  // the output is reset, never left half-filled
}

TEST_CASE("set_port replaces the port of either family") {
    sock_addr a;
    std::string err;
    REQUIRE(net::resolve({"127.0.0.1", 1}, a, err));
    net::set_port(a, 4242);
    CHECK(ntohs(v4(a).sin_port) == 4242);
    CHECK(v4_text(a) == "127.0.0.1");
    REQUIRE(net::resolve({"::1", 1}, a, err));
    net::set_port(a, 4243);
    CHECK(ntohs(v6(a).sin6_port) == 4243);
}

TEST_CASE("listen_reuseport: port 0, non-blocking, close-on-exec, options, shared port") {
    sock_addr addr;
    fd_guard l(loopback_listener(addr));
    const uint16_t port = net::local_port(l.fd);
    CHECK(port != 0);
    CHECK((fcntl(l.fd, F_GETFL) & O_NONBLOCK) != 0);
    CHECK((fcntl(l.fd, F_GETFD) & FD_CLOEXEC) != 0);
    CHECK(int_opt(l.fd, SOL_SOCKET, SO_REUSEADDR) != 0);
    CHECK(int_opt(l.fd, SOL_SOCKET, SO_REUSEPORT) != 0);
    CHECK(int_opt(l.fd, IPPROTO_TCP, TCP_NODELAY) != 0);
    CHECK(int_opt(l.fd, SOL_SOCKET, SO_ACCEPTCONN) != 0);
    // SO_REUSEPORT: a second listener (one per shard) binds the same port.
    std::string err;
    fd_guard second(net::listen_reuseport(addr, 16, err));
    CHECK_MESSAGE(second.fd >= 0, err);
    CHECK(net::local_port(second.fd) == port);
}

TEST_CASE("listen_reuseport: an address not on this host fails with the cause") {
    sock_addr addr;
    std::string err;
    REQUIRE(net::resolve({"192.0.2.1", 0}, addr, err));  // TEST-NET-1: never local
    CHECK(net::listen_reuseport(addr, 16, err) == -1);
    CHECK(err.find("bind/listen: ") == 0);
    CHECK(err.find(std::strerror(EADDRNOTAVAIL)) != std::string::npos);
}

TEST_CASE("stream_socket connects to a listener; both ends are local peers") {
    sock_addr addr;
    fd_guard l(loopback_listener(addr));
    fd_guard c(net::stream_socket(addr.family()));
    REQUIRE(c.fd >= 0);
    CHECK((fcntl(c.fd, F_GETFL) & O_NONBLOCK) != 0);
    CHECK((fcntl(c.fd, F_GETFD) & FD_CLOEXEC) != 0);
    CHECK(int_opt(c.fd, IPPROTO_TCP, TCP_NODELAY) != 0);
    const int rc = ::connect(c.fd, addr.get(), addr.len);
    REQUIRE((rc == 0 || errno == EINPROGRESS));
    pollfd p{l.fd, POLLIN, 0};
    REQUIRE(::poll(&p, 1, 5000) == 1);  // the connection is ready to accept (not a sleep)
    fd_guard a(::accept4(l.fd, nullptr, nullptr, SOCK_CLOEXEC));
    REQUIRE(a.fd >= 0);
    CHECK(net::peer_is_local(a.fd));
    pollfd q{c.fd, POLLOUT, 0};
    REQUIRE(::poll(&q, 1, 5000) == 1);
    CHECK(net::peer_is_local(c.fd));
    CHECK(net::local_port(a.fd) == ntohs(v4(addr).sin_port));  // accepted on the listener's port
}

TEST_CASE("set_nodelay turns Nagle off on a socket made without it") {
    fd_guard s(::socket(AF_INET, SOCK_STREAM, 0));
    REQUIRE(s.fd >= 0);
    CHECK(int_opt(s.fd, IPPROTO_TCP, TCP_NODELAY) == 0);
    net::set_nodelay(s.fd);
    CHECK(int_opt(s.fd, IPPROTO_TCP, TCP_NODELAY) != 0);
}

TEST_CASE("local_port: 0 for something that is not a socket") {
    CHECK(net::local_port(-1) == 0);
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    CHECK(net::local_port(fds[0]) == 0);
    ::close(fds[0]);
    ::close(fds[1]);
}

TEST_CASE("is_loopback: 127/8, ::1, v4-mapped 127/8 and Unix sockets only") {
    CHECK(net::is_loopback(v4_storage("127.0.0.1")));
    CHECK(net::is_loopback(v4_storage("127.200.3.4")));
    CHECK_FALSE(net::is_loopback(v4_storage("128.0.0.1")));
    CHECK_FALSE(net::is_loopback(v4_storage("10.0.0.127")));
    CHECK(net::is_loopback(v6_storage("::1")));
    CHECK(net::is_loopback(v6_storage("::ffff:127.0.0.2")));
    CHECK_FALSE(net::is_loopback(v6_storage("::ffff:10.0.0.1")));
    CHECK_FALSE(net::is_loopback(v6_storage("::2")));
    CHECK_FALSE(net::is_loopback(v6_storage("2001:db8::1")));
    sockaddr_storage un{};
    un.ss_family = AF_UNIX;
    CHECK(net::is_loopback(un));
    sockaddr_storage none{};
    CHECK_FALSE(net::is_loopback(none));
}

TEST_CASE("raise_fd_limit lifts the soft descriptor limit to the hard one") {
    rlimit rl{};
    REQUIRE(getrlimit(RLIMIT_NOFILE, &rl) == 0);
    REQUIRE(rl.rlim_max > 64);
    rlimit low = rl;
    low.rlim_cur = rl.rlim_max == RLIM_INFINITY ? 1024 : rl.rlim_max - 1;
    REQUIRE(setrlimit(RLIMIT_NOFILE, &low) == 0);
    net::raise_fd_limit();
    rlimit now{};
    REQUIRE(getrlimit(RLIMIT_NOFILE, &now) == 0);
    CHECK(now.rlim_cur == rl.rlim_max);
    CHECK(now.rlim_max == rl.rlim_max);
}
