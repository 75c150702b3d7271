// What the admin port's q API reads and does (.qgate.backends[], .clients[], .routes[],
// .listeners[], .stats[], and the actions .drain / .enable / .kick): plain rows, one struct per
// table, and the interface the gateway implements (src/proxy/admin_model.cc) for the admin
// thread. The q tables are built from these rows in src/ctl/admin_tables.cc, so the encoding is
// tested without a gateway and the gateway never sees a q value. Control plane only: every call
// comes from the admin thread, may allocate, and may wait (bounded) for the shards.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "qgate/stats.h"

namespace qgate::ctl {

/// q's long null (0N): a column value that is not known (yet).
inline constexpr int64_t kLongNull = INT64_MIN;

/// One row of .qgate.backends[] (keyed on name).
struct backend_row {
    std::string name;
    std::string group;
    std::string address;  ///< host:port as configured
    std::string source;   ///< where the backend comes from: "config"
    std::string state;    ///< up, down, draining, ejected
    int64_t conns = 0;    ///< open connections: sessions + ready pool connections
    int64_t inflight = 0; ///< calls sent, not answered
    int64_t queued = 0;   ///< calls waiting in its queue (request mode)
    int64_t calls = 0;    ///< calls sent to it since start
    int64_t errors = 0;   ///< calls answered with an error (see README "admin API")
    int64_t p50_us = kLongNull;  ///< from backend_latency; 0N before a timed call
    int64_t p99_us = kLongNull;
    std::string lasterror;  ///< the latest connection failure, "" when none
};

/// One row of .qgate.clients[] (keyed on id).
struct client_row {
    int64_t id = 0;  ///< unique for the process's life; what .qgate.kick takes
    std::string user;
    std::string address;  ///< the peer, host:port
    int64_t listener = 0;
    int64_t shard = 0;
    int64_t since_ns = 0;  ///< accepted at, nanoseconds since the Unix epoch
    int64_t calls = 0;     ///< messages the client sent after its handshake
    int64_t bytes_in = 0;
    int64_t bytes_out = 0;
    int64_t inflight = 0;  ///< its calls not yet answered
};

/// One row of .qgate.routes[] (request mode's [[route]]s, in order).
struct route_row {
    int64_t order = 0;  ///< 0-based position: the first match wins
    std::vector<std::string> match;
    std::vector<std::string> users;   ///< empty: any user
    std::vector<std::string> target;  ///< the group, or the groups of a fan-out
    std::string policy;
    int64_t hits = 0;  ///< calls this route took
};

/// One row of .qgate.listeners[] (keyed on index).
struct listener_row {
    int64_t index = 0;
    std::string address;  ///< the configured host
    int64_t port = 0;     ///< the bound port
    std::string mode;     ///< session, request, pubsub
    std::string group;
    int64_t shards = 0;
    int64_t conns = 0;  ///< client connections open now
};

/// One row of .qgate.users[] (keyed on user): a user [[user_limits]] counts (conns_max or
/// calls_max), since its first login.
struct user_row {
    std::string user;  ///< its name (at most 46 bytes of it: proxy/user_conns.h)
    int64_t conns = 0;     ///< connections open now
    int64_t inflight = 0;  ///< request mode: sync calls in flight now
    int64_t conns_max = 0;  ///< its rule's limits in the running config; 0 = none
    int64_t calls_max = 0;
};

/// The gateway as the admin thread sees it. A method that cannot answer (a shard did not answer
/// in time, an unknown name) returns false with `error` set: the caller answers it as a q error.
class admin_model {
  public:
    virtual ~admin_model() = default;
    virtual stat_list stats() = 0;
    virtual bool backends(std::vector<backend_row>& out, std::string& error) = 0;
    virtual bool clients(std::vector<client_row>& out, std::string& error) = 0;
    virtual bool routes(std::vector<route_row>& out, std::string& error) = 0;
    virtual bool listeners(std::vector<listener_row>& out, std::string& error) = 0;
    virtual bool users(std::vector<user_row>&, std::string& error) {
        error = "qgate: not available without a gateway";
        return false;
    }
    /// .qgate.drain (`drain` true) / .qgate.enable: the backend's row after the change.
    virtual bool set_drain(std::string_view name, bool drain, backend_row& out,
                           std::string& error) = 0;
    /// .qgate.kick: closes client `id` as a reset would; its row as it was.
    virtual bool kick(int64_t id, client_row& out, std::string& error) = 0;
};

}  // namespace qgate::ctl
