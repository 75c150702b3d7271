// The immutable configuration snapshot handed from the control plane (src/ctl) to the shards.
// Built once at start (and on SIGHUP reload) by ctl::load_config; never mutated after that.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace qgate {

enum class io_mode : uint8_t { auto_, uring, epoll };
enum class conn_mode : uint8_t { session, request };
enum class session_policy : uint8_t { least_connections, round_robin };

struct endpoint {
    std::string host;  ///< numeric IPv4/IPv6 or "localhost"
    uint16_t port = 0; ///< 0 = any (listeners only; the bound port is logged / written to port_file)
};

struct listener_conf {
    endpoint addr;
    conn_mode mode = conn_mode::session;
    std::string group;  ///< backend group serving this listener (session mode)
    session_policy policy = session_policy::least_connections;
};

struct backend_conf {
    std::string name;
    std::string group;
    endpoint addr;
    std::string credentials;  ///< "user:password" sent upstream; empty = "qgate" user, no password
};

/// One line of a q -u style users file.
struct user_entry {
    enum class hash : uint8_t { plain, md5, sha1, sha256 };
    std::string user;
    hash kind = hash::plain;
    std::string secret;  ///< plain password, or lowercase hex digest
};

struct limits_conf {
    uint64_t message_bytes_max = uint64_t{1} << 32;   ///< longest q message accepted
    uint32_t handshake_bytes_max = 1024;
    uint32_t conns_per_shard_max = 10000;
    uint64_t out_bytes_high = 8u << 20;  ///< stop reading the peer when its queue exceeds this
    uint64_t out_bytes_low = 2u << 20;   ///< resume below this
    uint32_t buf_ring_entries = 512;     ///< provided buffers per shard (power of two)
    uint32_t buf_size = 65536;           ///< bytes per provided buffer (a loopback GSO skb)
    uint32_t session_buf_share_pct = 10; ///< pool % one direction of a session may hold queued
    uint32_t connect_timeout_ms = 2000;
    uint32_t handshake_timeout_ms = 5000;
    uint32_t drain_timeout_ms = 5000;
};

struct config {
    uint32_t shards = 0;  ///< 0 = one per CPU
    io_mode io = io_mode::auto_;
    std::string log_level = "info";
    std::string port_file;  ///< if set, the bound listener ports are written here (tests)
    std::vector<listener_conf> listeners;
    std::vector<backend_conf> backends;
    endpoint admin;          ///< admin q-IPC listener (.qgate.stats[]); port 0 with empty host = off
    bool admin_enabled = false;
    std::string users_file;  ///< empty = no authentication (any user accepted, like q without -u)
    std::vector<user_entry> users;
    limits_conf limits;
};

using config_ptr = std::shared_ptr<const config>;

}  // namespace qgate
