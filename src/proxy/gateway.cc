// run_gateway: process-level orchestration of the data plane (control-plane thread = the
// caller's thread).
//
// Design note. Order of start-up, each step logged:
//   1. choose the io backend (--io=auto probes io_uring and explains any fallback to epoll);
//   2. resolve backends; bind every listener once per shard with SO_REUSEPORT (port 0: the
//      first shard's socket picks the port, the others bind the same one);
//   3. start the admin endpoint: its q API (admin_model.h) aggregates the shards' relaxed-atomic
//      counters and meters, and asks each shard for what it owns through its command slot
//      (admin_link.h: never a lock; a shard silent for 1 s is 'qgate: shard N busy');
//   4. write port_file atomically (tmp + rename) once everything is bound;
//   5. block SIGTERM/SIGINT/SIGHUP in every thread (the mask is inherited), start the shards,
//      tell systemd READY=1 ($NOTIFY_SOCKET, if set), then wait here in poll() on a signalfd
//      and an eventfd the shards bump as they end. On a signal: STOPPING=1, set `stop` and
//      poke shard 0, which broadcasts the drain to the other shards over the mailbox mesh.
//      Each shard stops accepting, closes idle sessions at once and the rest as they go idle,
//      and gives up at limits.drain_timeout_ms (a second signal: at once). Exit code 0 after
//      a drain, 1 on a start-up failure.

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <csignal>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "net/socket_util.h"
#include "proxy/access_log.h"
#include "proxy/admin_model.h"
#include "proxy/engine.h"
#include "proxy/fleet_hooks.h"
#include "proxy/reloader.h"
#include "proxy/upstreams.h"
#include "proxy/user_conns.h"
#include "qgate/admin.h"
#include "qgate/discovery.h"
#include "qgate/fleet.h"
#include "qgate/gateway.h"
#include "qgate/log.h"
#include "qgate/register.h"
#include "qgate/reload.h"
#include "qgate/sd_notify.h"
#include "shard/counters.h"
#include "shard/mailbox.h"
#include "shard/shard.h"

namespace qgate {

namespace {

constexpr uint32_t kShardsMax = 64;
constexpr int kListenBacklog = 4096;

bool choose_backend(const config& cfg, io::backend_kind& kind) {
    if (cfg.io == io_mode::epoll) {
        kind = io::backend_kind::epoll;
        QGATE_LOG_INFO("io backend: epoll (forced by --io=epoll)");
        return true;
    }
    std::string reason;
    const bool ok = io::probe_uring(reason);
    if (ok) {
        kind = io::backend_kind::uring;
        QGATE_LOG_INFO("io backend: io_uring (%s)", reason.c_str());
        return true;
    }
    if (cfg.io == io_mode::uring) {
        QGATE_LOG_ERROR("io backend: io_uring requested but unavailable: %s", reason.c_str());
        return false;
    }
    kind = io::backend_kind::epoll;
    QGATE_LOG_WARN("io backend: epoll (fallback: %s)", reason.c_str());
    return true;
}

// fds[l][s]: listener l on shard s.
bool bind_listeners(const config& cfg, uint32_t shards, std::vector<std::vector<int>>& fds,
                    std::vector<uint16_t>& ports) {
    fds.assign(cfg.listeners.size(), {});
    ports.assign(cfg.listeners.size(), 0);
    for (size_t l = 0; l < cfg.listeners.size(); ++l) {
        const listener_conf& lc = cfg.listeners[l];
        net::sock_addr addr;
        std::string err;
        if (!net::resolve(lc.addr, addr, err)) {
            QGATE_LOG_ERROR("listener %zu: %s", l, err.c_str());
            return false;
        }
        for (uint32_t s = 0; s < shards; ++s) {
            const int fd = net::listen_reuseport(addr, kListenBacklog, err);
            if (fd < 0) {
                QGATE_LOG_ERROR("listener %zu (%s:%u): %s", l, lc.addr.host.c_str(),
                                unsigned{lc.addr.port}, err.c_str());
                return false;
            }
            if (s == 0) {
                ports[l] = net::local_port(fd);
                net::set_port(addr, ports[l]);  // the other shards share the chosen port
            }
            fds[l].push_back(fd);
        }
        QGATE_LOG_INFO("listener %zu: %s:%u, %s mode, group '%s', %u shard(s)", l,
                       lc.addr.host.c_str(), unsigned{ports[l]},
                       lc.mode == conn_mode::request  ? "request"
                       : lc.mode == conn_mode::pubsub ? "pubsub"
                                                      : "session",
                       lc.group.c_str(),
                       shards);
    }
    return true;
}

bool write_port_file(const std::string& path, const std::vector<uint16_t>& ports, int admin_port,
                     int register_port) {
    const std::string tmp = path + ".tmp";
    FILE* f = fopen(tmp.c_str(), "w");
    if (f == nullptr) return false;
    for (size_t l = 0; l < ports.size(); ++l)
        fprintf(f, "listener %zu %u\n", l, unsigned{ports[l]});
    if (admin_port >= 0) fprintf(f, "admin %d\n", admin_port);
    if (register_port >= 0) fprintf(f, "register %d\n", register_port);
    const bool ok = fflush(f) == 0 && fsync(fileno(f)) == 0;
    fclose(f);
    return ok && rename(tmp.c_str(), path.c_str()) == 0;
}

// One snapshot of kStatTable (admin thread): each shard counter summed over the shards, then
// the gateway's stats. The order and the flat names are what .qgate.stats[] has always shown.
// The shards' latency histograms and route hits, summed: one sample per backend of the current
// generation (latency_table rows are indexed by backend id; an id past the rows is not
// counted, shard/latency.h), per request listener, and per route position of the current
// route table (hits since the table last changed: proxy::route_hits).
void add_latency(ctl::stat_list& out, const std::vector<std::unique_ptr<shard::shard>>& shards,
                 const proxy::upstream_table& ups, const proxy::gen_holder::view& v,
                 const proxy::route_hits& hits) {
    using shard::stat_id;
    for (const uint32_t b : v.ids) {
        latency_summary h;
        for (const auto& sh : shards) sh->stats().lat.add_backend(b, h);
        out.push_back(shard::make_histogram(stat_id::backend_latency, h,
                                            {ups.at(static_cast<int>(b)).name}));
    }
    const config& cfg = *v.cfg;
    for (size_t l = 0; l < cfg.listeners.size(); ++l) {
        if (cfg.listeners[l].mode != conn_mode::request) continue;
        latency_summary h;
        for (const auto& sh : shards) sh->stats().lat.add_listener(l, h);
        out.push_back(shard::make_histogram(stat_id::listener_latency, h, {std::to_string(l)}));
    }
    for (size_t r = 0; r < cfg.routes.size(); ++r) {
        out.push_back(shard::make_sample(stat_id::route_hits, hits.hits(r), {std::to_string(r)}));
    }
}

// The fleet's counters (qgate/fleet.h), in counters.h order.
void add_fleet(const fleet_counters& c, ctl::stat_list& out) {
    using shard::stat_id;
    const auto read = [](const std::atomic<uint64_t>& x) {
        return x.load(std::memory_order_relaxed);
    };
    out.push_back(shard::make_sample(stat_id::fleet_etcd_up, read(c.etcd_up)));
    out.push_back(shard::make_sample(stat_id::fleet_etcd_errors, read(c.etcd_errors)));
    out.push_back(shard::make_sample(stat_id::fleet_resyncs, read(c.resyncs)));
    out.push_back(shard::make_sample(stat_id::fleet_events, read(c.events)));
    out.push_back(shard::make_sample(stat_id::fleet_applies, read(c.applies)));
    out.push_back(shard::make_sample(stat_id::fleet_lease_lost, read(c.lease_lost)));
    out.push_back(shard::make_sample(stat_id::fleet_instances, read(c.instances)));
    out.push_back(shard::make_sample(stat_id::fleet_ejected, read(c.ejected)));
}

// The TorQ discovery client's counters (qgate/discovery.h).
void add_discovery(const discovery_counters& c, ctl::stat_list& out) {
    using shard::stat_id;
    const auto read = [](const std::atomic<uint64_t>& v) {
        return v.load(std::memory_order_relaxed);
    };
    out.push_back(shard::make_sample(stat_id::discovery_connects, read(c.connects)));
    out.push_back(shard::make_sample(stat_id::discovery_failures, read(c.failures)));
    out.push_back(shard::make_sample(stat_id::discovery_updates, read(c.updates)));
    out.push_back(shard::make_sample(stat_id::discovery_refreshes, read(c.refreshes)));
    out.push_back(shard::make_sample(stat_id::discovery_skipped, read(c.skipped)));
}

ctl::stat_list aggregate(const std::vector<std::unique_ptr<shard::shard>>& shards,
                         const proxy::upstream_table& ups, proxy::route_plane* plane,
                         const ctl::admin_counters& admin, const ctl::register_counters& reg,
                         const proxy::reloader& rl, const proxy::gen_holder& gens,
                         const proxy::route_hits& hits, const discovery_counters& disc,
                         const fleet_counters& fleet) {
    using shard::stat_id;
    std::array<uint64_t, shard::kShardStatCount> sums{};
    for (const auto& sh : shards) {
        shard::for_each_counter(sh->stats(), [&](stat_id id, uint64_t v) {
            sums[static_cast<size_t>(id)] += v;
        });
    }
    ctl::stat_list out;
    for (size_t i = 0; i < sums.size(); ++i) {
        out.push_back(shard::make_sample(static_cast<stat_id>(i), sums[i]));
    }
    const uint64_t enters = sums[static_cast<size_t>(stat_id::enters)];
    const uint64_t cqes = sums[static_cast<size_t>(stat_id::cqes)];
    out.push_back(shard::make_sample(stat_id::cqes_per_enter_x1000,
                                     enters == 0 ? 0 : cqes * 1000 / enters));
    out.push_back(shard::make_sample(stat_id::shards, shards.size()));
    const auto read = [](const std::atomic<uint64_t>& c) {
        return c.load(std::memory_order_relaxed);
    };
    out.push_back(shard::make_sample(stat_id::admin_clients, read(admin.clients)));
    out.push_back(
        shard::make_sample(stat_id::admin_handshake_timeouts, read(admin.handshake_timeouts)));
    out.push_back(shard::make_sample(stat_id::admin_idle_closed, read(admin.idle_closed)));
    out.push_back(shard::make_sample(stat_id::admin_evicted, read(admin.evicted)));
    out.push_back(shard::make_sample(stat_id::admin_auth_fail, read(admin.auth_fail)));
    out.push_back(shard::make_sample(stat_id::admin_http_requests, read(admin.http_requests)));
    out.push_back(shard::make_sample(stat_id::admin_out_overflow, read(admin.out_overflow)));
    out.push_back(shard::make_sample(stat_id::register_conns, read(reg.conns)));
    out.push_back(shard::make_sample(stat_id::register_backends, read(reg.backends)));
    out.push_back(shard::make_sample(stat_id::register_accepted, read(reg.accepted)));
    out.push_back(shard::make_sample(stat_id::register_refused, read(reg.refused)));
    out.push_back(shard::make_sample(stat_id::register_bad_messages, read(reg.bad_messages)));
    out.push_back(shard::make_sample(stat_id::register_auth_fail, read(reg.auth_fail)));
    out.push_back(shard::make_sample(stat_id::register_closed, read(reg.closed)));
    out.push_back(shard::make_sample(stat_id::config_generation, rl.generation()));
    out.push_back(shard::make_sample(stat_id::reloads, rl.reloads()));
    out.push_back(shard::make_sample(stat_id::reload_failures, rl.failures()));
    out.push_back(shard::make_sample(stat_id::backend_ids_issued, rl.ids_issued()));
    out.push_back(shard::make_sample(stat_id::backend_ids_free, rl.ids_free()));
    add_discovery(disc, out);
    add_fleet(fleet, out);
    // The backends of the running generation (a removed one still draining is not listed).
    const proxy::gen_holder::view v = gens.current_view();
    const std::vector<uint32_t>& ids = v.ids;
    for (const uint32_t b : ids) {
        const proxy::upstream& u = ups.at(static_cast<int>(b));
        out.push_back(shard::make_sample(stat_id::backend_conns, ups.sessions(static_cast<int>(b)),
                                         {u.name}));
    }
    // Request mode: each backend's queued + in-flight calls and liveness (its home shard's view).
    for (const uint32_t b : ids) {
        if (plane == nullptr) break;
        const std::string& name = ups.at(static_cast<int>(b)).name;
        const route::backend_state& st = plane->state(b);
        out.push_back(shard::make_sample(stat_id::backend_load, st.load_now(), {name}));
        out.push_back(
            shard::make_sample(stat_id::backend_live, st.is_live() ? 1 : 0, {name}));
    }
    if (v.cfg != nullptr) add_latency(out, shards, ups, v, hits);
    return out;
}

io::backend_options backend_opts(const limits_conf& l) {
    io::backend_options o;
    o.buf_entries = l.buf_ring_entries;
    o.buf_size = l.buf_size;
    return o;
}

// The signal thread's wait: the signals (a signalfd) and the shards' exits (an eventfd each
// shard adds 1 to as it ends), in one poll(), so neither a signal nor the last shard's exit
// waits for a poll interval; the poll wakes at least every kTickMs for the reloader's tick.
struct signal_wait {
    int sig_fd = -1;
    int exit_fd = -1;
    ~signal_wait() {
        if (sig_fd >= 0) close(sig_fd);
        if (exit_fd >= 0) close(exit_fd);
    }
    signal_wait() = default;
    signal_wait(const signal_wait&) = delete;
    signal_wait& operator=(const signal_wait&) = delete;

    static constexpr int kTickMs = 200;
    /// Blocks until a signal (returned), a shard exit (0, with `exited` increased) or kTickMs
    /// passed (0).
    int next(uint32_t& exited) const {
        for (;;) {
            pollfd p[2] = {{sig_fd, POLLIN, 0}, {exit_fd, POLLIN, 0}};
            const int ready = poll(p, 2, kTickMs);
            if (ready == 0) return 0;
            if (ready < 0) {
                if (errno == EINTR) continue;
                return -1;
            }
            uint64_t n = 0;
            if ((p[1].revents & POLLIN) != 0 && read(exit_fd, &n, sizeof n) == sizeof n) {
                exited += static_cast<uint32_t>(n);
                return 0;
            }
            signalfd_siginfo si{};
            if ((p[0].revents & POLLIN) != 0 && read(sig_fd, &si, sizeof si) == sizeof si) {
                return static_cast<int>(si.ssi_signo);
            }
        }
    }
};

using reload_fn = std::function<proxy::reload_result(const char*)>;

// SIGHUP: reopens the access log (logrotate's postrotate sends it) and reloads the
// configuration (logged either way); not once the drain has begun.
void on_sighup(proxy::access_log* alog, const std::atomic<bool>& stop, const reload_fn& reload) {
    if (alog != nullptr) alog->reopen();
    if (stop.load(std::memory_order_relaxed)) return;
    (void)reload("SIGHUP");
}

// Serves until SIGTERM/SIGINT, then waits for the drain. The first signal sets `stop` and
// pokes shard 0, which broadcasts the drain; a second one sets `force` too: the drain ends at
// once, as at its timeout (README "Behaviour decisions", shutdown). Every wake-up (at least
// each signal_wait::kTickMs) lets the reloader free old generations and retire backends.
void serve_until_drained(const std::vector<std::unique_ptr<shard::shard>>& shards,
                         std::atomic<bool>& stop, std::atomic<bool>& force,
                         const signal_wait& w, proxy::access_log* alog, proxy::reloader& rl,
                         const reload_fn& reload) {
    uint32_t exited = 0;
    while (exited < shards.size()) {
        const int sig = w.next(exited);
        rl.tick();
        if (sig < 0) {
            QGATE_LOG_ERROR("signal wait: %s; draining", strerror(errno));
            stop.store(true, std::memory_order_release);
            shards[0]->notify();
            break;  // the join below waits for the drain
        }
        if (sig == SIGHUP) on_sighup(alog, stop, reload);
        if (sig != SIGTERM && sig != SIGINT) continue;
        if (!stop.load(std::memory_order_relaxed)) {
            QGATE_LOG_INFO("signal %d: draining (up to the drain timeout; a second signal "
                           "ends it at once)", sig);
            ctl::sd_notify("STOPPING=1");
            stop.store(true, std::memory_order_release);
        } else if (!force.exchange(true, std::memory_order_acq_rel)) {
            QGATE_LOG_WARN("signal %d again: ending the drain now (calls in flight dropped)",
                           sig);
            // Every shard: shard 0 may have finished its part already and broadcasts nothing.
            for (const auto& sh : shards) sh->notify();
            continue;
        }
        shards[0]->notify();
    }
}

constexpr int kRegisterFailed = -2;

// The registration listener (qgate/register.h), when [register] is configured, feeding the
// reloader. Returns its port, -1 when not configured, kRegisterFailed (logged) on failure.
int start_registration(const config& cfg, ctl::register_server& reg, backend_sink& sink) {
    if (!cfg.registration.enabled) return -1;
    std::string err;
    if (!reg.start(cfg, sink, err)) {
        QGATE_LOG_ERROR("%s", err.c_str());
        return kRegisterFailed;
    }
    QGATE_LOG_INFO("registration listener on port %u", unsigned{reg.port()});
    return reg.port();
}

// The access log, when configured and a request listener exists (it logs request-mode calls
// only). False: logged.
bool start_access_log(const config& cfg, uint32_t n, const proxy::route_plane* plane,
                      const proxy::upstream_table& ups, std::unique_ptr<proxy::access_log>& alog) {
    if (cfg.access_log.path.empty()) return true;
    if (plane == nullptr) {
        QGATE_LOG_WARN("access_log: no request-mode listener, nothing to log");
        return true;
    }
    // By id, looked up as lines are written: a reload adds ids (their records are written
    // before a shard can route to them, and never rewritten).
    const proxy::backend_namer names = [&ups](uint32_t b) -> std::string_view {
        return b < proxy::kBackendsMax ? std::string_view(ups.at(static_cast<int>(b)).name)
                                       : std::string_view();
    };
    alog = std::make_unique<proxy::access_log>(cfg.access_log, n, names);
    std::string err;
    if (!alog->start(err)) {
        QGATE_LOG_ERROR("%s", err.c_str());
        return false;
    }
    QGATE_LOG_INFO("access log: %s (calls of %u ms and more)", cfg.access_log.path.c_str(),
                   cfg.access_log.slow_ms);
    return true;
}

// Request mode's routing plane (groups, routes, load cells, request slots) and pub/sub's lanes,
// shared by every shard; each stays null when no listener needs it. False: logged.
bool build_planes(const config& cfg, uint32_t n, std::unique_ptr<proxy::route_plane>& plane,
                  std::unique_ptr<proxy::pubsub_plane>& pubsub) {
    for (const listener_conf& lc : cfg.listeners) {
        if (lc.mode == conn_mode::request && plane == nullptr) {
            plane = std::make_unique<proxy::route_plane>();
            plane->build(cfg, n);
            QGATE_LOG_INFO("request mode: %zu route(s)", cfg.routes.size());
        }
        if (lc.mode == conn_mode::pubsub && pubsub == nullptr) {
            pubsub = std::make_unique<proxy::pubsub_plane>(n, cfg);
            QGATE_LOG_INFO("pubsub: upstream %s, hub shard 0",
                           cfg.pubsub.upstream.empty() ? "none (publishers)"
                                                       : cfg.pubsub.upstream.c_str());
        }
    }
    return true;
}

// One TLS context per TLS listener, before any shard starts: a bad certificate or key stops
// the start with its file named.
bool build_tls(const config& cfg, proxy::tls_contexts& out) {
    std::string err;
    if (!out.build(cfg, err)) {
        QGATE_LOG_ERROR("%s", err.c_str());
        return false;
    }
    for (std::size_t i = 0; i < cfg.listeners.size(); ++i) {
        const listener_conf& l = cfg.listeners[i];
        if (!l.tls()) continue;
        QGATE_LOG_INFO("listener %zu: TLS 1.2/1.3, certificate %s%s", i, l.tls_cert.c_str(),
                       l.tls_verify_client ? ", client certificates required" : "");
    }
    return true;
}

// Starts each shard's engine on its thread. On a failure the shards already running are
// stopped the normal way (stop flag, then shard 0 broadcasts the drain) and joined.
bool start_shards(std::vector<std::unique_ptr<shard::shard>>& shards, proxy::engine_options eo,
                  const std::vector<std::vector<int>>& lfds,
                  std::vector<std::unique_ptr<proxy::admin_link>>& links,
                  std::atomic<bool>& stop) {
    std::string err;
    for (uint32_t s = 0; s < shards.size(); ++s) {
        eo.admin = links[s].get();
        eo.listener_fds.clear();
        for (const auto& per_listener : lfds) eo.listener_fds.push_back(per_listener[s]);
        auto factory = [eo](shard::shard& sh) -> std::unique_ptr<shard::shard_hooks> {
            return std::make_unique<proxy::engine>(sh, eo);
        };
        if (!shards[s]->start(factory, err)) {
            QGATE_LOG_ERROR("%s", err.c_str());
            stop.store(true);
            for (uint32_t t = 0; t < s; ++t) shards[t]->notify();
            if (s > 0) shards[0]->notify();
            for (auto& sh : shards) sh->join();
            return false;
        }
    }
    return true;
}

// What .qgate.reload[] answers, from what the reloader did.
ctl::reload_reply to_reply(const proxy::reload_result& r) {
    ctl::reload_reply out;
    out.ok = r.ok;
    out.generation = r.generation;
    out.changes = r.changes;
    out.error = r.error;
    out.restart = r.restart;
    return out;
}

// The admin port's actions: reload, the running config, and the fleet's when there is one.
ctl::admin_control control_of(const reload_fn& do_reload, proxy::reloader& rl,
                              fleet_client& fleet) {
    ctl::admin_control c;
    c.reload = [&do_reload] { return to_reply(do_reload(".qgate.reload[]")); };
    c.config_text = [&rl] { return ctl::config_toml(*rl.running()); };
    if (!fleet.enabled()) return c;
    c.fleet_rows = [&fleet] { return fleet.rows(); };
    c.fleet_add = [&fleet](const backend_conf& b, std::string& e) { return fleet.add(b, e); };
    c.fleet_remove = [&fleet](const std::string& n, std::string& e) {
        return fleet.remove(n, e);
    };
    c.fleet_drain = [&fleet](const std::string& n, bool on, std::string& e) {
        return fleet.drain(n, on, e);
    };
    return c;
}

}  // namespace

int run_gateway(const config_ptr& cfg, std::function<bool(config&, std::string&)> reload_source) {
    uint32_t n = cfg->shards != 0 ? cfg->shards : std::thread::hardware_concurrency();
    n = n == 0 ? 1 : (n > kShardsMax ? kShardsMax : n);
    if (cfg->listeners.empty()) {
        QGATE_LOG_ERROR("no listener configured");
        return 1;
    }
    io::backend_kind kind{};
    if (!choose_backend(*cfg, kind)) return 1;

    auto ups = std::make_unique<proxy::upstream_table>();
    ups->build(*cfg);
    auto users = std::make_unique<proxy::user_conns>();  // shared by every shard's engine
    std::string err;
    std::unique_ptr<proxy::route_plane> plane;
    std::unique_ptr<proxy::pubsub_plane> pubsub;
    if (!build_planes(*cfg, n, plane, pubsub)) return 1;
    std::vector<std::vector<int>> lfds;
    std::vector<uint16_t> ports;
    if (!bind_listeners(*cfg, n, lfds, ports)) return 1;

    // Signals are read from a signalfd below; every thread started from here inherits the mask.
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    signal(SIGPIPE, SIG_IGN);
    signal_wait waiter;
    waiter.sig_fd = signalfd(-1, &set, SFD_CLOEXEC);
    waiter.exit_fd = eventfd(0, EFD_CLOEXEC);
    if (waiter.sig_fd < 0 || waiter.exit_fd < 0) {
        QGATE_LOG_ERROR("signalfd/eventfd: %s", strerror(errno));
        return 1;
    }

    shard::mailbox_mesh mesh(n);
    std::vector<std::unique_ptr<shard::shard>> shards;
    for (uint32_t s = 0; s < n; ++s) {
        shards.push_back(std::make_unique<shard::shard>(s, mesh, kind, backend_opts(cfg->limits)));
    }
    std::vector<shard::shard*> peers;
    peers.reserve(shards.size());
    for (auto& s : shards) peers.push_back(s.get());
    for (auto& s : shards) {
        s->set_peers(peers.data());
        s->set_exit_fd(waiter.exit_fd);
        s->stats().lat.init(cfg->backends.size(), cfg->listeners.size(), cfg->routes.size());
    }

    // The admin API's view of the shards (admin_model.h): a command slot per shard and the
    // per-shard meters the engines count into, one per backend id (ids grow with reloads).
    std::vector<std::unique_ptr<proxy::admin_link>> links;
    for (uint32_t s = 0; s < n; ++s) links.push_back(std::make_unique<proxy::admin_link>());
    proxy::backend_meters meters(n, proxy::kBackendsMax);

    // Routing generations (hot reload): the first one, number 1, before any shard starts.
    proxy::gen_holder gens(n);
    if (!reload_source) {
        reload_source = [](config&, std::string& e) {
            e = "no configuration file to re-read";
            return false;
        };
    }
    proxy::reloader rl(n, *ups, gens, std::move(reload_source),
                       [&shards](uint32_t s) { shards[s]->notify(); });
    if (plane != nullptr) {
        rl.on_reuse([p = plane.get()](uint32_t id) {  // request mode's cells of a reused id
            route::backend_state& st = p->state(id);
            st.live.store(true, std::memory_order_relaxed);
            st.drained.store(false, std::memory_order_relaxed);
            st.load.store(0, std::memory_order_relaxed);
            st.fleet.store(0, std::memory_order_relaxed);  // the fleet's keeper gives a verdict
            st.ejected.store(false, std::memory_order_relaxed);
        });
    }
    if (!rl.start(cfg, err)) {
        QGATE_LOG_ERROR("%s", err.c_str());
        return 1;
    }

    std::atomic<bool> stop{false};
    std::atomic<bool> force{false};
    // [discovery]: started once the shards run (the reloader waits for them to adopt each
    // generation), stopped before they are joined; views stop reaching the sink at `stop`.
    // [fleet]: the sources' backends go through etcd to every instance (qgate/fleet.h).
    fleet_client fleet(*cfg, rl, stop);
    discovery_client disc(*cfg, fleet.sources_sink(), stop);
    ctl::admin_server admin;
    ctl::register_server reg;  // after rl, its sink: destroyed (stopped) before it
    proxy::route_hits hits(shards);
    // Every reload (SIGHUP, .qgate.reload[]): the admin port's logins follow the users file,
    // and route hits restart when the route table changed (README "Behaviour decisions").
    proxy::tls_contexts tls;  // before the shards start; outlives them (joined below)
    const reload_fn do_reload = [&rl, &admin, &reg, &hits, &tls](const char* why) {
        proxy::reload_result r = rl.reload(why);
        // Certificates are re-read from their files even when the config did not change:
        // a renewed certificate is the usual reason for the reload.
        if (r.ok && tls.reload(*rl.running()) > 0) {
            QGATE_LOG_INFO("reload: TLS certificates re-read");
        }
        if (r.ok && r.users_changed) admin.set_users(rl.running()->users);
        if (r.ok && r.users_changed) reg.set_users(rl.running()->users);
        if (r.ok && r.routes_changed) hits.restart();
        return r;
    };
    proxy::gateway_parts parts;
    parts.cfg = cfg;
    parts.gens = &gens;
    parts.hits = &hits;
    parts.shards = &shards;
    parts.links = &links;
    parts.ups = ups.get();
    parts.plane = plane.get();
    parts.meters = &meters;
    parts.users = users.get();
    parts.ports = ports;
    parts.stats = [&shards, &ups, &plane, &admin, &reg, &rl, &gens, &hits, &disc, &fleet] {
        return aggregate(shards, *ups, plane.get(), admin.counters(), reg.counters(), rl, gens,
                         hits, disc.counters(), fleet.counters());
    };
    proxy::gateway_model model(std::move(parts));
    fleet.set_hooks(proxy::make_fleet_hooks(rl, gens, *ups, plane.get()));
    int admin_port = -1;
    if (cfg->admin_enabled) {
        admin.set_control(control_of(do_reload, rl, fleet));
        if (!admin.start(*cfg, model, err)) {
            QGATE_LOG_ERROR("admin endpoint: %s", err.c_str());
            return 1;
        }
        admin_port = admin.port();
        QGATE_LOG_INFO("admin endpoint on port %d", admin_port);
    }

    const int register_port = start_registration(*cfg, reg, fleet.sources_sink());
    if (register_port == kRegisterFailed) {
        admin.stop();
        return 1;
    }

    proxy::engine_options eo;
    if (!build_tls(*cfg, tls)) {
        admin.stop();
        return 1;
    }
    eo.tls = &tls;
    eo.cfg = cfg;
    eo.upstreams = ups.get();
    eo.plane = plane.get();
    eo.pubsub = pubsub.get();
    eo.stop = &stop;
    eo.force = &force;
    eo.gens = &gens;
    eo.users = users.get();
    std::unique_ptr<proxy::access_log> alog;
    if (!start_access_log(*cfg, n, plane.get(), *ups, alog)) {
        admin.stop();  // before `model`, which its thread reads, goes away
        return 1;
    }
    eo.alog = alog.get();
    eo.meters = &meters;
    if (!start_shards(shards, eo, lfds, links, stop)) {
        admin.stop();
        return 1;
    }
    QGATE_LOG_INFO("serving: %u shard(s), io=%s", n, shards[0]->backend().name());
    if (!cfg->port_file.empty() &&
        !write_port_file(cfg->port_file, ports, admin_port, register_port)) {
        QGATE_LOG_ERROR("cannot write port file %s: %s", cfg->port_file.c_str(), strerror(errno));
    }

    if (!disc.start(err)) QGATE_LOG_ERROR("%s; serving without discovery", err.c_str());
    if (!fleet.start(admin_port, err)) QGATE_LOG_ERROR("%s; serving without a fleet", err.c_str());
    ctl::sd_notify("READY=1");  // conf/qgate.service: Type=notify
    serve_until_drained(shards, stop, force, waiter, alog.get(), rl, do_reload);
    disc.stop();
    fleet.stop();
    reg.stop(false);  // the shards have drained: nothing is left for its services to drain
    for (auto& sh : shards) sh->join();
    if (alog) alog->stop();  // after the shards: every record pushed is written
    if (cfg->admin_enabled) admin.stop();
    QGATE_LOG_INFO("drained; exiting");
    return 0;
}

}  // namespace qgate
