// Socket set-up helpers (control plane and connection set-up; never per message).
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>

#include "qgate/config.h"

namespace qgate::net {

struct sock_addr {
    sockaddr_storage ss{};
    socklen_t len = 0;
    const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&ss); }
    int family() const { return ss.ss_family; }
};

/// Numeric IPv4/IPv6, "localhost" or an empty host (= 0.0.0.0). Blocking resolution: startup.
bool resolve(const endpoint& ep, sock_addr& out, std::string& error);
/// Non-blocking listening socket with SO_REUSEADDR + SO_REUSEPORT + TCP_NODELAY; -1 on error.
int listen_reuseport(const sock_addr& addr, int backlog, std::string& error);
/// Whether the peer of a connected socket is on this host by address (127/8, ::1, v4-mapped
/// 127/8, a Unix socket): q does not compress messages to such a peer. Connection set-up only.
bool peer_is_local(int fd);
/// The address test behind peer_is_local (also qmock's, which compresses as q does).
bool is_loopback(const sockaddr_storage& ss);
/// Port a bound socket ended up on (port-0 listeners).
uint16_t local_port(int fd);
/// Replaces the port of `addr`.
void set_port(sock_addr& addr, uint16_t port);
/// Raises the soft RLIMIT_NOFILE to the hard limit: a gateway (and a load generator) holds
/// thousands of sockets, and the common soft default of 1024 would refuse them. Startup only.
void raise_fd_limit();
/// Non-blocking, close-on-exec TCP socket with TCP_NODELAY, for an upstream connection.
int stream_socket(int family);
/// TCP_NODELAY on an accepted socket (q IPC is request/response: Nagle only adds latency).
void set_nodelay(int fd);

}  // namespace qgate::net
