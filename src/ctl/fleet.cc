// DESIGN: see qgate/fleet.h. Two threads, each with its own etcd_client (a watch blocks its
// handle for as long as the stream lasts), and a third client for the admin thread's writes.
// The watcher owns the key map (fleet_view.h); what the admin thread and the keeper read of it
// (instances, the ejected set, etcd's state) is copied out under `mu`. Every wait is bounded:
// etcd calls by fleet.timeout_ms, the watch by the stop flag (libcurl's progress callback,
// at least once a second), the backoff and the keeper's tick by a condition variable that
// stop() signals.
#include "qgate/fleet.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "ctl/etcd_client.h"
#include "ctl/fleet_view.h"
#include "qgate/log.h"
#include "qgate/reload.h"

namespace qgate {

namespace fl = ctl::fleet;

namespace {

constexpr int kTickMs = 100;         // the keeper: health observations, instance key
constexpr int kBackoffFirstMs = 100;  // the watcher's retry after etcd failed, doubled ...
constexpr int kBackoffMaxMs = 2000;   // ... up to this
constexpr const char* kOwner = "fleet";
constexpr const char* kStarting = "starting";  // neither thread has reached etcd yet

int64_t unix_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

int64_t steady_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

void inc(std::atomic<uint64_t>& c) { c.fetch_add(1, std::memory_order_relaxed); }

std::string host_name() {
    char buf[256] = {};
    if (gethostname(buf, sizeof buf - 1) != 0) return "qgate";
    return buf;
}

}  // namespace

// registerResource and discovery through the fleet: each owner's backends are written under
// this instance's lease (kept here, so a new lease gets them again) and served, here as on
// every instance, once the watch brings them back.
class fleet_sources final : public backend_sink {
  public:
    explicit fleet_sources(fleet_client::impl& m) : m_(m) {}
    sink_result set_backends(const std::string& owner, std::vector<backend_conf> list) override;

  private:
    fleet_client::impl& m_;
};

struct fleet_client::impl {
    impl(const config& c, backend_sink& s, const std::atomic<bool>& d)
        : cfg(c.fleet), sink(s), draining(d), sources(*this),
          admin_etcd(std::make_unique<fl::etcd_client>(cfg.etcd, int(cfg.timeout_ms))) {}

    const fleet_conf cfg;
    backend_sink& sink;
    const std::atomic<bool>& draining;
    fleet_hooks hooks;  // set before start, read-only after
    fleet_sources sources;
    std::string name;
    std::string address;
    fleet_counters counters;
    std::unique_ptr<fl::etcd_client> admin_etcd;

    std::atomic<bool> stopping{false};
    bool poked = false;  // under wait_mu: the watcher applied a generation; the keeper says so
    std::mutex wait_mu;
    std::condition_variable wake;
    std::thread watcher;
    std::thread keeper;

    // Shared with the admin thread and the keeper.
    mutable std::mutex mu;
    std::vector<fl::instance_info> instances;
    std::set<std::string> down;
    bool have_view = false;  // no verdict before the first read: local health until then
    std::string watch_error = kStarting;
    std::string keep_error = kStarting;

    // The watcher's own.
    fl::kv_map kv;
    std::vector<backend_conf> applied;
    bool applied_once = false;
    std::set<std::string> drains;

    // The keeper's (the sources read it).
    std::atomic<int64_t> lease{0};
    // The sources' backends by owner, as written (rewritten under a new lease).
    std::mutex own_mu;
    std::map<std::string, std::vector<backend_conf>> owned;
    std::map<std::string, bool> observed;  // backend -> down, as written
    int64_t next_seen = 0;                 // steady ms: the instance key is due (0: now)

    std::string key(const std::string& rel) const { return cfg.prefix + rel; }
    bool wait_ms(int ms);
    bool keeper_wait(int ms);
    void poke();
    void set_state(std::string* field, std::string why);
    void watch_loop();
    void apply_view();
    void keep_loop();
    bool keep_lease(fl::etcd_client& etcd, int64_t& next_keepalive);
    void write_health(fl::etcd_client& etcd);
    void rewrite_owned(fl::etcd_client& etcd);
};

sink_result fleet_sources::set_backends(const std::string& owner, std::vector<backend_conf> list) {
    sink_result r;
    r.generation = m_.hooks.generation ? m_.hooks.generation() : 0;
    const std::lock_guard<std::mutex> lock(m_.own_mu);
    const int64_t lease = m_.lease.load(std::memory_order_acquire);
    std::vector<backend_conf> kept;
    for (backend_conf& b : list) {
        std::string err;
        if (lease == 0) {
            r.refused.push_back(b.name + ": fleet: etcd unreachable (no lease yet)");
        } else if (m_.admin_etcd->put(m_.key("backends/" + b.name),
                                      fl::backend_value(b, m_.name, owner), lease, err)) {
            r.accepted.push_back(b.name);
            kept.push_back(std::move(b));
        } else {
            inc(m_.counters.etcd_errors);
            r.refused.push_back(b.name + ": fleet: " + err);
        }
    }
    std::vector<backend_conf>& before = m_.owned[owner];
    for (const backend_conf& b : before) {
        const auto same = [&b](const backend_conf& x) { return x.name == b.name; };
        std::string err;
        if (std::none_of(kept.begin(), kept.end(), same) &&
            !m_.admin_etcd->del(m_.key("backends/" + b.name), err)) {
            inc(m_.counters.etcd_errors);  // it goes with the lease all the same
        }
    }
    before = std::move(kept);
    if (before.empty()) m_.owned.erase(owner);
    return r;
}

// A new lease: the sources' backends are written under it again.
void fleet_client::impl::rewrite_owned(fl::etcd_client& etcd) {
    const std::lock_guard<std::mutex> lock(own_mu);
    for (const auto& [owner, list] : owned) {
        for (const backend_conf& b : list) {
            std::string err;
            if (!etcd.put(key("backends/" + b.name), fl::backend_value(b, name, owner), lease,
                          err)) {
                inc(counters.etcd_errors);
            }
        }
    }
}

// False once stopping: sleeps `ms` or until stop().
bool fleet_client::impl::wait_ms(int ms) {
    std::unique_lock<std::mutex> lock(wait_mu);
    wake.wait_for(lock, std::chrono::milliseconds(ms),
                  [this] { return stopping.load(std::memory_order_acquire); });
    return !stopping.load(std::memory_order_acquire);
}

// The keeper's tick: also cut short by poke(), so a new generation is in its instance key at
// once (how the other instances and the benchmark see that this one applied a change).
bool fleet_client::impl::keeper_wait(int ms) {
    std::unique_lock<std::mutex> lock(wait_mu);
    wake.wait_for(lock, std::chrono::milliseconds(ms),
                  [this] { return poked || stopping.load(std::memory_order_acquire); });
    poked = false;
    return !stopping.load(std::memory_order_acquire);
}

void fleet_client::impl::poke() {
    {
        const std::lock_guard<std::mutex> lock(wait_mu);
        poked = true;
    }
    wake.notify_all();
}

// One thread's etcd state ("" = fine); the gauge is 1 only while both are fine.
void fleet_client::impl::set_state(std::string* field, std::string why) {
    const std::lock_guard<std::mutex> lock(mu);
    if (!why.empty() && why != *field) QGATE_LOG_WARN("fleet: %s", why.c_str());
    if (why.empty() && !field->empty() && *field != kStarting) {
        QGATE_LOG_INFO("fleet: etcd answers again");
    }
    *field = std::move(why);
    const bool up = watch_error.empty() && keep_error.empty();
    counters.etcd_up.store(up ? 1 : 0, std::memory_order_relaxed);
}

// The whole view applied: backends (a generation when the list changed), drains, ejections.
void fleet_client::impl::apply_view() {
    backend_conf defaults;
    defaults.credentials = cfg.credentials;
    defaults.conns = cfg.conns;
    defaults.source = backend_source::fleet;
    std::vector<std::string> bad;
    std::vector<backend_conf> list = fl::backends_of(kv, defaults, bad);
    for (const std::string& why : bad) QGATE_LOG_WARN("fleet: backend left out: %s", why.c_str());
    const auto same = [](const backend_conf& a, const backend_conf& b) {
        return ctl::same_backend(a, b) && a.source == b.source;
    };
    const bool changed = !applied_once || list.size() != applied.size() ||
                         !std::equal(list.begin(), list.end(), applied.begin(), same);
    if (changed && !draining.load(std::memory_order_acquire)) {
        const sink_result r = sink.set_backends(kOwner, list);
        inc(counters.applies);
        QGATE_LOG_INFO("fleet: %zu backend(s) listed, %zu served (generation %llu)", list.size(),
                       r.accepted.size(), static_cast<unsigned long long>(r.generation));
        applied = std::move(list);
        applied_once = true;
        poke();
    }
    const std::set<std::string> now = fl::drained_of(kv);
    for (const std::string& n : now) {  // new drains, and all of them when backends changed
        if ((changed || !drains.contains(n)) && hooks.set_drain) hooks.set_drain(n, true);
    }
    for (const std::string& n : drains) {
        if (!now.contains(n) && hooks.set_drain) hooks.set_drain(n, false);
    }
    drains = now;
    std::set<std::string> out = fl::down_of(kv, cfg.eject_quorum);
    std::vector<fl::instance_info> inst = fl::instances_of(kv);
    counters.instances.store(inst.size(), std::memory_order_relaxed);
    counters.ejected.store(out.size(), std::memory_order_relaxed);
    {
        const std::lock_guard<std::mutex> lock(mu);
        instances = std::move(inst);
        down = out;
        have_view = true;
    }
    if (cfg.eject_quorum > 0 && hooks.set_fleet_down) hooks.set_fleet_down(out);
}

// Read the prefix whole, apply it, watch from the next revision; on any failure, back off
// and start again (the full read is how an instance catches up after etcd was away).
void fleet_client::impl::watch_loop() {
    fl::etcd_client etcd(cfg.etcd, static_cast<int>(cfg.timeout_ms));
    int backoff = kBackoffFirstMs;
    bool had_view = false;
    const auto stop = [this] { return stopping.load(std::memory_order_acquire); };
    while (!stopping.load(std::memory_order_acquire)) {
        std::vector<fl::etcd_kv> kvs;
        int64_t revision = 0;
        std::string err;
        if (etcd.range_prefix(cfg.prefix, kvs, revision, err)) {
            if (had_view) inc(counters.resyncs);
            had_view = true;
            backoff = kBackoffFirstMs;
            kv.clear();
            for (fl::etcd_kv& e : kvs) {
                fl::apply_event(kv, cfg.prefix, e.key, true, e.value);
            }
            set_state(&watch_error, "");
            apply_view();
            const auto on = [this](const std::vector<fl::etcd_event>& evs, int64_t) {
                for (const fl::etcd_event& e : evs) {
                    fl::apply_event(kv, cfg.prefix, e.kv.key, e.put, e.kv.value);
                    inc(counters.events);
                }
                apply_view();
            };
            if (etcd.watch(cfg.prefix, revision + 1, on, stop, err)) break;  // stopping
        }
        inc(counters.etcd_errors);
        set_state(&watch_error, "etcd unreachable, serving the last view: " + err);
        if (!wait_ms(backoff)) break;
        backoff = std::min(backoff * 2, kBackoffMaxMs);
    }
}

// The lease: granted when there is none (the instance key and observations written again
// under it), kept alive every third of its TTL. False while etcd does not answer.
bool fleet_client::impl::keep_lease(fl::etcd_client& etcd, int64_t& next_keepalive) {
    std::string err;
    const int64_t ttl_s = (cfg.lease_ttl_ms + 999) / 1000;
    const int64_t now = steady_ms();
    if (lease == 0) {
        int64_t id = 0;
        if (!etcd.lease_grant(ttl_s, id, err)) {
            set_state(&keep_error, "etcd unreachable, serving the last view: " + err);
            return false;
        }
        lease.store(id, std::memory_order_release);
        observed.clear();
        next_seen = 0;  // the instance key under the new lease
        rewrite_owned(etcd);
        next_keepalive = now + ttl_s * 1000 / 3;
        return true;
    }
    if (now < next_keepalive) return true;
    int64_t ttl = 0;
    if (!etcd.lease_keepalive(lease, ttl, err)) {
        set_state(&keep_error, "etcd unreachable, serving the last view: " + err);
        return false;
    }
    next_keepalive = now + ttl_s * 1000 / 3;
    if (ttl <= 0) {
        inc(counters.lease_lost);
        QGATE_LOG_WARN("fleet: lease %lld gone; granting a new one",
                       static_cast<long long>(lease.load()));
        lease.store(0, std::memory_order_release);
        return keep_lease(etcd, next_keepalive);
    }
    return true;
}

// This instance's view of each backend's health, written when it changes (under the lease).
void fleet_client::impl::write_health(fl::etcd_client& etcd) {
    if (cfg.eject_quorum == 0 || !hooks.local_health) return;
    std::map<std::string, bool> now;
    for (const auto& [n, ejected] : hooks.local_health()) now[n] = ejected;
    for (const auto& [n, is_down] : now) {
        const auto it = observed.find(n);
        if (it != observed.end() && it->second == is_down) continue;
        std::string err;
        if (!etcd.put(key("health/" + n + "/" + name), is_down ? "down" : "up", lease, err)) {
            inc(counters.etcd_errors);
            return;  // written on a later tick
        }
        observed[n] = is_down;
    }
    for (auto it = observed.begin(); it != observed.end();) {
        std::string err;
        if (now.contains(it->first)) {
            ++it;
        } else if (etcd.del(key("health/" + it->first + "/" + name), err)) {
            it = observed.erase(it);
        } else {
            inc(counters.etcd_errors);
            return;
        }
    }
}

void fleet_client::impl::keep_loop() {
    fl::etcd_client etcd(cfg.etcd, static_cast<int>(cfg.timeout_ms));
    int64_t next_keepalive = 0;
    uint64_t written_gen = 0;
    while (!stopping.load(std::memory_order_acquire)) {
        if (keep_lease(etcd, next_keepalive)) {
            const uint64_t gen = hooks.generation ? hooks.generation() : 0;
            std::string err;
            bool ok = true;
            if (gen != written_gen || steady_ms() >= next_seen) {
                const fl::instance_info me{name, address, static_cast<int64_t>(gen), unix_ms()};
                ok = etcd.put(key("instances/" + name), fl::instance_value(me), lease, err);
                if (ok) {
                    written_gen = gen;
                    next_seen = steady_ms() + cfg.lease_ttl_ms / 3;
                }
            }
            if (ok) write_health(etcd);
            if (!ok) inc(counters.etcd_errors);
            set_state(&keep_error, ok ? "" : "etcd unreachable, serving the last view: " + err);
        } else {
            inc(counters.etcd_errors);
        }
        if (cfg.eject_quorum > 0 && hooks.set_fleet_down) {
            std::set<std::string> d;
            bool ready = false;
            {
                const std::lock_guard<std::mutex> lock(mu);
                d = down;
                ready = have_view;
            }
            // Ids a reload added start local (route_types.h): they get the verdict here.
            if (ready) hooks.set_fleet_down(d);
        }
        if (!keeper_wait(kTickMs)) break;
    }
    std::string err;
    if (lease != 0 && !etcd.lease_revoke(lease, err)) {
        QGATE_LOG_WARN("fleet: lease not revoked (it expires): %s", err.c_str());
    }
}

fleet_client::fleet_client(const config& cfg, backend_sink& sink,
                           const std::atomic<bool>& draining)
    : impl_(std::make_unique<impl>(cfg, sink, draining)) {}

void fleet_client::set_hooks(fleet_hooks hooks) { impl_->hooks = std::move(hooks); }

backend_sink& fleet_client::sources_sink() {
    return enabled() ? static_cast<backend_sink&>(impl_->sources) : impl_->sink;
}

fleet_client::~fleet_client() { stop(); }

bool fleet_client::enabled() const { return !impl_->cfg.etcd.empty(); }

const fleet_counters& fleet_client::counters() const { return impl_->counters; }

std::string fleet_client::instance() const { return impl_->name; }

bool fleet_client::start(int admin_port, std::string& error) {
    impl& m = *impl_;
    if (m.cfg.etcd.empty()) return true;
    (void)error;
    m.name = !m.cfg.instance.empty() ? m.cfg.instance
                                     : host_name() + ":" + std::to_string(admin_port);
    m.address = m.cfg.advertise.empty() ? m.name : m.cfg.advertise;
    m.watcher = std::thread([&m] { m.watch_loop(); });
    m.keeper = std::thread([&m] { m.keep_loop(); });
    QGATE_LOG_INFO("fleet: instance %s, prefix %s, %zu etcd endpoint(s), eject quorum %u",
                   m.name.c_str(), m.cfg.prefix.c_str(), m.cfg.etcd.size(), m.cfg.eject_quorum);
    return true;
}

void fleet_client::stop() {
    impl& m = *impl_;
    if (!m.watcher.joinable()) return;
    {
        const std::lock_guard<std::mutex> lock(m.wait_mu);
        m.stopping.store(true, std::memory_order_release);
    }
    m.wake.notify_all();
    m.watcher.join();
    m.keeper.join();
}

std::vector<fleet_row> fleet_client::rows() const {
    const impl& m = *impl_;
    const std::lock_guard<std::mutex> lock(m.mu);
    std::string etcd = "up";
    if (!m.watch_error.empty()) etcd = "down: " + m.watch_error;
    if (etcd == "up" && !m.keep_error.empty()) etcd = "down: " + m.keep_error;
    std::vector<fleet_row> out;
    for (const fl::instance_info& i : m.instances) {
        fleet_row r{i.name, i.address, i.generation, i.seen_ms * 1'000'000, i.name == m.name,
                    etcd};
        if (r.self) {
            out.insert(out.begin(), std::move(r));
        } else {
            out.push_back(std::move(r));
        }
    }
    return out;
}

bool fleet_client::add(const backend_conf& b, std::string& error) {
    impl& m = *impl_;
    if (m.cfg.etcd.empty()) return error = "qgate: no fleet", false;
    return m.admin_etcd->put(m.key("backends/" + b.name), fl::backend_value(b, m.name), 0, error);
}

bool fleet_client::remove(const std::string& name, std::string& error) {
    impl& m = *impl_;
    if (m.cfg.etcd.empty()) return error = "qgate: no fleet", false;
    return m.admin_etcd->del(m.key("backends/" + name), error);
}

bool fleet_client::drain(const std::string& name, bool on, std::string& error) {
    impl& m = *impl_;
    if (m.cfg.etcd.empty()) return error = "qgate: no fleet", false;
    if (on) return m.admin_etcd->put(m.key("drain/" + name), "1", 0, error);
    return m.admin_etcd->del(m.key("drain/" + name), error);
}

}  // namespace qgate
