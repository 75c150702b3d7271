// The immutable configuration snapshot handed from the control plane (src/ctl) to the shards.
// Built once at start (and on SIGHUP reload) by ctl::load_config; never mutated after that.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace qgate {

enum class io_mode : uint8_t { auto_, uring, epoll };
enum class conn_mode : uint8_t { session, request, pubsub };
/// How a backend of a group is picked: per call by a [[route]] (request mode), per session by
/// a session listener. One family for both (src/route/policy.cc); order of the "route.policy"
/// and "listener.policy" choices. Session mode's consistent_hash keys on the handshake user.
enum class route_policy : uint8_t { least_busy, round_robin, first_available, consistent_hash };

struct endpoint {
    std::string host;  ///< numeric IPv4/IPv6 or "localhost"
    /// 0 = any (listeners only; the bound port is logged / written to port_file)
    uint16_t port = 0;
};

struct listener_conf {
    endpoint addr;
    conn_mode mode = conn_mode::session;
    std::string group;  ///< backend group serving this listener (session mode)
    /// Session mode: how a session picks its backend ("least-connections" is least_busy).
    route_policy policy = route_policy::least_busy;
    /// TLS (session and request listeners): PEM files; empty tls_cert = plain q-IPC.
    std::string tls_cert{};
    std::string tls_key{};
    std::string tls_ca{};            ///< CA bundle client certificates are checked against
    bool tls_verify_client = false;  ///< require a client certificate signed by tls_ca
    bool tls() const { return !tls_cert.empty(); }
};

/// Request mode pipelining of a backend (order of the "backend.pipeline" choices).
/// automatic: asked at each connect (DESIGN: a q process without .z.pg answers in order).
enum class pipeline_mode : uint8_t { automatic, on, off };

/// Where a backend came from (the `source` column of .qgate.backends[]; order of
/// source_name's names). Only `config` backends are written back by .qgate.config[].
enum class backend_source : uint8_t { config, process_csv, registered, discovery, fleet };

/// "config", "process.csv", "register", "discovery", "fleet" (learnt from the fleet's etcd).
inline const char* source_name(backend_source s) {
    constexpr const char* kNames[] = {"config", "process.csv", "register", "discovery",
                                      "fleet"};
    return kNames[static_cast<uint8_t>(s)];
}

/// backend.credentials value that sends each session client's own credentials upstream.
inline constexpr std::string_view kPassthrough = "passthrough";

struct backend_conf {
    std::string name;
    std::string group;
    endpoint addr;
    std::string credentials;  ///< "user:password" sent upstream; empty = "qgate" user, no password;
                              ///< kPassthrough = the client's own (session mode; request
                              ///< mode: per-user pools)
    uint32_t conns = 4;  ///< request mode: pooled upstream connections
    /// Request mode: may several calls be in flight on one pooled connection? Only a backend
    /// that answers in order may (plain q; not a .z.pg deferring with -30!).
    pipeline_mode pipeline = pipeline_mode::automatic;
    /// Request mode, credentials = kPassthrough: links per user (opened on demand), users
    /// with links at once, and how long an unused link stays open.
    uint32_t user_links_max = 2;
    uint32_t user_pools_max = 64;
    uint32_t user_idle_ms = 60000;
    backend_source source = backend_source::config;
    /// TLS to the backend (issue 18): every connection qgate opens to it speaks TLS 1.2/1.3,
    /// the peer always verified (against tls_ca, or the system store when empty).
    bool tls = false;
    std::string tls_ca{};           ///< PEM CA bundle; empty = the system store
    std::string tls_server_name{};  ///< checked and sent as SNI; empty = the address's host
    std::string tls_cert{};         ///< client certificate (PEM), with tls_key; optional
    std::string tls_key{};
};

/// Message types a route accepts (order of the "route.type" choices).
enum class route_type : uint8_t { any, sync, async };

/// One [[route]]: first match wins (request mode, DESIGN §5.2).
struct route_conf {
    std::vector<std::string> match{"*"};  ///< function-name patterns (exact or glob)
    std::vector<std::string> users;       ///< user patterns; empty = any user
    route_type type = route_type::any;
    std::string group;                ///< one group (or use `groups`)
    std::vector<std::string> groups;  ///< fan-out: one backend of each group, replies joined
    std::string join;                 ///< fan-out join: raze (default) / list / first / q name
    route_policy policy = route_policy::least_busy;
    uint32_t hash_arg = 1;    ///< consistent-hash: 1-based argument to hash
    uint32_t timeout_ms = 0;  ///< 0 = no timeout
    uint32_t queue_max = 0;   ///< 0 = limits.queue_max
    int32_t priority = 0;     ///< higher is served first from a backend's queue
};

/// One [[user_limits]]: limits for each user its `users` patterns match (first entry wins).
struct user_limits_conf {
    std::vector<std::string> users{"*"};  ///< user patterns (exact or glob)
    uint32_t conns_max = 0;  ///< open connections per user, all listeners and shards; 0 = any
    uint64_t message_bytes_max = 0;  ///< longest message from such a user; 0 = the global limit
    uint32_t calls_max = 0;  ///< request mode: sync calls in flight per user, process-wide; 0 = any
};

/// One line of a q -u style users file: `user:secret`, or `user:secret:admin` for a user who
/// may also use the admin port (src/ctl/users.cc).
struct user_entry {
    enum class hash : uint8_t { plain, md5, sha1, sha256 };
    std::string user;
    hash kind = hash::plain;
    std::string secret;  ///< plain password, or lowercase hex digest
    bool admin = false;  ///< the admin role: may log in to the admin port
};

/// One [[user_group]]: a name [[acl]] rules refer to as "@name", and its members.
struct user_group_conf {
    std::string name;
    std::vector<std::string> users;  ///< user names or globs
};

/// One [[acl]] rule (entitlements, src/route/acl.cc). With no [[acl]] everything is allowed;
/// once one exists, a call is allowed only when some rule matching its user allows it whole.
struct acl_conf {
    std::vector<std::string> users;      ///< user names, globs, or "@group" ([[user_group]])
    std::vector<std::string> listeners;  ///< listener indices ("0"); empty = every listener
    std::vector<std::string> groups;     ///< backend groups (exact or glob); empty = every one
    std::vector<std::string> functions{"*"};  ///< function names (exact or glob, as route.match)
    /// "sync", "async", "string": a string query needs "string" and its message type's kind.
    std::vector<std::string> kinds{"sync", "async", "string"};
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
    uint32_t session_reply_timeout_ms = 0;  ///< session mode: a backend owing a reply silent
                                            ///< this long is given up; 0 = never
    uint32_t queue_max = 1024;            ///< request mode: waiting requests per backend
    uint64_t request_bytes_max = 64u << 20;   ///< request mode: longest call (buffered whole)
    uint64_t inflate_bytes_max = 64u << 20;   ///< most one compressed message may inflate to
    uint32_t inflate_ratio_max = 0;           ///< most uncompressed / compressed; 0 = any
    uint32_t requests_per_shard_max = 16384;  ///< request slots per shard (queued + in flight)
    uint32_t requests_per_client_max = 1024;  ///< calls one client may have outstanding
    uint32_t big_bufs_max = 16;               ///< request mode: cached buffers past 1 MiB per shard
    uint64_t big_bufs_bytes_max = 64u << 20;  ///< request mode: bytes those may hold per shard
    /// Request mode: bytes of calls and replies one client may hold (held_budget.h).
    uint64_t client_bytes_max = uint64_t{1} << 30;
    /// Request mode: bytes of calls and replies held in request slots, whole process.
    uint64_t request_bytes_held_max = uint64_t{4} << 30;
    uint32_t reconnect_min_ms = 50;       ///< first reconnect delay; doubles per failure
    uint32_t reconnect_max_ms = 5000;     ///< backoff cap
    uint32_t eject_after_failures = 3;    ///< consecutive failed connects before ejection
    uint32_t pipeline_depth = 64;         ///< request mode: calls in flight per pooled connection
    uint32_t pipeline_hold_ms = 2;        ///< request mode: a pipelined backend this long on a
                                          ///< call takes no more until it answers; 0 = never
    uint32_t health_interval_ms = 0;      ///< idle pooled connections are probed; 0 = never
};

/// [pubsub]: the tickerplant face of qgate (DESIGN §7). Listeners with mode = "pubsub" serve
/// `.u.sub` subscribers and `.u.upd` publishers; `upstream` names the [[backend]] qgate itself
/// subscribes to (`.u.sub` on every connect), empty when only publishers feed it.
struct pubsub_conf {
    std::string upstream;             ///< backend name of the upstream tickerplant; "" = none
    std::vector<std::string> tables;  ///< tables subscribed upstream; empty = every table (`)
    uint32_t backlog_updates_max = 4096;        ///< per subscriber
    uint64_t backlog_bytes_max = uint64_t{64} << 20;  ///< per subscriber
    uint8_t slow_subscriber = 0;      ///< 0 disconnect, 1 conflate (pubsub::slow_policy)
    uint32_t pubinterval_ms = 0;  ///< batch each table's updates for this long; 0 = tick by tick
};

/// [admin]: bounds on the admin endpoint's clients, so that idle or half-open connections cannot
/// lock the admins out (src/ctl/admin.cc).
struct admin_conf {
    uint32_t handshake_timeout_ms = 5000;  ///< a connection must authenticate within this
    uint32_t idle_timeout_ms = 300000;     ///< an authenticated one silent this long; 0 = never
    uint32_t clients_max = 64;             ///< at the cap, a newcomer displaces one (admin.cc)
    bool http = true;  ///< answer HTTP (GET /metrics) on the admin port, without authentication
};

/// Fan-out and joins (request mode, `.gw.*` calls and fan-out routes).
/// [access_log]: one line per request-mode call, written by a logger thread (access_log.h).
struct access_log_conf {
    std::string path;             ///< empty = no access log
    uint32_t slow_ms = 0;         ///< log only calls at least this slow; 0 = every call
    uint32_t ring_entries = 4096; ///< records each shard may have waiting for the logger
};

/// Backends that find themselves (issue 17). Each source names the groups it may fill (a
/// route or listener may target them while they are still empty); its backends log in with
/// `credentials` and get `conns` pooled connections, as a [[backend]] would.
/// [register]: KX whitepaper style, a service calls registerResource[name;address] on this
/// listener and is a backend of group `name` until that connection closes.
struct register_conf {
    bool enabled = false;             ///< the [register] section is present
    endpoint listen;                  ///< the registration listener
    std::vector<std::string> groups;  ///< names a service may register under; empty = any
    std::string credentials;          ///< qgate's login at the registered backends
    uint32_t conns = 4;
    uint32_t backends_max = 256;      ///< registered backends at once
};

/// [discovery]: TorQ style, qgate asks the discovery processes getservices[proctypes;1b] and
/// applies the .servers.procupdate messages they push; group = proctype.
struct discovery_conf {
    std::vector<std::string> addresses;  ///< "host:port" of each discovery process
    std::vector<std::string> proctypes;  ///< asked for, and the groups they fill
    std::string credentials;             ///< login at the discovery processes and backends
    uint32_t conns = 4;
    uint32_t refresh_ms = 5000;          ///< getservices again (TorQ pushes no removals)
    /// `:tcps://` hpups become tls = true backends verified against this CA (empty: the
    /// system store), presenting tls_cert/tls_key when set.
    std::string tls_ca{};
    std::string tls_cert{};
    std::string tls_key{};
};

/// [process_csv]: a TorQ process.csv as a backend file (re-read on reload); rows of the listed
/// proctypes become backends named procname in group proctype.
struct process_csv_conf {
    std::string path;                    ///< empty = none
    std::vector<std::string> proctypes;  ///< rows kept, and the groups they fill
    std::string credentials;
    uint32_t conns = 4;
};

/// [fleet]: several qgates share backends, drains and health through etcd (src/ctl/fleet.cc).
struct fleet_conf {
    std::vector<std::string> etcd;       ///< "host:port" of etcd's client URLs; empty = no fleet
    std::string prefix = "/qgate/";      ///< every key lives under it
    std::string instance;                ///< this instance's name; empty = hostname:admin-port
    std::string advertise;               ///< the address shown in .qgate.fleet[]; empty = name
    std::vector<std::string> groups;     ///< groups fleet backends may fill (empty ones exist)
    uint32_t lease_ttl_ms = 5000;        ///< the instance's lease (whole seconds, rounded up)
    uint32_t eject_quorum = 2;           ///< instances seeing a backend down eject it; 0 = local
    uint32_t timeout_ms = 1000;          ///< each etcd call
    std::string credentials;             ///< login at the fleet's backends
    uint32_t conns = 4;                  ///< request mode: pooled connections to each
};

struct fanout_conf {
    std::string reducer;          ///< group that applies custom q joins; empty = none
    uint32_t contexts_max = 256;  ///< fan-outs in progress per shard (each holds a gather)
};

struct config {
    uint32_t shards = 0;  ///< 0 = one per CPU
    io_mode io = io_mode::auto_;
    std::string log_level = "info";
    std::string port_file;  ///< if set, the bound listener ports are written here (tests)
    std::vector<listener_conf> listeners;
    std::vector<backend_conf> backends;
    std::vector<route_conf> routes;
    std::vector<acl_conf> acls;               ///< [[acl]], in file order
    std::vector<user_group_conf> user_groups;  ///< [[user_group]]
    std::vector<user_limits_conf> user_limits;
    endpoint admin;  ///< admin q-IPC listener (.qgate.stats[]); port 0 with empty host = off
    bool admin_enabled = false;
    admin_conf admin_limits;
    std::string users_file;  ///< empty = no authentication (any user accepted, like q without -u)
    std::vector<user_entry> users;
    limits_conf limits;
    pubsub_conf pubsub;
    fanout_conf fanout;
    access_log_conf access_log;
    register_conf registration;
    discovery_conf discovery;
    process_csv_conf process_csv;
    fleet_conf fleet;
};

using config_ptr = std::shared_ptr<const config>;

}  // namespace qgate
