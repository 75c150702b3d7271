// run_gateway: process-level orchestration of the data plane (control-plane thread = the
// caller's thread).
//
// Design note. Order of start-up, each step logged:
//   1. choose the io backend (--io=auto probes io_uring and explains any fallback to epoll);
//   2. resolve backends; bind every listener once per shard with SO_REUSEPORT (port 0: the
//      first shard's socket picks the port, the others bind the same one);
//   3. start the admin endpoint (it aggregates the shards' relaxed-atomic counters);
//   4. write port_file atomically (tmp + rename) once everything is bound;
//   5. block SIGTERM/SIGINT/SIGHUP in every thread (the mask is inherited), start the shards, then
//      wait for a signal here with sigtimedwait. On a signal: set `stop` and poke shard 0,
//      which broadcasts the drain to the other shards over the mailbox mesh. Each shard stops
//      accepting, closes idle sessions at once and the rest as they go idle, and gives up at
//      limits.drain_timeout_ms. Exit code 0 after a drain, 1 on a start-up failure.

#include <csignal>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "net/socket_util.h"
#include "proxy/engine.h"
#include "proxy/reloader.h"
#include "proxy/upstreams.h"
#include "qgate/admin.h"
#include "qgate/gateway.h"
#include "qgate/log.h"
#include "qgate/reload.h"
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

bool write_port_file(const std::string& path, const std::vector<uint16_t>& ports, int admin_port) {
    const std::string tmp = path + ".tmp";
    FILE* f = fopen(tmp.c_str(), "w");
    if (f == nullptr) return false;
    for (size_t l = 0; l < ports.size(); ++l)
        fprintf(f, "listener %zu %u\n", l, unsigned{ports[l]});
    if (admin_port >= 0) fprintf(f, "admin %d\n", admin_port);
    const bool ok = fflush(f) == 0 && fsync(fileno(f)) == 0;
    fclose(f);
    return ok && rename(tmp.c_str(), path.c_str()) == 0;
}

// One snapshot of kStatTable (admin thread): each shard counter summed over the shards, then
// the gateway's stats. The order and the flat names are what .qgate.stats[] has always shown.
ctl::stat_list aggregate(const std::vector<std::unique_ptr<shard::shard>>& shards,
                         const proxy::upstream_table& ups, proxy::route_plane* plane,
                         const ctl::admin_counters& admin, const proxy::reloader& rl,
                         const proxy::gen_holder& gens) {
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
    out.push_back(shard::make_sample(stat_id::config_generation, rl.generation()));
    out.push_back(shard::make_sample(stat_id::reloads, rl.reloads()));
    out.push_back(shard::make_sample(stat_id::reload_failures, rl.failures()));
    // The backends of the running generation (a removed one still draining is not listed).
    const std::vector<uint32_t> ids = gens.current_ids();
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
    return out;
}

io::backend_options backend_opts(const limits_conf& l) {
    io::backend_options o;
    o.buf_entries = l.buf_ring_entries;
    o.buf_size = l.buf_size;
    return o;
}

int wait_for_signal(const std::vector<std::unique_ptr<shard::shard>>& shards,
                    std::atomic<bool>& stop, const sigset_t& set, proxy::reloader& rl) {
    for (;;) {
        timespec ts{0, 200L * 1000 * 1000};
        const int sig = sigtimedwait(&set, nullptr, &ts);
        rl.tick();  // old generations freed, drained backends retired
        if (sig == SIGTERM || sig == SIGINT) {
            QGATE_LOG_INFO("signal %d: draining (up to the drain timeout)", sig);
            stop.store(true, std::memory_order_release);
            shards[0]->notify();
            return sig;
        }
        if (sig == SIGHUP) (void)rl.reload("SIGHUP");  // logs what it did or why not
    }
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

// Starts each shard's engine on its thread. On a failure the shards already running are
// stopped the normal way (stop flag, then shard 0 broadcasts the drain) and joined.
bool start_shards(std::vector<std::unique_ptr<shard::shard>>& shards, proxy::engine_options eo,
                  const std::vector<std::vector<int>>& lfds, std::atomic<bool>& stop) {
    std::string err;
    for (uint32_t s = 0; s < shards.size(); ++s) {
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
    std::string err;
    std::unique_ptr<proxy::route_plane> plane;
    std::unique_ptr<proxy::pubsub_plane> pubsub;
    if (!build_planes(*cfg, n, plane, pubsub)) return 1;
    std::vector<std::vector<int>> lfds;
    std::vector<uint16_t> ports;
    if (!bind_listeners(*cfg, n, lfds, ports)) return 1;

    // Signals are taken by sigtimedwait below; every thread started from here inherits the mask.
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    signal(SIGPIPE, SIG_IGN);

    shard::mailbox_mesh mesh(n);
    std::vector<std::unique_ptr<shard::shard>> shards;
    for (uint32_t s = 0; s < n; ++s) {
        shards.push_back(std::make_unique<shard::shard>(s, mesh, kind, backend_opts(cfg->limits)));
    }
    std::vector<shard::shard*> peers;
    peers.reserve(shards.size());
    for (auto& s : shards) peers.push_back(s.get());
    for (auto& s : shards) s->set_peers(peers.data());

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
    if (!rl.start(cfg, err)) {
        QGATE_LOG_ERROR("%s", err.c_str());
        return 1;
    }

    ctl::admin_server admin;
    int admin_port = -1;
    if (cfg->admin_enabled) {
        admin.set_control({[&rl] { return to_reply(rl.reload(".qgate.reload[]")); },
                           [&rl] { return ctl::config_toml(*rl.running()); }});
        if (!admin.start(
                *cfg,
                [&shards, &ups, &plane, &admin, &rl, &gens] {
                    return aggregate(shards, *ups, plane.get(), admin.counters(), rl, gens);
                },
                err)) {
            QGATE_LOG_ERROR("admin endpoint: %s", err.c_str());
            return 1;
        }
        admin_port = admin.port();
        QGATE_LOG_INFO("admin endpoint on port %d", admin_port);
    }

    std::atomic<bool> stop{false};
    proxy::engine_options eo;
    eo.cfg = cfg;
    eo.upstreams = ups.get();
    eo.plane = plane.get();
    eo.pubsub = pubsub.get();
    eo.stop = &stop;
    eo.gens = &gens;
    if (!start_shards(shards, eo, lfds, stop)) return 1;
    QGATE_LOG_INFO("serving: %u shard(s), io=%s", n, shards[0]->backend().name());
    if (!cfg->port_file.empty() && !write_port_file(cfg->port_file, ports, admin_port)) {
        QGATE_LOG_ERROR("cannot write port file %s: %s", cfg->port_file.c_str(), strerror(errno));
    }

    wait_for_signal(shards, stop, set, rl);
    for (auto& sh : shards) sh->join();
    if (cfg->admin_enabled) admin.stop();
    QGATE_LOG_INFO("drained; exiting");
    return 0;
}

}  // namespace qgate
