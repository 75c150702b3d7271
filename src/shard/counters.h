// The stats table: every stat qgate reports, declared once, with its kind, unit and help.
// Per-shard counters are fields of `counters`, written only by the owning shard with relaxed
// load+store (no locked instruction on the hot path) and read by the admin thread with relaxed
// loads: a reader may see a slightly stale value, never a torn one. Gateway-wide stats are
// computed by the admin thread. kStatTable (both, in .qgate.stats[] order) is what the admin
// port, `qgate --list-stats` (STATS.md) and the Prometheus endpoint read; to add a stat,
// add its X line here, count it, and regenerate STATS.md (the unit tests check the rest).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "qgate/stats.h"
#include "shard/latency.h"

namespace qgate::shard {

// X(name, kind, unit, help): per-shard stats, in order; the admin thread sums each over the
// shards. A counter only grows (bump); a gauge is a level (bump and drop, or set). enters,
// cqes, cq_overflow and sq_full are `set` from the io backend's own running totals, so they
// still only grow: counters. bufs_held_peak is a high-water mark: a gauge.
#define QGATE_SHARD_COUNTERS(X)                                                                    \
    X(accepts, counter, "connections", "client connections accepted, on every listener")           \
    X(accept_errors, counter, "errors",                                                            \
      "accept completions that failed (cancellation at shutdown excluded)")                        \
    X(conns_open, gauge, "connections",                                                            \
      "client connections open now: accepted and not yet closed")                                  \
    X(conns_rejected, counter, "connections",                                                      \
      "connections closed at accept: the shard had conns_per_shard_max sessions, none of them "    \
      "in its handshake (else the oldest such is evicted: handshakes_evicted)")                    \
    X(handshakes_evicted, counter, "connections",                                                  \
      "clients closed in their handshake to make room: the shard had conns_per_shard_max "         \
      "sessions when a newcomer arrived (the oldest pending handshake goes)")                      \
    X(handshake_fail, counter, "connections",                                                      \
      "clients closed in the handshake: unparsable, too long, too slow, or too much sent early")   \
    X(tls_handshakes, counter, "connections",                                                      \
      "TLS handshakes completed on TLS listeners (before the q handshake)")                        \
    X(tls_handshake_failures, counter, "connections",                                              \
      "TLS handshakes refused (bad or missing certificate, protocol error); one warn log each")    \
    X(tls_plain_refused, counter, "connections",                                                   \
      "clients closed on a TLS listener: their first byte was not a TLS record (plain q-IPC)")     \
    X(tls_on_plain_refused, counter, "connections",                                                \
      "clients closed on a plain listener: their first byte was a TLS record (a ClientHello)")     \
    X(tls_rx_no_buffer, counter, "connections",                                                    \
      "TLS clients closed: their decrypted bytes needed a receive buffer and none was free")       \
    X(auth_fail, counter, "connections",                                                           \
      "clients refused for bad credentials (closed without a byte, as q does)")                    \
    X(acl_denied_logins, counter, "connections",                                                   \
      "logins refused by [[acl]]: listener or session group not allowed (closed as a bad login)") \
    X(acl_denied_sync, counter, "calls",                                                           \
      "request mode: sync calls refused by [[acl]] (answered 'access)")                            \
    X(acl_denied_async, counter, "calls",                                                          \
      "request mode: async calls refused by [[acl]] (dropped, also counted in async_dropped)")     \
    X(passthrough_refused, counter, "connections",                                                 \
      "session clients closed because a passthrough backend refused their own credentials")       \
    X(user_pool_refused, counter, "calls",                                                         \
      "request mode: calls answered 'access: a passthrough backend closed their user's link in "   \
      "its handshake (refused the credentials; the backend is not marked down)")                   \
    X(user_pools_full, counter, "calls",                                                           \
      "request mode: calls refused because their passthrough backend had "                         \
      "backend.user_pools_max users with links")                                                   \
    X(user_links_opened, counter, "connections",                                                   \
      "request mode: links opened to passthrough backends with a user's own credentials")          \
    X(user_links_idle_closed, counter, "connections",                                              \
      "request mode: per-user links closed after backend.user_idle_ms without a call")             \
    X(user_links_open, gauge, "connections",                                                       \
      "request mode: per-user links to passthrough backends open now (connecting or ready)")       \
    X(user_conns_refused, counter, "connections",                                                  \
      "clients closed at login: their user had [[user_limits]] conns_max connections open")      \
    X(user_table_full, counter, "connections",                                                     \
      "clients closed at login: no per-user count slot left for their user (user_conns.h)")       \
    X(user_message_refused, counter, "messages",                                                   \
      "messages over their user's [[user_limits]] message_bytes_max (request mode: answered with "\
      "an error; session mode: connection closed)")                                                \
    X(user_calls_refused, counter, "calls",                                                        \
      "request mode: sync calls answered at once: their user had [[user_limits]] calls_max in "    \
      "flight")                                                                                    \
    X(malformed_frames, counter, "frames",                                                         \
      "frames with a bad header (connection closed) or a request-mode call with a bad body")       \
    X(bytes_in, counter, "bytes",                                                                  \
      "bytes received on every socket: clients, backends, publishers, the upstream feed")          \
    X(bytes_out, counter, "bytes", "bytes sent on every socket (completed sends)")                 \
    X(msgs_fwd, counter, "messages",                                                               \
      "session mode: q messages forwarded between clients and their backends, both directions")    \
    X(sync_requests, counter, "calls",                                                             \
      "sync calls from clients: forwarded (session mode) or dispatched (request mode)")            \
    X(enters, counter, "syscalls",                                                                 \
      "io_uring_enter / epoll_wait calls of the shards' io backends")                              \
    X(cqes, counter, "completions",                                                                \
      "completions the io backends delivered (io_uring CQEs; epoll: events made completions)")     \
    X(cq_overflow, counter, "events",                                                              \
      "times the io_uring completion queue overflowed or submit answered EBUSY")                   \
    X(sq_full, counter, "events",                                                                  \
      "times io_uring had no free submission entry and submitted early")                           \
    X(rcv_enobufs, counter, "events",                                                              \
      "receives ended by ENOBUFS: the provided-buffer ring was empty (re-armed on return)")        \
    X(snd_short, counter, "sends",                                                                 \
      "sends that completed short (the rest is sent from the next byte)")                          \
    X(sends, counter, "sends", "gathered sendmsg operations submitted")                            \
    X(multishot_rearm, counter, "operations",                                                      \
      "multishot accepts and receives armed again after the kernel ended them")                    \
    X(xshard_msgs, counter, "messages", "messages put in another shard's mailbox")                 \
    X(xshard_full, counter, "messages",                                                            \
      "mailbox sends refused because the peer's mailbox was full (kept and retried)")              \
    X(xshard_wakes, counter, "wakes",                                                              \
      "wake-ups sent to a sleeping shard after messages were put in its mailbox")                  \
    X(xshard_requests, counter, "calls",                                                           \
      "request slots handed to another shard: a call to its backend's home, or its answer")        \
    X(backend_connect_fail, counter, "connects",                                                   \
      "upstream connects failed: refused, socket error, closed or refused in the handshake")       \
    X(backend_connect_timeout, counter, "connects",                                                \
      "upstream connects or handshakes not done within connect_timeout_ms")                        \
    X(backend_tls_handshakes, counter, "connects",                                                 \
      "TLS handshakes completed with tls = true backends (the q handshake follows, inside TLS)")   \
    X(backend_tls_failures, counter, "connects",                                                   \
      "connects to tls = true backends refused in TLS (certificate: CA, name, expiry; no TLS "     \
      "from the backend; an alert); also in backend_connect_fail; warn log: 1/s per backend")      \
    X(backend_disconnect, counter, "connections",                                                  \
      "established upstream connections lost (session upstream, pool link, pub/sub feed)")         \
    X(no_backend_sessions, counter, "connections",                                                 \
      "session-mode clients whose group had no reachable backend (their sync calls get errors)")   \
    X(no_backend_errors, counter, "calls",                                                         \
      "session mode: sync calls answered 'qgate: no backend available for group G'")               \
    X(disconnect_errors, counter, "calls",                                                         \
      "sync calls answered 'qgate: backend B disconnected' (session and request mode)")            \
    X(session_reply_timeouts, counter, "connections",                                              \
      "session mode: clients closed because their backend owed a reply and sent nothing for "      \
      "session_reply_timeout_ms (waiting sync calls answered 'qgate: timeout after Nms')")         \
    X(slow_reader_pauses, counter, "pauses",                                                       \
      "times a peer was not read: the socket it feeds had over out_bytes_high queued")             \
    X(buf_share_pauses, counter, "pauses",                                                         \
      "times a peer was not read: the socket it feeds held over its share of receive buffers")     \
    X(bufs_held, gauge, "buffers",                                                                 \
      "receive buffers user space holds now (queued for sending, lent to calls, being parsed)")    \
    X(bufs_held_peak, gauge, "buffers",                                                            \
      "highest bufs_held seen at the end of a loop turn (each shard's own peak, summed)")          \
    X(send_items_exhausted, counter, "connections",                                                \
      "connections closed because the shard's send-queue items ran out")                           \
    X(drain_closed, counter, "connections",                                                        \
      "idle client connections closed by the shutdown drain")                                      \
    X(bugs, counter, "events",                                                                     \
      "broken invariants caught by QGATE_CHECK (qgate bugs): connection closed or item dropped")   \
    X(async_requests, counter, "calls",                                                            \
      "request mode: async calls from clients framed and dispatched")                              \
    X(requests_routed, counter, "calls",                                                           \
      "request mode: calls routed to a backend (each fan-out child counts once)")                  \
    X(requests_rerouted, counter, "calls",                                                         \
      "request-mode calls routed again because their backend was ejected")                         \
    X(request_no_route, counter, "calls",                                                          \
      "calls that matched no route ('qgate: no route for F')")                                     \
    X(request_no_backend, counter, "calls",                                                        \
      "request mode: calls whose group had no live backend ('qgate: no backend ...')")             \
    X(request_busy, counter, "calls",                                                              \
      "calls refused because the backend's queue was at queue_max ('qgate: busy')")                \
    X(request_timeouts, counter, "calls",                                                          \
      "calls and fan-outs that reached their route's timeout_ms ('qgate: timeout after Nms')")     \
    X(request_late_replies, counter, "replies",                                                    \
      "backend replies discarded because their call had timed out or its client had gone")         \
    X(access_log_records, counter, "records",                                                      \
      "request-mode calls handed to the access log's logger thread ([access_log])")                \
    X(access_log_dropped, counter, "records",                                                      \
      "access log records dropped: the shard's ring was full (the logger thread fell behind)")     \
    X(request_slots_exhausted, counter, "events",                                                  \
      "times a call found every request slot of its shard in use (requests_per_shard_max)")        \
    X(request_too_large, counter, "calls",                                                         \
      "calls longer than request_bytes_max, read past and answered 'qgate: request too large'")    \
    X(request_malformed, counter, "calls",                                                         \
      "calls not exactly one q object, or not decompressing: 'badmsg (sync), dropped (async)")     \
    X(request_bytes_lent, counter, "bytes",                                                        \
      "call bytes handed to the backend's home shard as a view of their receive buffer")           \
    X(request_bytes_copied, counter, "bytes",                                                      \
      "call bytes copied into their slot (split over buffers, with the handshake, pressure)")      \
    X(request_lend_pressure, counter, "calls",                                                     \
      "calls copied instead of lent because a quarter of the shard's receive buffers were lent")   \
    X(client_quota_pauses, counter, "pauses",                                                      \
      "times a request client was not read: requests_per_client_max calls outstanding")            \
    X(requests_abandoned, counter, "calls",                                                        \
      "calls still at their backend's home shard when their client disconnected")                  \
    X(requests_skipped, counter, "calls",                                                          \
      "queued calls dropped unsent because they had timed out or their client had gone")           \
    X(async_dropped, counter, "calls",                                                             \
      "async calls dropped (no backend, no route, busy, failed fan-out): q tells them nothing")    \
    X(backend_unsolicited, counter, "messages",                                                    \
      "messages on a pooled connection that answer no call (async dropped, sync refused)")         \
    X(backend_reconnects, counter, "connects",                                                     \
      "request mode: pool connection reconnects scheduled after a failure (with backoff)")         \
    X(backends_ejected, counter, "events",                                                         \
      "request mode: backends ejected after eject_after_failures failed connects")                 \
    X(backends_retired, counter, "events",                                                         \
      "request mode: backends removed by a reload whose calls finished and pool closed")           \
    X(backends_recovered, counter, "events",                                                       \
      "request mode: ejected backends back after a successful handshake")                          \
    X(backend_health_queries, counter, "queries",                                                  \
      "health queries (sync \"\") sent on idle pool connections every health_interval_ms")         \
    X(backend_health_fail, counter, "queries",                                                     \
      "health queries not answered within connect_timeout_ms (the connection is failed)")          \
    X(reply_bytes_received_direct, counter, "bytes",                                               \
      "request mode: reply bytes read straight into the buffer handed to the client's shard")      \
    X(reply_bytes_copied, counter, "bytes",                                                        \
      "request mode: reply bytes copied (buffer growth, messages read behind a reply)")            \
    X(replies_decompressed, counter, "replies",                                                    \
      "compressed backend replies decompressed for a client of capability 0 or on this host")     \
    X(replies_malformed, counter, "replies",                                                       \
      "compressed backend replies that did not decompress, answered with a qgate error")          \
    X(inflate_refused, counter, "messages",                                                        \
      "compressed messages refused unread: they declare more than inflate_bytes_max or ratio")    \
    X(inflate_sliced, counter, "calls",                                                            \
      "request mode: compressed calls past 1 MiB inflated a slice per loop turn")                 \
    X(inflate_slices, counter, "slices",                                                           \
      "request mode: slices of at most 1 MiB inflated for those calls, one per shard loop turn")   \
    X(big_buf_hits, counter, "buffers",                                                            \
      "request mode: buffers for calls or replies past 1 MiB reused from the shard's cache")       \
    X(big_buf_misses, counter, "buffers",                                                          \
      "request mode: buffers for calls or replies past 1 MiB allocated (none cached fitted)")      \
    X(big_buf_evictions, counter, "buffers",                                                       \
      "request mode: buffers past 1 MiB freed, not kept: big_bufs_max or big_bufs_bytes_max")      \
    X(big_buf_bytes, gauge, "bytes",                                                               \
      "request mode: bytes of buffers past 1 MiB held for reuse (cached, or parked on free slots)")\
    X(request_bytes_held, gauge, "bytes",                                                          \
      "request mode: bytes of copied calls and replies held in slots (only the sum is the level)") \
    X(request_held_refused, counter, "calls",                                                      \
      "calls answered 'qgate: busy': their call or reply would pass request_bytes_held_max")       \
    X(client_bytes_refused, counter, "replies",                                                    \
      "replies dropped for 'qgate: busy': their client would hold more than client_bytes_max")     \
    X(client_bytes_pauses, counter, "pauses",                                                      \
      "times a request client was not read: it held client_bytes_max of calls and replies")        \
    X(pubsub_subscribers, gauge, "connections",                                                    \
      "pub/sub clients with at least one subscription now")                                        \
    X(pubsub_sub_calls, counter, "calls", ".u.sub calls received, valid or not")                   \
    X(pubsub_updates_in, counter, "messages",                                                      \
      "updates parsed at the hub, from publishers and the upstream tickerplant")                   \
    X(pubsub_update_bytes_encoded, counter, "bytes", "bytes of updates encoded for a sym filter")  \
    X(pubsub_encodings, counter, "messages",                                                       \
      "updates encoded for a sym filter that selects some but not all rows")                       \
    X(pubsub_as_received, counter, "messages",                                                     \
      "updates published in the bytes they arrived in (the filter selects every row)")             \
    X(pubsub_deliveries, counter, "messages",                                                      \
      "messages queued to subscribers: updates, .u.sub replies and .u.end")                        \
    X(pubsub_payload_bytes_copied, counter, "bytes",                                               \
      "update bytes copied for a subscriber: stays 0, sends reference the shared buffers")         \
    X(pubsub_ingest_bytes_direct, counter, "bytes",                                                \
      "update body bytes read from a feed straight into their shared buffer")                      \
    X(pubsub_ingest_bytes_copied, counter, "bytes",                                                \
      "feed bytes copied into a shared buffer (those read with the handshake)")                    \
    X(pubsub_ingest_reads, counter, "reads",                                                       \
      "read completions on pub/sub feeds (publishers, the upstream link)")                         \
    X(pubsub_ingest_reads_now, counter, "reads",                                                   \
      "immediate reads on pub/sub feeds while their socket had bytes (no completion waited for)")  \
    X(pubsub_bytes_queued, counter, "bytes",                                                       \
      "bytes queued on subscribers' sockets (references into shared buffers)")                     \
    X(pubsub_slow_disconnects, counter, "connections",                                             \
      "subscribers closed because their backlog was full (slow_subscriber = disconnect)")          \
    X(pubsub_conflations, counter, "messages",                                                     \
      "updates replaced by a newer one of their table in a full backlog (conflate)")               \
    X(pubsub_mailbox_msgs, counter, "messages", "pub/sub messages put on a lane to a shard")       \
    X(pubsub_lane_full, counter, "messages",                                                       \
      "pub/sub messages that waited for lane space (sent later, in order)")                        \
    X(pubsub_lane_drops, counter, "messages",                                                      \
      "pub/sub messages dropped because a lane and its overflow queue were full")                  \
    X(pubsub_feed_pauses, counter, "pauses",                                                       \
      "times a feed was not read while a lane out of its shard was over half full")                \
    X(pubsub_bad_msgs, counter, "messages",                                                        \
      "pub/sub messages refused: bad update or frame, unknown table, not .u.sub or .u.upd")        \
    X(pubsub_ends, counter, "messages", ".u.end messages queued to subscribers")                   \
    X(pubsub_upstream_connects, counter, "connects",                                               \
      "times the upstream tickerplant link became live (subscribed, schemas loaded)")              \
    X(pubsub_upstream_reconnects, counter, "connects",                                             \
      "upstream tickerplant reconnects scheduled after the link went down or failed")              \
    X(fanout_calls, counter, "calls", "fan-out calls started (.gw.* and routes with groups)")      \
    X(fanout_parts, counter, "calls", "child calls sent by fan-outs, one per group")               \
    X(fanout_joined, counter, "calls", "fan-outs answered with a joined reply")                    \
    X(fanout_errors, counter, "calls", "fan-outs answered with an error")                          \
    X(fanout_timeouts, counter, "calls", "fan-outs that timed out")                                \
    X(fanout_missing_types, counter, "calls",                                                      \
      "fan-outs failed at once: a server type unknown or without a live backend")                  \
    X(fanout_busy, counter, "calls",                                                               \
      "fan-outs refused because the shard had fanout.contexts_max in progress")                    \
    X(fanout_reducer_calls, counter, "calls",                                                      \
      "custom joins sent to the reducer group as (join; results)")                                 \
    X(fanout_reducer_bytes, counter, "bytes", "result bytes copied into reducer calls")            \
    X(fanout_joined_bytes, counter, "bytes", "bytes of joined replies (frame lengths)")            \
    X(fanout_referenced_bytes, counter, "bytes",                                                   \
      "bytes of partial replies that joined replies reference without a copy")                     \
    X(fanout_column_bytes_copied, counter, "bytes",                                                \
      "partial-reply bytes copied in user space (only to compress a joined reply)")                \
    X(fanout_compressed, counter, "replies", "joined replies compressed because q would have")

// X(name, kind, unit, label, help): gateway-wide stats, computed by the admin thread from every
// shard and the backend tables (aggregate, src/proxy/gateway.cc) and reported after the
// shards' stats. `label` is "" or the name of the one label the stat is split by: one sample
// per backend, reported as "<name>_<backend>".
#define QGATE_GATEWAY_STATS(X)                                                                     \
    X(cqes_per_enter_x1000, gauge, "completions per 1000 enters", "",                              \
      "cqes * 1000 / enters over every shard since start: how well completions are batched")       \
    X(shards, gauge, "shards", "", "shard threads running")                                        \
    X(admin_clients, gauge, "connections", "",                                                     \
      "admin endpoint connections open now (authenticated or in their handshake)")                 \
    X(admin_handshake_timeouts, counter, "connections", "",                                        \
      "admin connections closed for not authenticating within admin.handshake_timeout_ms")         \
    X(admin_idle_closed, counter, "connections", "",                                               \
      "authenticated admin connections closed after admin.idle_timeout_ms without a byte")         \
    X(admin_evicted, counter, "connections", "",                                                   \
      "admin connections closed to make room for a new one at admin.clients_max")                  \
    X(admin_auth_fail, counter, "connections", "",                                                 \
      "admin connections refused for bad credentials or an unparsable handshake")                  \
    X(admin_http_requests, counter, "requests", "",                                                \
      "HTTP requests answered on the admin port (GET /metrics, errors included)")                  \
    X(admin_out_overflow, counter, "connections", "",                                              \
      "admin connections closed because replies they did not read passed the output bound")        \
    X(register_conns, gauge, "connections", "",                                                    \
      "registration listener connections open now (logged in or in their handshake)")             \
    X(register_backends, gauge, "backends", "",                                                    \
      "services registered now through registerResource (each a backend until its connection "    \
      "closes)")                                                                                   \
    X(register_accepted, counter, "registrations", "",                                             \
      "registerResource calls accepted: the service became a backend")                            \
    X(register_refused, counter, "registrations", "",                                              \
      "registerResource calls refused: name not in register.groups, register.backends_max "       \
      "reached, or an address that does not resolve")                                             \
    X(register_bad_messages, counter, "messages", "",                                              \
      "messages on the registration listener that were no registerResource call (a sync one is "  \
      "answered a q error, an async one dropped)")                                                 \
    X(register_auth_fail, counter, "connections", "",                                              \
      "registration connections refused for bad credentials, a bad handshake, or none within "    \
      "admin.handshake_timeout_ms")                                                                \
    X(register_closed, counter, "connections", "",                                                 \
      "registration connections closed (by the service, an error, a timeout or the cap): their "  \
      "services drain")                                                                            \
    X(config_generation, gauge, "generation", "",                                                  \
      "number of the running configuration: 1 at start, one more per applied reload or change "   \
      "of the runtime backends (registerResource, discovery)")                                     \
    X(reloads, counter, "reloads", "", "reloads applied (SIGHUP or .qgate.reload[])")              \
    X(reload_failures, counter, "reloads", "",                                                     \
      "reloads refused (bad file, invalid config): the running configuration stayed")              \
    X(backend_ids_issued, gauge, "ids", "",                                                        \
      "backend ids in use or free for reuse (a high-water mark): a retired backend's id is "       \
      "reused, so this stays near the most backends alive at once (cap 4096)")                     \
    X(backend_ids_free, gauge, "ids", "",                                                          \
      "ids of removed backends that are quiet (drained, pool closed, no session) and free to be "  \
      "handed out again")                                                                          \
    X(discovery_connects, counter, "connects", "",                                                 \
      "[discovery]: logins completed at a TorQ discovery process (first and reconnects)")          \
    X(discovery_failures, counter, "events", "",                                                   \
      "[discovery]: connects, logins or getservices calls that failed, and links lost")            \
    X(discovery_updates, counter, "messages", "",                                                  \
      "[discovery]: .servers.procupdate messages pushed by a discovery process and applied")       \
    X(discovery_refreshes, counter, "replies", "",                                                 \
      "[discovery]: getservices answers applied (each replaces that discovery's view)")            \
    X(discovery_skipped, counter, "rows", "",                                                      \
      "[discovery]: rows received that give no backend (unix hpup, bad hpup, proctype not "        \
      "asked for)")                                                                                \
    X(fleet_etcd_up, gauge, "boolean", "",                                                         \
      "[fleet]: 1 while etcd answers (the watch runs and the lease is kept), 0 while this "        \
      "instance serves its last view")                                                             \
    X(fleet_etcd_errors, counter, "calls", "",                                                     \
      "[fleet]: etcd calls that failed or timed out, and watches lost")                            \
    X(fleet_resyncs, counter, "reads", "",                                                         \
      "[fleet]: full reads of the prefix after the watch was lost (etcd back: catching up)")       \
    X(fleet_events, counter, "events", "",                                                         \
      "[fleet]: changes under the prefix received through the watch")                              \
    X(fleet_applies, counter, "lists", "",                                                         \
      "[fleet]: backend lists handed to the reloader (a new generation when it differs)")          \
    X(fleet_lease_lost, counter, "leases", "",                                                     \
      "[fleet]: times this instance's lease was gone (expired while etcd was away): granted "      \
      "anew, its keys written again")                                                              \
    X(fleet_instances, gauge, "instances", "",                                                     \
      "[fleet]: instances listed under the prefix (this one included)")                            \
    X(fleet_ejected, gauge, "backends", "",                                                        \
      "[fleet]: backends ejected everywhere: at least fleet.eject_quorum instances see them "      \
      "down")                                                                                      \
    X(backend_conns, gauge, "connections", "backend",                                              \
      "session mode: client sessions assigned to the backend now (connecting or connected)")       \
    X(backend_load, gauge, "calls", "backend",                                                     \
      "request mode: calls queued plus in flight at the backend (its home shard's view)")          \
    X(backend_live, gauge, "boolean", "backend",                                                   \
      "request mode: 1 while the backend is in service, 0 once ejected")                           \
    X(backend_latency, histogram, "microseconds", "backend",                                    \
      "sync calls sent to the backend until answered: request mode from the send on a pool "       \
      "connection to the reply read; session mode from the call forwarded to its reply's header "  \
      "(pipelined calls: from the reply before)")                                                  \
    X(listener_latency, histogram, "microseconds", "listener",                                  \
      "request mode: sync calls from their header read from the client to the answer queued "      \
      "for it (errors included); label: the listener's position in the config, from 0")            \
    X(route_hits, counter, "calls", "route",                                                       \
      "request mode: calls that matched the route; label: its position in the config, from 0")

/// Every stat, by name: its index in kStatTable.
enum class stat_id : uint16_t {
#define QGATE_SHARD_ID(name, kind, unit, help) name,
#define QGATE_GATEWAY_ID(name, kind, unit, label, help) name,
    QGATE_SHARD_COUNTERS(QGATE_SHARD_ID) QGATE_GATEWAY_STATS(QGATE_GATEWAY_ID)
#undef QGATE_GATEWAY_ID
#undef QGATE_SHARD_ID
};

/// The stats table, in .qgate.stats[] order: the shard counters, then the gateway's stats.
inline constexpr stat_desc kStatTable[] = {
#define QGATE_SHARD_DESC(name, kind, unit, help) stat_desc{#name, stat_kind::kind, unit, help, {}},
#define QGATE_GATEWAY_DESC(name, kind, unit, label, help) \
    stat_desc{#name, stat_kind::kind, unit, help, {label}},
    QGATE_SHARD_COUNTERS(QGATE_SHARD_DESC) QGATE_GATEWAY_STATS(QGATE_GATEWAY_DESC)
#undef QGATE_GATEWAY_DESC
#undef QGATE_SHARD_DESC
};

/// The first kShardStatCount rows of kStatTable are the fields of `counters`.
inline constexpr std::size_t kShardStatCount = 0
// NOLINTNEXTLINE(bugprone-macro-parentheses): a term of the sum above, not an expression.
#define QGATE_COUNT_ONE(name, kind, unit, help) +1
    QGATE_SHARD_COUNTERS(QGATE_COUNT_ONE);
#undef QGATE_COUNT_ONE

constexpr const stat_desc& desc_of(stat_id id) { return kStatTable[static_cast<size_t>(id)]; }

/// Histograms are gateway-wide rows (the admin thread sums the shards' latency_table), never
/// fields of `counters`, which hold one value each.
constexpr bool shard_histogram() {
    for (std::size_t i = 0; i < kShardStatCount; ++i) {
        if (kStatTable[i].kind == stat_kind::histogram) return true;
    }
    return false;
}
static_assert(!shard_histogram(), "a histogram belongs in QGATE_GATEWAY_STATS (latency.h)");

/// A snapshot value of `id` (admin thread); `label_values` one per label of its row.
inline stat_sample make_sample(stat_id id, uint64_t value,
                               std::vector<std::string> label_values = {}) {
    return stat_sample{desc_of(id), std::move(label_values), value, {}};
}

/// A histogram's snapshot (admin thread): its value is the count.
inline stat_sample make_histogram(stat_id id, const latency_summary& h,
                                  std::vector<std::string> label_values) {
    return stat_sample{desc_of(id), std::move(label_values), h.count(), h};
}

struct counters {
// NOLINTNEXTLINE(bugprone-macro-parentheses): `name` is a declarator, not an expression.
#define QGATE_DECLARE_COUNTER(name, kind, unit, help) std::atomic<uint64_t> name{0};
    QGATE_SHARD_COUNTERS(QGATE_DECLARE_COUNTER)
#undef QGATE_DECLARE_COUNTER
    /// Latency histograms and route hits (not rows of their own: gateway stats read them).
    latency_table lat;
};

/// Single-writer increment: a plain add published with a relaxed store.
inline void bump(std::atomic<uint64_t>& c, uint64_t n = 1) {
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}
inline void drop(std::atomic<uint64_t>& c, uint64_t n = 1) {
    c.store(c.load(std::memory_order_relaxed) - n, std::memory_order_relaxed);
}
inline void set(std::atomic<uint64_t>& c, uint64_t v) { c.store(v, std::memory_order_relaxed); }

/// Calls f(id, value) for each per-shard counter, in table order (admin thread).
template <typename F> void for_each_counter(const counters& c, F&& f) {
#define QGATE_VISIT_COUNTER(name, kind, unit, help) \
    f(stat_id::name, c.name.load(std::memory_order_relaxed));
    QGATE_SHARD_COUNTERS(QGATE_VISIT_COUNTER)
#undef QGATE_VISIT_COUNTER
}

}  // namespace qgate::shard
