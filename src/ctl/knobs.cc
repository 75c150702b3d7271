// DESIGN: the one table of configuration knobs (STYLE.md rule 8) and the checks every value
// passes through, whatever its source (TOML file, command line, a default literal).
// Owns: kKnobs / kSections (immutable, static storage). Thread: control plane only (start-up,
// reload). Defaults live in the table; qgate::config's member initialisers must agree, which
// tests/ctl/knobs_test.cc proves knob by knob through the getters.
#include "ctl/knobs.h"

#include <charconv>
#include <type_traits>
#include <vector>

#include "ctl/knob_values.h"
#include "qgate/ctl.h"

namespace qgate::ctl {
namespace {

// ---- setters and getters (one line each, so the table stays readable) ---------------------

// The i-th name of "a|b|c" (empty when out of range).
std::string_view choice_name(std::string_view choices, int64_t index) {
    for (int64_t i = 0;; ++i) {
        std::size_t bar = choices.find('|');
        if (i == index) return choices.substr(0, bar);
        if (bar == std::string_view::npos) return {};
        choices.remove_prefix(bar + 1);
    }
}

int64_t choice_index(std::string_view choices, std::string_view name) {
    for (int64_t i = 0;; ++i) {
        std::size_t bar = choices.find('|');
        if (choices.substr(0, bar) == name) return i;
        if (bar == std::string_view::npos) return -1;
        choices.remove_prefix(bar + 1);
    }
}

// Old spellings a choice knob still accepts, so existing config files keep working; the
// getter, --help's domain and errors show the canonical names only (the knob's help text
// mentions the old one).
struct choice_alias {
    std::string_view knob;
    std::string_view alias;
    std::string_view canonical;
};
constexpr choice_alias kChoiceAliases[] = {
    // Session mode's policy before it joined request mode's family.
    {"listener.policy", "least-connections", "least-busy"},
};

int64_t choice_or_alias_index(const knob& k, std::string_view name) {
    const int64_t i = choice_index(k.choices, name);
    if (i >= 0) return i;
    for (const choice_alias& a : kChoiceAliases) {
        if (a.knob == k.name && a.alias == name) return choice_index(k.choices, a.canonical);
    }
    return -1;
}

knob_value choice_value(std::string_view choices, int64_t index) {
    knob_value v;
    v.integer = index;
    v.text = std::string(choice_name(choices, index));
    return v;
}

listener_conf& listener_at(config& c, std::size_t i) {
    if (c.listeners.size() <= i) c.listeners.resize(i + 1);
    return c.listeners[i];
}

backend_conf& backend_at(config& c, std::size_t i) {
    if (c.backends.size() <= i) c.backends.resize(i + 1);
    return c.backends[i];
}

acl_conf& acl_at(config& c, std::size_t i) {
    if (c.acls.size() <= i) c.acls.resize(i + 1);
    return c.acls[i];
}

user_group_conf& user_group_at(config& c, std::size_t i) {
    if (c.user_groups.size() <= i) c.user_groups.resize(i + 1);
    return c.user_groups[i];
}

template <auto M>
void set_acl_list(config& c, std::size_t i, const knob_value& v) {
    acl_at(c, i).*M = v.list;
}

template <auto M>
knob_value get_acl_list(const config& c, std::size_t i) {
    knob_value v;
    v.list = c.acls.at(i).*M;
    return v;
}

user_limits_conf& user_limits_at(config& c, std::size_t i) {
    if (c.user_limits.size() <= i) c.user_limits.resize(i + 1);
    return c.user_limits[i];
}

route_conf& route_at(config& c, std::size_t i) {
    if (c.routes.size() <= i) c.routes.resize(i + 1);
    return c.routes[i];
}

template <auto M>
void set_route_int(config& c, std::size_t i, const knob_value& v) {
    route_at(c, i).*M = static_cast<uint32_t>(v.integer);
}

template <auto M>
knob_value get_route_int(const config& c, std::size_t i) {
    return int_value(c.routes.at(i).*M);
}

template <auto M>
void set_limit(config& c, std::size_t, const knob_value& v) {
    using field = std::remove_reference_t<decltype(c.limits.*M)>;
    c.limits.*M = static_cast<field>(v.integer);
}

template <auto M>
knob_value get_limit(const config& c, std::size_t) {
    return int_value(c.limits.*M);
}

template <auto M>
void set_text(config& c, std::size_t, const knob_value& v) {
    c.*M = v.text;
}

template <auto M>
knob_value get_text(const config& c, std::size_t) {
    return text_value(c.*M);
}

template <auto M>
void set_backend_text(config& c, std::size_t i, const knob_value& v) {
    backend_at(c, i).*M = v.text;
}

template <auto M>
knob_value get_backend_text(const config& c, std::size_t i) {
    return text_value(c.backends.at(i).*M);
}

// A backend's uint32_t knob.
template <auto M>
void set_b32(config& c, std::size_t i, const knob_value& v) {
    backend_at(c, i).*M = uint32_t(v.integer);
}

template <auto M>
knob_value get_b32(const config& c, std::size_t i) { return int_value(c.backends.at(i).*M); }

constexpr std::string_view kIoChoices = "auto|uring|epoll";  // order of qgate::io_mode
constexpr std::string_view kLogChoices = "debug|info|warn|error";
constexpr std::string_view kModeChoices = "session|request|pubsub";  // order of qgate::conn_mode
// Order of qgate::route_policy (route.policy and listener.policy) and qgate::route_type.
constexpr std::string_view kRoutePolicyChoices =
    "least-busy|round-robin|first-available|consistent-hash";
constexpr std::string_view kRouteTypeChoices = "any|sync|async";
constexpr std::string_view kPipelineChoices = "auto|on|off";  // order of qgate::pipeline_mode
constexpr std::string_view kSlowChoices = "disconnect|conflate";  // order of pubsub::slow_policy

using knob_flag::kIfSection;
using knob_flag::kPath;
using knob_flag::kPowerOfTwo;
using knob_flag::kRelativePath;
using knob_flag::kReloadable;
using knob_flag::kRequired;
constexpr knob_scope kTable = knob_scope::table;
constexpr knob_scope kArray = knob_scope::array;
constexpr int64_t kTimeoutMsMax = 3'600'000;  // one hour: anything longer is a typo
constexpr int64_t kBytesMax = (int64_t{1} << 40) - 1;  // q's own message limit (1 TB)

// ---- the table --------------------------------------------------------------------------

const knob kKnobs[] = {
    {"server.shards", knob_type::integer, kTable, "0", 0, 1024, {}, 0, "shards",
     "Worker shards: one thread, one io_uring and one listener socket each. 0 = one per CPU.",
     [](config& c, std::size_t, const knob_value& v) { c.shards = uint32_t(v.integer); },
     [](const config& c, std::size_t) { return int_value(c.shards); }},
    {"server.io", knob_type::choice, kTable, "\"auto\"", 0, 0, kIoChoices, 0, "io",
     "I/O backend. auto tries io_uring and falls back to epoll, logging why.",
     [](config& c, std::size_t, const knob_value& v) { c.io = io_mode(v.integer); },
     [](const config& c, std::size_t) { return choice_value(kIoChoices, int64_t(c.io)); }},
    {"server.log_level", knob_type::choice, kTable, "\"info\"", 0, 0, kLogChoices, kReloadable,
     "log-level", "Lowest level written to stderr.", set_text<&config::log_level>,
     [](const config& c, std::size_t) {
         return choice_value(kLogChoices, choice_index(kLogChoices, c.log_level));
     }},
    {"server.users_file", knob_type::string, kTable, "\"\"", 0, 0, {},
     kReloadable | kRelativePath, {},
     "q -u style users file (user:password per line; password plain or an MD5 / SHA-1 / "
     "SHA-256 hex digest). Relative to this file's directory. Empty = no authentication.",
     set_text<&config::users_file>, get_text<&config::users_file>},
    {"server.port_file", knob_type::string, kTable, "\"\"", 0, 0, {}, kPath, "port-file",
     "Written after binding: one \"listener <i> <port>\" line per listener, then "
     "\"admin <port>\". For tests and scripts that listen on port 0. Empty = not written.",
     set_text<&config::port_file>, get_text<&config::port_file>},

    {"limits.message_bytes_max", knob_type::integer, kTable, "4294967296", 10, kBytesMax, {},
     kReloadable, {}, "Longest q message accepted from a client or backend (header included).",
     set_limit<&limits_conf::message_bytes_max>, get_limit<&limits_conf::message_bytes_max>},
    {"limits.handshake_bytes_max", knob_type::integer, kTable, "1024", 16, 65536, {},
     kReloadable, {}, "Longest client handshake (\"user:password\", capability byte, NUL).",
     set_limit<&limits_conf::handshake_bytes_max>, get_limit<&limits_conf::handshake_bytes_max>},
    {"limits.conns_per_shard_max", knob_type::integer, kTable, "10000", 1, 1'000'000, {}, 0, {},
     "Client connections per shard. One more is accepted and closed at once (conns_rejected), "
     "unless some are still in their handshake: then the oldest of those is closed to make room "
     "(handshakes_evicted).",
     set_limit<&limits_conf::conns_per_shard_max>, get_limit<&limits_conf::conns_per_shard_max>},
    {"limits.out_bytes_high", knob_type::integer, kTable, "8388608", 4096, kBytesMax, {},
     kReloadable, {},
     "High watermark: stop reading a peer while the bytes queued towards its partner exceed it.",
     set_limit<&limits_conf::out_bytes_high>, get_limit<&limits_conf::out_bytes_high>},
    {"limits.out_bytes_low", knob_type::integer, kTable, "2097152", 0, kBytesMax, {},
     kReloadable, {}, "Low watermark: resume reading below it. Must be below out_bytes_high.",
     set_limit<&limits_conf::out_bytes_low>, get_limit<&limits_conf::out_bytes_low>},
    {"limits.buf_ring_entries", knob_type::integer, kTable, "512", 1, 32768, {}, kPowerOfTwo,
     {},
     "Provided receive buffers per shard (io_uring buffer ring; a power of two). The pool, "
     "buf_ring_entries x buf_size bytes per shard (32 MiB by default), is what bounds qgate's "
     "memory.",
     set_limit<&limits_conf::buf_ring_entries>, get_limit<&limits_conf::buf_ring_entries>},
    {"limits.buf_size", knob_type::integer, kTable, "65536", 512, 1 << 20, {}, 0, {},
     "Bytes per provided receive buffer. 64 KiB matches the largest segment loopback and GSO "
     "deliver, so a large message costs a quarter of the receive completions and iovecs that "
     "16 KiB buffers cost (a quarter less proxy CPU per 1 MiB round trip, bench/RESULTS.md); "
     "small messages use only the bytes they need.",
     set_limit<&limits_conf::buf_size>,
     get_limit<&limits_conf::buf_size>},
    {"limits.session_buf_share_pct", knob_type::integer, kTable, "10", 1, 50, {}, 0,
     {},
     "Largest share (%) of its shard's receive buffer pool that one direction of a session may "
     "hold queued. Above it qgate stops reading the feeding peer (counted in buf_share_pauses) "
     "and resumes at half of it. Bytes alone do not bound this: a 64-byte reply pins a whole "
     "buffer. So a client that stops reading pins at most this share, never the whole pool.",
     set_limit<&limits_conf::session_buf_share_pct>,
     get_limit<&limits_conf::session_buf_share_pct>},
    {"limits.connect_timeout_ms", knob_type::integer, kTable, "2000", 1, kTimeoutMsMax, {},
     kReloadable, {}, "Upstream connect() plus handshake to a backend.",
     set_limit<&limits_conf::connect_timeout_ms>, get_limit<&limits_conf::connect_timeout_ms>},
    {"limits.handshake_timeout_ms", knob_type::integer, kTable, "5000", 1, kTimeoutMsMax, {},
     kReloadable, {}, "A client must complete its handshake within this time.",
     set_limit<&limits_conf::handshake_timeout_ms>,
     get_limit<&limits_conf::handshake_timeout_ms>},
    {"limits.drain_timeout_ms", knob_type::integer, kTable, "5000", 0, kTimeoutMsMax, {},
     kReloadable, {}, "On SIGTERM/SIGINT, how long in-flight requests may finish.",
     set_limit<&limits_conf::drain_timeout_ms>, get_limit<&limits_conf::drain_timeout_ms>},
    {"limits.session_reply_timeout_ms", knob_type::integer, kTable, "0", 0, kTimeoutMsMax, {},
     kReloadable, {},
     "Session mode: a backend that owes its client a reply (a sync call's, or the rest of a "
     "message it began) and sends nothing for this long is given up: each sync call waiting "
     "gets 'qgate: timeout after Nms and the client is closed (at once, with no error, when a "
     "message was cut off half-way: it cannot be completed). 0 (default): never, since a "
     "q backend cannot be cancelled and a long query is legitimate.",
     set_limit<&limits_conf::session_reply_timeout_ms>,
     get_limit<&limits_conf::session_reply_timeout_ms>},
    {"limits.queue_max", knob_type::integer, kTable, "1024", 1, 1'000'000, {}, kReloadable, {},
     "Request mode: requests waiting for one backend (per home shard) before new ones get "
     "'qgate: busy. A route's queue_max overrides it.",
     set_limit<&limits_conf::queue_max>, get_limit<&limits_conf::queue_max>},
    {"limits.request_bytes_max", knob_type::integer, kTable, "67108864", 16, kBytesMax, {}, 0, {},
     "Request mode: longest call a client may send (each call is read whole to be routed). A "
     "longer one is read past and answered 'qgate: request too large.",
     set_limit<&limits_conf::request_bytes_max>, get_limit<&limits_conf::request_bytes_max>},
    {"limits.inflate_bytes_max", knob_type::integer, kTable, "67108864", 10, kBytesMax, {},
     kReloadable, {},
     "Most bytes (header included) one compressed q message may inflate to, in every mode: "
     "a compressed call, reply, update or fan-out part declaring more is refused and counted "
     "in inflate_refused. Replies, fan-out parts and updates are inflated whole on their "
     "shard's thread, at a cost mostly of touching fresh memory, so this bounds the stall one "
     "message can cause other connections; request-mode calls past 1 MiB are inflated 1 MiB "
     "per loop turn (README, Behaviour decisions). Capped by message_bytes_max.",
     set_limit<&limits_conf::inflate_bytes_max>, get_limit<&limits_conf::inflate_bytes_max>},
    {"limits.inflate_ratio_max", knob_type::integer, kTable, "0", 0, 1 << 30, {}, kReloadable,
     {},
     "Most a compressed message may inflate to per compressed byte (uncompressed / compressed "
     "length); more is refused as for inflate_bytes_max. 0 = no bound. q's format cannot "
     "exceed 121 and honest data reaches it (a column of one value: 120.9, sorted symbols: "
     "117), so only data known to compress less should set it.",
     set_limit<&limits_conf::inflate_ratio_max>, get_limit<&limits_conf::inflate_ratio_max>},
    {"limits.requests_per_client_max", knob_type::integer, kTable, "1024", 2, 1'000'000, {}, 0,
     {}, "Request mode: calls one client may have outstanding (pipelined and not yet answered, "
     "or async not yet sent). Beyond it qgate stops reading the client until half are done.",
     set_limit<&limits_conf::requests_per_client_max>,
     get_limit<&limits_conf::requests_per_client_max>},
    {"limits.requests_per_shard_max", knob_type::integer, kTable, "16384", 16, 1'000'000, {}, 0,
     {}, "Request mode: request slots per shard (each queued or in-flight call of a client on "
     "that shard holds one). Beyond it calls get 'qgate: busy.",
     set_limit<&limits_conf::requests_per_shard_max>,
     get_limit<&limits_conf::requests_per_shard_max>},
    {"limits.big_bufs_max", knob_type::integer, kTable, "16", 0, 64, {}, 0, {},
     "Request mode: buffers past 1 MiB (large calls and replies, which request slots do not "
     "keep) each shard holds for reuse, so a large message does not allocate and free its "
     "buffers every time (a call in flight may need two). 0 = none.",
     set_limit<&limits_conf::big_bufs_max>, get_limit<&limits_conf::big_bufs_max>},
    {"limits.big_bufs_bytes_max", knob_type::integer, kTable, "67108864", 0, kBytesMax, {}, 0,
     {}, "Request mode: bytes those cached buffers may hold per shard (the oldest are freed "
     "first; a longer buffer is never cached).",
     set_limit<&limits_conf::big_bufs_bytes_max>, get_limit<&limits_conf::big_bufs_bytes_max>},
    {"limits.client_bytes_max", knob_type::integer, kTable, "1073741824", 65536, kBytesMax, {}, 0,
     {}, "Request mode: bytes of calls and replies one client may hold in qgate (calls copied "
     "and not yet answered, replies not yet written to it). At it qgate stops reading the "
     "client until it is down to half; a reply that would take it past, while it holds "
     "anything else, is dropped and answered 'qgate: busy (client_bytes_refused).",
     set_limit<&limits_conf::client_bytes_max>, get_limit<&limits_conf::client_bytes_max>},
    {"limits.request_bytes_held_max", knob_type::integer, kTable, "4294967296", 1048576,
     kBytesMax, {}, 0, {},
     "Request mode: bytes of calls and replies all clients together may hold in qgate (calls "
     "queued or in flight, replies not yet written to their client). A call or reply that "
     "would pass it is read past and answered 'qgate: busy (request_held_refused).",
     set_limit<&limits_conf::request_bytes_held_max>,
     get_limit<&limits_conf::request_bytes_held_max>},
    {"limits.reconnect_min_ms", knob_type::integer, kTable, "50", 1, kTimeoutMsMax, {},
     kReloadable, {},
     "Request mode: delay before reconnecting a lost backend connection; doubles per failure "
     "(with jitter) up to reconnect_max_ms.",
     set_limit<&limits_conf::reconnect_min_ms>, get_limit<&limits_conf::reconnect_min_ms>},
    {"limits.reconnect_max_ms", knob_type::integer, kTable, "5000", 1, kTimeoutMsMax, {},
     kReloadable, {},
     "Request mode: longest reconnect delay.",
     set_limit<&limits_conf::reconnect_max_ms>, get_limit<&limits_conf::reconnect_max_ms>},
    {"limits.health_interval_ms", knob_type::integer, kTable, "0", 0, kTimeoutMsMax, {},
     kReloadable, {},
     "Request mode: every this many ms, a pooled connection whose backend is idle sends the "
     "sync query \"\" as a health check; no answer within connect_timeout_ms fails the connection "
     "(reconnect, and ejection after repeated failures). 0 = no health query.",
     set_limit<&limits_conf::health_interval_ms>, get_limit<&limits_conf::health_interval_ms>},
    {"limits.pipeline_depth", knob_type::integer, kTable, "64", 1, 1024, {}, 0, {},
     "Request mode: calls in flight on one pipelined connection (backend.pipeline). Deep enough "
     "that calls leave and come back in big batches (8 clients x 16 pipelined: 64 gave about "
     "20% more calls/s than 16); a call committed to a connection cannot move to another "
     "backend, so more only lengthens what a failure loses (pipeline_hold_ms keeps calls off a "
     "backend busy on a long one).",
     set_limit<&limits_conf::pipeline_depth>, get_limit<&limits_conf::pipeline_depth>},
    {"limits.pipeline_hold_ms", knob_type::integer, kTable, "2", 0, 3'600'000, {}, kReloadable, {},
     "Request mode: a pipelined backend (one that answers in order, so a serial q) whose oldest "
     "unanswered call has run this long is busy on a long query: new calls wait in its queue, "
     "where priorities, timeouts, a client's disconnect and ejection still apply, instead of "
     "being sent behind it on any of its connections. 0 = always pipeline up to the depth.",
     set_limit<&limits_conf::pipeline_hold_ms>, get_limit<&limits_conf::pipeline_hold_ms>},
    {"limits.eject_after_failures", knob_type::integer, kTable, "3", 1, 1000, {}, kReloadable, {},
     "Request mode: consecutive failed connects after which a backend is ejected (no longer "
     "picked; its queue is failed) until a reconnect succeeds.",
     set_limit<&limits_conf::eject_after_failures>,
     get_limit<&limits_conf::eject_after_failures>},

    {"admin.listen", knob_type::address, kTable, "\"127.0.0.1:0\"", 0, 0, {}, kIfSection, {},
     "q-IPC admin endpoint (h\".qgate.stats[]\"), authenticated like clients. Port 0 = any "
     "(see port_file).",
     [](config& c, std::size_t, const knob_value& v) {
         c.admin = v.addr;
         c.admin_enabled = true;
     },
     [](const config& c, std::size_t) { return addr_value(c.admin); }},
    {"admin.handshake_timeout_ms", knob_type::integer, kTable, "5000", 1, kTimeoutMsMax, {}, 0,
     {}, "An admin connection that has not authenticated within this time is closed (counted "
     "in admin_handshake_timeouts), however slowly it keeps sending.",
     [](config& c, std::size_t, const knob_value& v) {
         c.admin_limits.handshake_timeout_ms = uint32_t(v.integer);
     },
     [](const config& c, std::size_t) { return int_value(c.admin_limits.handshake_timeout_ms); }},
    {"admin.idle_timeout_ms", knob_type::integer, kTable, "300000", 0, kTimeoutMsMax, {}, 0, {},
     "An authenticated admin connection that sends nothing for this long is closed (counted in "
     "admin_idle_closed). 0 = never.",
     [](config& c, std::size_t, const knob_value& v) {
         c.admin_limits.idle_timeout_ms = uint32_t(v.integer);
     },
     [](const config& c, std::size_t) { return int_value(c.admin_limits.idle_timeout_ms); }},
    {"admin.clients_max", knob_type::integer, kTable, "64", 1, 4096, {}, 0, {},
     "Admin connections open at once. At the cap a new connection is still served: the oldest "
     "one not yet authenticated is closed to make room, else the authenticated one idle longest "
     "(counted in admin_evicted), so idle or half-open connections cannot lock admins out.",
     [](config& c, std::size_t, const knob_value& v) {
         c.admin_limits.clients_max = uint32_t(v.integer);
     },
     [](const config& c, std::size_t) { return int_value(c.admin_limits.clients_max); }},
    {"admin.http", knob_type::boolean, kTable, "true", 0, 1, {}, 0, {},
     "Answer HTTP on the admin port as well as q (the first bytes decide): GET /metrics, the "
     "Prometheus text format. Read-only and without authentication, as Prometheus scrapes; "
     "false = q only.",
     [](config& c, std::size_t, const knob_value& v) { c.admin_limits.http = v.integer != 0; },
     [](const config& c, std::size_t) { return bool_value(c.admin_limits.http); }},

    {"listener.listen", knob_type::address, kArray, "\"127.0.0.1:5010\"", 0, 0, {}, kRequired,
     {}, "Address clients connect to. Port 0 = any (see server.port_file).",
     [](config& c, std::size_t i, const knob_value& v) { listener_at(c, i).addr = v.addr; },
     [](const config& c, std::size_t i) { return addr_value(c.listeners.at(i).addr); }},
    {"listener.mode", knob_type::choice, kArray, "\"session\"", 0, 0, kModeChoices, 0, {},
     "session: each client gets its own upstream connection, held for its lifetime. "
     "request: every call is routed on its own over shared upstream connections. "
     "pubsub: a tickerplant face ([pubsub]): clients subscribe with .u.sub or publish with "
     ".u.upd; group is not used.",
     [](config& c, std::size_t i, const knob_value& v) {
         listener_at(c, i).mode = conn_mode(v.integer);
     },
     [](const config& c, std::size_t i) {
         return choice_value(kModeChoices, int64_t(c.listeners.at(i).mode));
     }},
    {"listener.group", knob_type::string, kArray, "\"rdb\"", 0, 0, {}, kRequired, {},
     "Backend group serving this listener; at least one [[backend]] must belong to it.",
     [](config& c, std::size_t i, const knob_value& v) { listener_at(c, i).group = v.text; },
     [](const config& c, std::size_t i) { return text_value(c.listeners.at(i).group); }},
    {"listener.policy", knob_type::choice, kArray, "\"least-busy\"", 0, 0, kRoutePolicyChoices,
     0, {},
     "Session mode: how a session picks its backend in the group, once at connect: fewest open "
     "sessions (all shards; \"least-connections\" is accepted for it), rotation, config order "
     "(failover), or xxHash3 of the client's user name on a ring (the same user always lands on "
     "the same backend while it is up). A backend that fails the connect is skipped and the "
     "policy picks again (consistent-hash: the next one on the ring).",
     [](config& c, std::size_t i, const knob_value& v) {
         listener_at(c, i).policy = route_policy(v.integer);
     },
     [](const config& c, std::size_t i) {
         return choice_value(kRoutePolicyChoices, int64_t(c.listeners.at(i).policy));
     }},

    {"listener.tls_cert", knob_type::string, kArray, "\"\"", 0, 0, {}, kRelativePath, {},
     "TLS: the listener's certificate chain (PEM), relative to this file's directory. Set = "
     "the listener speaks TLS 1.2/1.3 only (session and request modes); empty = plain q-IPC.",
     [](config& c, std::size_t i, const knob_value& v) { listener_at(c, i).tls_cert = v.text; },
     [](const config& c, std::size_t i) { return text_value(c.listeners.at(i).tls_cert); }},
    {"listener.tls_key", knob_type::string, kArray, "\"\"", 0, 0, {}, kRelativePath, {},
     "TLS: the private key of tls_cert (PEM, unencrypted). Required with tls_cert.",
     [](config& c, std::size_t i, const knob_value& v) { listener_at(c, i).tls_key = v.text; },
     [](const config& c, std::size_t i) { return text_value(c.listeners.at(i).tls_key); }},
    {"listener.tls_ca", knob_type::string, kArray, "\"\"", 0, 0, {}, kRelativePath, {},
     "TLS: CA bundle (PEM) client certificates are verified against (tls_verify_client).",
     [](config& c, std::size_t i, const knob_value& v) { listener_at(c, i).tls_ca = v.text; },
     [](const config& c, std::size_t i) { return text_value(c.listeners.at(i).tls_ca); }},
    {"listener.tls_verify_client", knob_type::boolean, kArray, "false", 0, 1, {}, 0, {},
     "TLS: refuse clients without a certificate signed by tls_ca (mutual TLS).",
     [](config& c, std::size_t i, const knob_value& v) {
         listener_at(c, i).tls_verify_client = v.integer != 0;
     },
     [](const config& c, std::size_t i) {
         return bool_value(c.listeners.at(i).tls_verify_client);
     }},

    {"backend.name", knob_type::string, kArray, "\"rdb1\"", 0, 0, {}, kRequired | kReloadable,
     {}, "Unique name, used in logs, errors and stats.", set_backend_text<&backend_conf::name>,
     get_backend_text<&backend_conf::name>},
    {"backend.group", knob_type::string, kArray, "\"rdb\"", 0, 0, {}, kRequired | kReloadable,
     {}, "Group this backend serves (see listener.group).",
     set_backend_text<&backend_conf::group>, get_backend_text<&backend_conf::group>},
    {"backend.address", knob_type::address, kArray, "\"127.0.0.1:5011\"", 0, 0, {},
     kRequired | kReloadable, {}, "Address of the q process.",
     [](config& c, std::size_t i, const knob_value& v) { backend_at(c, i).addr = v.addr; },
     [](const config& c, std::size_t i) { return addr_value(c.backends.at(i).addr); }},
    {"backend.credentials", knob_type::string, kArray, "\"\"", 0, 0, {}, kReloadable, {},
     "\"user:password\" qgate sends in its upstream handshake. Empty = user \"qgate\", no "
     "password. \"passthrough\" = each client's own (.z.u, -u file, .z.pw apply unchanged): "
     "its session's, or request mode's links per user (backend.user_*; a refused user gets "
     "'access). Not for pubsub.upstream.",
     set_backend_text<&backend_conf::credentials>, get_backend_text<&backend_conf::credentials>},
    {"backend.conns", knob_type::integer, kArray, "4", 1, 256, {}, kReloadable, {},
     "Request mode: upstream connections qgate keeps to this backend. Each carries one call at "
     "a time, or up to limits.pipeline_depth when pipelining; calls go to the fullest "
     "connection that has room, so extra ones are used under load (and by -30! backends, "
     "which cannot be pipelined).",
     set_b32<&backend_conf::conns>, get_b32<&backend_conf::conns>},

    {"backend.pipeline", knob_type::choice, kArray, "\"auto\"", 0, 0, kPipelineChoices,
     kReloadable, {},
     "Request mode: send a call on a pooled connection while earlier ones still wait for their "
     "answer (up to limits.pipeline_depth). Only for a backend that answers in order: plain q "
     "does; a .z.pg that defers with -30! may not. auto: at each connect qgate asks the "
     "backend whether .z.pg is defined (@[get;`.z.pg;`]~`) and pipelines only if it is not.",
     [](config& c, std::size_t i, const knob_value& v) {
         backend_at(c, i).pipeline = pipeline_mode(v.integer);
     },
     [](const config& c, std::size_t i) {
         return choice_value(kPipelineChoices, int64_t(c.backends.at(i).pipeline));
     }},
    {"backend.user_links_max", knob_type::integer, kArray, "2", 1, 256, {}, kReloadable, {},
     "Request mode, passthrough: links per user, opened as its calls need them; more wait.",
     set_b32<&backend_conf::user_links_max>, get_b32<&backend_conf::user_links_max>},
    {"backend.user_pools_max", knob_type::integer, kArray, "64", 1, 4096, {}, kReloadable, {},
     "Request mode, passthrough: users with links at once; one more user's call is refused.",
     set_b32<&backend_conf::user_pools_max>, get_b32<&backend_conf::user_pools_max>},
    {"backend.user_idle_ms", knob_type::integer, kArray, "60000", 10, 86'400'000, {}, kReloadable,
     {}, "Request mode, passthrough: a user's link unused this long is closed.",
     set_b32<&backend_conf::user_idle_ms>, get_b32<&backend_conf::user_idle_ms>},
    {"backend.tls", knob_type::boolean, kArray, "false", 0, 1, {}, kReloadable, {},
     "Connect to this backend with TLS 1.2/1.3 (q's -E 1 or -E 2). The certificate is always "
     "verified (tls_ca, tls_server_name); there is no way to skip that.",
     [](config& c, std::size_t i, const knob_value& v) { backend_at(c, i).tls = v.integer != 0; },
     [](const config& c, std::size_t i) { return bool_value(c.backends.at(i).tls); }},
    {"backend.tls_ca", knob_type::string, kArray, "\"\"", 0, 0, {}, kReloadable | kRelativePath,
     {}, "TLS: CA bundle (PEM) the backend's certificate is verified against. Empty = the "
     "system's trust store.",
     set_backend_text<&backend_conf::tls_ca>, get_backend_text<&backend_conf::tls_ca>},
    {"backend.tls_server_name", knob_type::string, kArray, "\"\"", 0, 0, {}, kReloadable, {},
     "TLS: the name the backend's certificate must carry, also sent as SNI. Empty = the host of "
     "address (an IP address is checked as an IP address).",
     set_backend_text<&backend_conf::tls_server_name>,
     get_backend_text<&backend_conf::tls_server_name>},
    {"backend.tls_cert", knob_type::string, kArray, "\"\"", 0, 0, {},
     kReloadable | kRelativePath, {},
     "TLS: client certificate chain (PEM) qgate presents, for a backend that requires one. "
     "With tls_key.",
     set_backend_text<&backend_conf::tls_cert>, get_backend_text<&backend_conf::tls_cert>},
    {"backend.tls_key", knob_type::string, kArray, "\"\"", 0, 0, {},
     kReloadable | kRelativePath, {}, "TLS: the private key of tls_cert (PEM, unencrypted).",
     set_backend_text<&backend_conf::tls_key>, get_backend_text<&backend_conf::tls_key>},

    // ---- [fanout]: fan-out and joins (request mode)
    {"fanout.reducer", knob_type::string, kTable, "\"\"", 0, 0, {}, kReloadable, {},
     "Backend group that applies custom q joins (a lambda or name in .gw.syncexecj / "
     "asyncexecjpt, or a route's join): qgate sends it (join; results). Empty = custom joins "
     "fail with 'qgate: no reducer configured.",
     [](config& c, std::size_t, const knob_value& v) { c.fanout.reducer = v.text; },
     [](const config& c, std::size_t) { return text_value(c.fanout.reducer); }},
    {"fanout.contexts_max", knob_type::integer, kTable, "256", 1, 65536, {}, 0, {},
     "Fan-outs in progress per shard; one more is answered 'qgate: busy (fanout_busy).",
     [](config& c, std::size_t, const knob_value& v) {
         c.fanout.contexts_max = uint32_t(v.integer);
     },
     [](const config& c, std::size_t) { return int_value(c.fanout.contexts_max); }},

    {"route.match", knob_type::list, kArray, "[\"*\"]", 0, 0, {}, kReloadable, {},
     "Function names this route takes: exact or glob (* any run, ? one byte). A plain q "
     "string is named by its leading identifier, else \"<string query>\".",
     [](config& c, std::size_t i, const knob_value& v) { route_at(c, i).match = v.list; },
     [](const config& c, std::size_t i) { return list_value(c.routes.at(i).match); }},
    {"route.users", knob_type::list, kArray, "[]", 0, 0, {}, kReloadable, {},
     "Users this route takes (exact or glob). Empty = every user.",
     [](config& c, std::size_t i, const knob_value& v) { route_at(c, i).users = v.list; },
     [](const config& c, std::size_t i) { return list_value(c.routes.at(i).users); }},
    {"route.type", knob_type::choice, kArray, "\"any\"", 0, 0, kRouteTypeChoices, kReloadable, {},
     "Message types this route takes.",
     [](config& c, std::size_t i, const knob_value& v) {
         route_at(c, i).type = route_type(v.integer);
     },
     [](const config& c, std::size_t i) {
         return choice_value(kRouteTypeChoices, int64_t(c.routes.at(i).type));
     }},
    {"route.group", knob_type::string, kArray, "\"rdb\"", 0, 0, {}, kRequired | kReloadable, {},
     "Backend group the matching calls go to (required unless `groups` is set).",
     [](config& c, std::size_t i, const knob_value& v) { route_at(c, i).group = v.text; },
     [](const config& c, std::size_t i) { return text_value(c.routes.at(i).group); }},
    {"route.groups", knob_type::list, kArray, "[]", 0, 0, {}, kReloadable, {},
     "Fan-out: the call goes to one backend of each group (by `policy`), in parallel, and the "
     "replies are joined in this order (set this or `group`).",
     [](config& c, std::size_t i, const knob_value& v) { route_at(c, i).groups = v.list; },
     [](const config& c, std::size_t i) { return list_value(c.routes.at(i).groups); }},
    {"route.join", knob_type::string, kArray, "\"\"", 0, 0, {}, kReloadable, {},
     "Fan-out join: raze (default), list, first, or a q function name applied by the "
     "fanout.reducer group as (join; results). With `group`, makes a fan-out of one.",
     [](config& c, std::size_t i, const knob_value& v) { route_at(c, i).join = v.text; },
     [](const config& c, std::size_t i) { return text_value(c.routes.at(i).join); }},
    {"route.policy", knob_type::choice, kArray, "\"least-busy\"", 0, 0, kRoutePolicyChoices,
     kReloadable,
     {}, "How a backend of the group is picked: fewest queued + in-flight calls (all shards), "
     "rotation, config order (failover), or xxHash3 of argument hash_arg on a ring.",
     [](config& c, std::size_t i, const knob_value& v) {
         route_at(c, i).policy = route_policy(v.integer);
     },
     [](const config& c, std::size_t i) {
         return choice_value(kRoutePolicyChoices, int64_t(c.routes.at(i).policy));
     }},
    {"route.hash_arg", knob_type::integer, kArray, "1", 1, 255, {}, kReloadable, {},
     "consistent-hash: which argument (1-based) is the key, e.g. the sym.",
     set_route_int<&route_conf::hash_arg>, get_route_int<&route_conf::hash_arg>},
    {"route.timeout_ms", knob_type::integer, kArray, "0", 0, kTimeoutMsMax, {}, kReloadable, {},
     "A sync call not answered within this time gets 'qgate: timeout after Nms (the late "
     "reply is discarded). 0 = no timeout.",
     set_route_int<&route_conf::timeout_ms>, get_route_int<&route_conf::timeout_ms>},
    {"route.queue_max", knob_type::integer, kArray, "0", 0, 1'000'000, {}, kReloadable, {},
     "Calls of this route that may wait for one backend; 0 = limits.queue_max.",
     set_route_int<&route_conf::queue_max>, get_route_int<&route_conf::queue_max>},
    {"route.priority", knob_type::integer, kArray, "0", -1000, 1000, {}, kReloadable, {},
     "Calls of a higher priority are served first from a backend's queue; equal priorities "
     "keep arrival order. With `users`, this gives some users precedence.",
     [](config& c, std::size_t i, const knob_value& v) {
         route_at(c, i).priority = int32_t(v.integer);
     },
     [](const config& c, std::size_t i) {
         return int_value(static_cast<uint64_t>(int64_t{c.routes.at(i).priority}));
     }},

    // ---- [[acl]] and [[user_group]]: entitlements (src/route/acl.cc) ----
    {"acl.users", knob_type::list, kArray, "[\"*\"]", 0, 0, {},
     kRequired | kReloadable, {},
     "Users this rule is for: names, globs (\"*\" = every user), or \"@name\" of a "
     "[[user_group]].",
     set_acl_list<&acl_conf::users>, get_acl_list<&acl_conf::users>},
    {"acl.listeners", knob_type::list, kArray, "[]", 0, 0, {}, kReloadable, {},
     "Listeners (0-based indices in file order, as strings: [\"0\"]) the users may connect "
     "to. Empty = every listener.",
     set_acl_list<&acl_conf::listeners>, get_acl_list<&acl_conf::listeners>},
    {"acl.groups", knob_type::list, kArray, "[]", 0, 0, {}, kReloadable, {},
     "Backend groups (exact or glob) the calls may reach; a fan-out needs every group it "
     "targets. Empty = every group.",
     set_acl_list<&acl_conf::groups>, get_acl_list<&acl_conf::groups>},
    {"acl.functions", knob_type::list, kArray, "[\"*\"]", 0, 0, {}, kReloadable, {},
     "Request mode: function names (exact or glob, as route.match) the users may call; a "
     ".gw.* call is judged by the query inside it.",
     set_acl_list<&acl_conf::functions>, get_acl_list<&acl_conf::functions>},
    {"acl.kinds", knob_type::list, kArray, R"(["sync", "async", "string"])", 0, 0, {},
     kReloadable, {},
     "Request mode: message kinds allowed: sync, async, string (a raw q string query can run "
     "anything: it also needs \"string\").",
     set_acl_list<&acl_conf::kinds>, get_acl_list<&acl_conf::kinds>},
    {"user_group.name", knob_type::string, kArray, "\"traders\"", 0, 0, {},
     kRequired | kReloadable, {}, "The group's name; [[acl]] users refer to it as \"@name\".",
     [](config& c, std::size_t i, const knob_value& v) { user_group_at(c, i).name = v.text; },
     [](const config& c, std::size_t i) { return text_value(c.user_groups.at(i).name); }},
    {"user_group.users", knob_type::list, kArray, "[]", 0, 0, {}, kReloadable, {},
     "Its members: user names or globs.",
     [](config& c, std::size_t i, const knob_value& v) { user_group_at(c, i).users = v.list; },
     [](const config& c, std::size_t i) { return list_value(c.user_groups.at(i).users); }},

    // ---- [pubsub] (DESIGN §7, issue 7) ----
    {"pubsub.upstream", knob_type::string, kTable, "\"\"", 0, 0, {}, 0, {},
     "Name of the [[backend]] that is the upstream tickerplant: qgate calls .u.sub on it after "
     "every connect (reconnecting with backoff and jitter) and republishes its updates. Empty = "
     "no upstream; publishers call .u.upd on a pubsub listener.",
     [](config& c, std::size_t, const knob_value& v) { c.pubsub.upstream = v.text; },
     [](const config& c, std::size_t) { return text_value(c.pubsub.upstream); }},
    {"pubsub.tables", knob_type::list, kTable, "[]", 0, 0, {}, 0, {},
     "Tables subscribed on the upstream tickerplant. Empty = every table (.u.sub[`;`]).",
     [](config& c, std::size_t, const knob_value& v) { c.pubsub.tables = v.list; },
     [](const config& c, std::size_t) { return list_value(c.pubsub.tables); }},
    {"pubsub.backlog_updates_max", knob_type::integer, kTable, "4096", 1, 1'000'000, {}, 0, {},
     "Updates queued for one subscriber (beyond what its socket has taken) before the "
     "slow_subscriber policy applies.",
     [](config& c, std::size_t, const knob_value& v) {
         c.pubsub.backlog_updates_max = uint32_t(v.integer);
     },
     [](const config& c, std::size_t) { return int_value(c.pubsub.backlog_updates_max); }},
    {"pubsub.backlog_bytes_max", knob_type::integer, kTable, "67108864", 1024, kBytesMax, {}, 0,
     {}, "Bytes queued for one subscriber before the slow_subscriber policy applies (one "
     "update is always accepted, however big).",
     [](config& c, std::size_t, const knob_value& v) {
         c.pubsub.backlog_bytes_max = uint64_t(v.integer);
     },
     [](const config& c, std::size_t) { return int_value(c.pubsub.backlog_bytes_max); }},
    {"pubsub.slow_subscriber", knob_type::choice, kTable, "\"disconnect\"", 0, 0, kSlowChoices,
     0, {}, "A subscriber whose backlog is full: disconnect (its backlog is dropped and the "
     "connection closed) or conflate (keep the newest update per table; rows are lost, for "
     "dashboards). Other subscribers never wait either way.",
     [](config& c, std::size_t, const knob_value& v) {
         c.pubsub.slow_subscriber = uint8_t(v.integer);
     },
     [](const config& c, std::size_t) {
         return choice_value(kSlowChoices, int64_t(c.pubsub.slow_subscriber));
     }},
    {"pubsub.pubinterval_ms", knob_type::integer, kTable, "0", 0, 60000, {}, 0, {},
     "Chained-tickerplant batching (TorQ pubinterval): each table's updates are held for this "
     "long and published as one update with all their rows, in order. 0 = every update at once.",
     [](config& c, std::size_t, const knob_value& v) {
         c.pubsub.pubinterval_ms = uint32_t(v.integer);
     },
     [](const config& c, std::size_t) { return int_value(c.pubsub.pubinterval_ms); }},

    // ---- [access_log]: request-mode calls, one line each (src/proxy/access_log.cc)
    {"access_log.path", knob_type::string, kTable, "\"\"", 0, 0, {}, kPath, {},
     "Access log file: one line per request-mode sync call (time, user, client, route, "
     "backend, us, bytes in/out, status), written by a logger thread. Reopened by "
     "access_log::reopen (SIGHUP, for logrotate). Empty = no access log.",
     [](config& c, std::size_t, const knob_value& v) { c.access_log.path = v.text; },
     [](const config& c, std::size_t) { return text_value(c.access_log.path); }},
    {"access_log.slow_ms", knob_type::integer, kTable, "0", 0, kTimeoutMsMax, {}, 0, {},
     "Log only calls that took at least this many ms (from the call read to its answer "
     "queued). 0 = every call.",
     [](config& c, std::size_t, const knob_value& v) {
         c.access_log.slow_ms = uint32_t(v.integer);
     },
     [](const config& c, std::size_t) { return int_value(c.access_log.slow_ms); }},
    {"access_log.ring_entries", knob_type::integer, kTable, "4096", 64, 1 << 20, {}, kPowerOfTwo,
     {}, "Records each shard may have waiting for the logger thread (a fixed ring, about 200 "
     "bytes each); a record that finds it full is dropped and counted (access_log_dropped).",
     [](config& c, std::size_t, const knob_value& v) {
         c.access_log.ring_entries = uint32_t(v.integer);
     },
     [](const config& c, std::size_t) { return int_value(c.access_log.ring_entries); }},

    // ---- backends that find themselves (issue 17; src/ctl/register.cc, discovery.cc, csv)
    {"register.listen", knob_type::address, kTable, "\"127.0.0.1:0\"", 0, 0, {}, kIfSection, {},
     "KX-style registration listener: a service that calls registerResource[`name;`:host:port] "
     "here (async or sync, authenticated like clients) is a backend of group `name` until this "
     "connection closes, then it drains. Omit the section to disable it.",
     [](config& c, std::size_t, const knob_value& v) {
         c.registration.listen = v.addr;
         c.registration.enabled = true;
     },
     [](const config& c, std::size_t) { return addr_value(c.registration.listen); }},
    {"register.groups", knob_type::list, kTable, "[]", 0, 0, {}, 0, {},
     "Names a service may register under (each is a group routes may target while it is "
     "still empty). Empty = any name (a new group appears with its first service).",
     [](config& c, std::size_t, const knob_value& v) { c.registration.groups = v.list; },
     [](const config& c, std::size_t) { return list_value(c.registration.groups); }},
    {"register.credentials", knob_type::string, kTable, "\"\"", 0, 0, {}, 0, {},
     "\"user:password\" qgate logs in to registered services with (empty: user qgate).",
     [](config& c, std::size_t, const knob_value& v) { c.registration.credentials = v.text; },
     [](const config& c, std::size_t) { return text_value(c.registration.credentials); }},
    {"register.conns", knob_type::integer, kTable, "4", 1, 256, {}, 0, {},
     "Request mode: pooled connections to each registered service (as backend.conns).",
     [](config& c, std::size_t, const knob_value& v) {
         c.registration.conns = uint32_t(v.integer);
     },
     [](const config& c, std::size_t) { return int_value(c.registration.conns); }},
    {"register.backends_max", knob_type::integer, kTable, "256", 1, 4096, {}, 0, {},
     "Services registered at once; one more is answered 'qgate: registrations full.",
     [](config& c, std::size_t, const knob_value& v) {
         c.registration.backends_max = uint32_t(v.integer);
     },
     [](const config& c, std::size_t) { return int_value(c.registration.backends_max); }},
    {"discovery.addresses", knob_type::list, kTable, "[]", 0, 0, {}, 0, {},
     "TorQ discovery processes (\"host:port\"): qgate calls getservices[proctypes;1b] on "
     "each, applies the .servers.procupdate messages pushed to it, and asks again every "
     "refresh_ms. Empty = no discovery.",
     [](config& c, std::size_t, const knob_value& v) { c.discovery.addresses = v.list; },
     [](const config& c, std::size_t) { return list_value(c.discovery.addresses); }},
    {"discovery.proctypes", knob_type::list, kTable, "[]", 0, 0, {}, 0, {},
     "Process types asked for; each is the group its processes join (routes may target it "
     "while it is still empty).",
     [](config& c, std::size_t, const knob_value& v) { c.discovery.proctypes = v.list; },
     [](const config& c, std::size_t) { return list_value(c.discovery.proctypes); }},
    {"discovery.credentials", knob_type::string, kTable, "\"\"", 0, 0, {}, 0, {},
     "\"user:password\" for the discovery processes and the backends they name.",
     [](config& c, std::size_t, const knob_value& v) { c.discovery.credentials = v.text; },
     [](const config& c, std::size_t) { return text_value(c.discovery.credentials); }},
    {"discovery.conns", knob_type::integer, kTable, "4", 1, 256, {}, 0, {},
     "Request mode: pooled connections to each discovered backend (as backend.conns).",
     [](config& c, std::size_t, const knob_value& v) { c.discovery.conns = uint32_t(v.integer); },
     [](const config& c, std::size_t) { return int_value(c.discovery.conns); }},
    {"discovery.refresh_ms", knob_type::integer, kTable, "5000", 50, kTimeoutMsMax, {}, 0, {},
     "Ask getservices again this often: TorQ's discovery pushes new processes but never "
     "removals, so a process gone from its answer drains on the next refresh.",
     [](config& c, std::size_t, const knob_value& v) {
         c.discovery.refresh_ms = uint32_t(v.integer);
     },
     [](const config& c, std::size_t) { return int_value(c.discovery.refresh_ms); }},
    {"discovery.tls_ca", knob_type::string, kTable, "\"\"", 0, 0, {}, kRelativePath, {},
     "A `:tcps://host:port` hpup is a tls = true backend verified against this CA bundle "
     "(PEM); empty = the system's trust store (as backend.tls_ca).",
     [](config& c, std::size_t, const knob_value& v) { c.discovery.tls_ca = v.text; },
     [](const config& c, std::size_t) { return text_value(c.discovery.tls_ca); }},
    {"discovery.tls_cert", knob_type::string, kTable, "\"\"", 0, 0, {}, kRelativePath, {},
     "Client certificate (PEM) for `:tcps://` backends, with tls_key (as backend.tls_cert).",
     [](config& c, std::size_t, const knob_value& v) { c.discovery.tls_cert = v.text; },
     [](const config& c, std::size_t) { return text_value(c.discovery.tls_cert); }},
    {"discovery.tls_key", knob_type::string, kTable, "\"\"", 0, 0, {}, kRelativePath, {},
     "The private key of discovery.tls_cert (PEM, unencrypted).",
     [](config& c, std::size_t, const knob_value& v) { c.discovery.tls_key = v.text; },
     [](const config& c, std::size_t) { return text_value(c.discovery.tls_key); }},
    {"process_csv.path", knob_type::string, kTable, "\"\"", 0, 0, {},
     kReloadable | kRelativePath, {},
     "A TorQ process.csv (host,port,proctype,procname,...) read as a backend file at start "
     "and on every reload: each row of a listed proctype is a backend named procname in "
     "group proctype. {VAR} is replaced from the environment, and a port may be a sum "
     "({KDBBASEPORT}+1). Empty = none.",
     [](config& c, std::size_t, const knob_value& v) { c.process_csv.path = v.text; },
     [](const config& c, std::size_t) { return text_value(c.process_csv.path); }},
    {"process_csv.proctypes", knob_type::list, kTable, "[]", 0, 0, {}, kReloadable, {},
     "Process types taken from the file (each is a group). Empty = every row but discovery.",
     [](config& c, std::size_t, const knob_value& v) { c.process_csv.proctypes = v.list; },
     [](const config& c, std::size_t) { return list_value(c.process_csv.proctypes); }},
    {"process_csv.credentials", knob_type::string, kTable, "\"\"", 0, 0, {}, kReloadable, {},
     "\"user:password\" qgate logs in to the file's processes with (empty: user qgate).",
     [](config& c, std::size_t, const knob_value& v) { c.process_csv.credentials = v.text; },
     [](const config& c, std::size_t) { return text_value(c.process_csv.credentials); }},
    {"process_csv.conns", knob_type::integer, kTable, "4", 1, 256, {}, kReloadable, {},
     "Request mode: pooled connections to each of the file's processes (as backend.conns).",
     [](config& c, std::size_t, const knob_value& v) {
         c.process_csv.conns = uint32_t(v.integer);
     },
     [](const config& c, std::size_t) { return int_value(c.process_csv.conns); }},
    {"user_limits.users", knob_type::list, kArray, "[\"*\"]", 0, 0, {}, kReloadable, {},
     "Users these limits apply to, each separately (exact or glob). The first [[user_limits]] "
     "matching a user applies.",
     [](config& c, std::size_t i, const knob_value& v) { user_limits_at(c, i).users = v.list; },
     [](const config& c, std::size_t i) { return list_value(c.user_limits.at(i).users); }},
    {"user_limits.conns_max", knob_type::integer, kArray, "0", 0, 1'000'000, {}, kReloadable, {},
     "Connections one such user may have open at once, over every listener and shard; 0 = no "
     "limit. One more is closed in the handshake without a byte (the client's hopen fails with "
     "'access, as for a refused login) and counted in user_conns_refused.",
     [](config& c, std::size_t i, const knob_value& v) {
         user_limits_at(c, i).conns_max = uint32_t(v.integer);
     },
     [](const config& c, std::size_t i) { return int_value(c.user_limits.at(i).conns_max); }},
    {"user_limits.message_bytes_max", knob_type::integer, kArray, "0", 0, kBytesMax, {},
     kReloadable, {},
     "Longest message one such user may send (header included); 0 = limits.message_bytes_max. "
     "Request mode reads a longer call past and answers 'qgate: message over this user's "
     "limit; session mode closes the connection, as for limits.message_bytes_max. Counted in "
     "user_message_refused.",
     [](config& c, std::size_t i, const knob_value& v) {
         user_limits_at(c, i).message_bytes_max = uint64_t(v.integer);
     },
     [](const config& c, std::size_t i) {
         return int_value(c.user_limits.at(i).message_bytes_max);
     }},
    {"user_limits.calls_max", knob_type::integer, kArray, "0", 0, 1'000'000, {}, kReloadable, {},
     "Request mode: sync calls one such user may have in flight at once, over every listener "
     "and shard (from routing until the answer is handed back; a .gw.* fan-out counts once; "
     "async calls are not counted); 0 = no limit. One more is answered at once with 'qgate: "
     "user U has N calls in flight (user_limits.calls_max) and counted in user_calls_refused; "
     "the connection stays open.",
     [](config& c, std::size_t i, const knob_value& v) {
         user_limits_at(c, i).calls_max = uint32_t(v.integer);
     },
     [](const config& c, std::size_t i) { return int_value(c.user_limits.at(i).calls_max); }},
};

const section_info kSections[] = {
    {"server", kTable, "Process-wide settings."},
    {"limits", kTable, "Bounds on every resource; each has a counter when it is hit."},
    {"admin", kTable, "Admin endpoint. Omit the whole section to disable it."},
    {"listener", kArray, "One [[listener]] per client-facing port (at least one)."},
    {"backend", kArray, "One [[backend]] per upstream q process."},
    {"fanout", kTable, "Request mode: fan-out calls (.gw.* and routes with `groups`) and joins."},
    {"route", kArray, "Request mode: ordered routing rules, first match wins. A call no rule "
                      "takes gets 'qgate: no route for F. With no [[route]] at all, a request "
                      "listener sends every call to its own group (least-busy)."},
    {"acl", kArray, "Entitlements: with none, every user may do anything. Once one exists, a "
                    "call (or a session-mode login) is allowed only when some rule for its user "
                    "allows all of it; anything else gets 'access and is counted."},
    {"user_group", kArray, "Named sets of users for [[acl]] rules (\"@name\")."},
    {"user_limits", kArray, "Limits per user (each user counted on its own), matched by user "
                            "pattern; first match wins. A user no entry matches is not limited."},
    {"pubsub", kTable, "Tickerplant multicast for listeners in pubsub mode (DESIGN §7)."},
    {"access_log", kTable, "Request mode: an access log, one line per call (off unless path "
                           "is set)."},
    {"register", kTable, "KX-style self-registering services (registerResource). Omit the "
                         "section to disable it."},
    {"discovery", kTable, "TorQ discovery: backends learnt from discovery processes."},
    {"process_csv", kTable, "A TorQ process.csv as a backend file."},
    {"fleet", kTable, "Several qgates sharing backends, drains and health through etcd."},
};

bool parse_integer(std::string_view text, int64_t& out) {
    const char* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, out);
    return ec == std::errc{} && ptr == end && !text.empty();
}

std::string_view unquote(std::string_view text) {
    if (text.size() >= 2 && text.front() == '"' && text.back() == '"') {
        return text.substr(1, text.size() - 2);
    }
    return text;
}

std::string_view trim(std::string_view t) {
    while (!t.empty() && t.front() == ' ') t.remove_prefix(1);
    while (!t.empty() && t.back() == ' ') t.remove_suffix(1);
    return t;
}

// `["a", "b"]`, `[]` or a bare item: enough for the table's literals and the CLI (names hold
// no commas or quotes).
bool parse_list(std::string_view text, std::vector<std::string>& out) {
    out.clear();
    text = trim(text);
    if (text.size() >= 2 && text.front() == '[' && text.back() == ']') {
        text = trim(text.substr(1, text.size() - 2));
    }
    while (!text.empty()) {
        const std::size_t comma = text.find(',');
        out.emplace_back(unquote(trim(text.substr(0, comma))));
        if (comma == std::string_view::npos) break;
        text = text.substr(comma + 1);
    }
    return true;
}

bool check_integer(const knob& k, int64_t i, std::string_view what, std::string& error) {
    if (i < k.min) {
        error = std::string(what) + " = " + std::to_string(i) + " is below the minimum " +
                std::to_string(k.min);
        return false;
    }
    if (i > k.max) {
        error = std::string(what) + " = " + std::to_string(i) + " is above the maximum " +
                std::to_string(k.max);
        return false;
    }
    if (k.has(kPowerOfTwo) && (i <= 0 || (i & (i - 1)) != 0)) {
        error = std::string(what) + " = " + std::to_string(i) + " is not a power of two";
        return false;
    }
    return true;
}

}  // namespace

// kKnobs then the fleet's (knobs_fleet.cc): one table, built once.
std::span<const knob> knob_table() {
    static const std::vector<knob> kAll = [] {
        std::vector<knob> v(std::begin(kKnobs), std::end(kKnobs));
        const std::span<const knob> f = fleet_knobs();
        v.insert(v.end(), f.begin(), f.end());
        return v;
    }();
    return kAll;
}
std::span<const section_info> section_table() { return kSections; }

const knob* find_knob(std::string_view name) {
    for (const knob& k : knob_table()) {
        if (k.name == name) return &k;
    }
    return nullptr;
}

const section_info* find_section(std::string_view name) {
    for (const section_info& s : kSections) {
        if (s.name == name) return &s;
    }
    return nullptr;
}

bool check_knob(const knob& k, knob_value& v, std::string_view what, std::string& error) {
    switch (k.type) {
    case knob_type::integer:
        return check_integer(k, v.integer, what, error);
    case knob_type::string:
        return true;
    case knob_type::choice: {
        v.integer = choice_or_alias_index(k, v.text);
        if (v.integer >= 0) return true;
        error = std::string(what) + " = \"" + v.text + "\" is not one of " +
                describe_knob_domain(k);
        return false;
    }
    case knob_type::boolean:
        return true;
    case knob_type::list:
        for (const std::string& item : v.list) {
            if (item.empty()) {
                error = std::string(what) + ": empty pattern";
                return false;
            }
        }
        return true;
    case knob_type::address: {
        std::string why;
        if (parse_endpoint(v.text, v.addr, why)) return true;
        error = std::string(what) + " = \"" + v.text + "\": " + why;
        return false;
    }
    }
    return false;
}

bool parse_knob_text(const knob& k, std::string_view text, std::string_view what,
                     knob_value& v, std::string& error) {
    if (k.type == knob_type::integer) {
        if (!parse_integer(text, v.integer)) {
            error = std::string(what) + ": \"" + std::string(text) + "\" is not an integer";
            return false;
        }
    } else if (k.type == knob_type::boolean) {
        if (text != "true" && text != "false") {
            error = std::string(what) + ": \"" + std::string(text) + "\" is not true or false";
            return false;
        }
        v.integer = text == "true" ? 1 : 0;
    } else if (k.type == knob_type::list) {
        if (!parse_list(text, v.list)) {
            error = std::string(what) + ": \"" + std::string(text) + "\" is not a list of strings";
            return false;
        }
    } else {
        v.text = std::string(unquote(text));
    }
    return check_knob(k, v, what, error);
}

}  // namespace qgate::ctl
