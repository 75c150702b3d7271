// The reloader (reloader.h). Control thread only: it may allocate and block (bounded: the wait
// for the shards to adopt a generation is at most kAdoptWaitMs; a shard busy for longer adopts
// it later all the same).

#include "proxy/reloader.h"

#include <chrono>
#include <thread>

#include "qgate/log.h"
#include "qgate/reload.h"

namespace qgate::proxy {

namespace {
constexpr int kAdoptWaitMs = 2000;
constexpr int kAdoptPollMs = 2;
}  // namespace

reloader::reloader(uint32_t shards, upstream_table& ups, gen_holder& gens,
                   std::function<bool(config&, std::string&)> load,
                   std::function<void(uint32_t)> wake)
    : shards_(shards), ups_(ups), gens_(gens), load_(std::move(load)), wake_(std::move(wake)) {}

bool reloader::start(const config_ptr& cfg, std::string& error) {
    const std::lock_guard<std::mutex> lock(mu_);
    reload_result res;
    if (!apply(cfg, res)) {
        error = res.error;
        return false;
    }
    file_ = cfg;
    return true;
}

// Ids, records of the added backends, the generation; published only when all of it built.
bool reloader::apply(const config_ptr& next, reload_result& res) {
    std::vector<uint32_t> ids;
    std::vector<uint32_t> added;
    std::vector<uint32_t> removed;
    if (!ids_.assign(*next, ids, added, removed, res.error)) return false;
    if (!ups_.add(*next, ids, added, res.error)) return false;
    auto gen = std::make_unique<proxy::generation>();
    const uint64_t number = generation_.load(std::memory_order_relaxed) + 1;
    if (!build_generation(next, ids, number, *gen, res.error)) return false;
    ids_.commit(*next, ids);
    for (const uint32_t id : added) {  // a quiet id handed out again starts clean
        gens_.reuse(id);
        if (reuse_) reuse_(id);
    }
    issued_.store(ids_.issued(), std::memory_order_relaxed);
    free_.store(ids_.free_count(), std::memory_order_relaxed);
    gens_.publish(std::move(gen), removed);
    running_ = next;
    generation_.store(number, std::memory_order_relaxed);
    res.generation = number;
    res.ok = true;
    return true;
}

reload_result reloader::reload(const char* why) {
    const std::lock_guard<std::mutex> lock(mu_);
    reload_result res;
    config next;
    if (!load_(next, res.error)) {
        failures_.fetch_add(1, std::memory_order_relaxed);
        res.generation = generation_.load(std::memory_order_relaxed);
        QGATE_LOG_ERROR("reload (%s) refused, generation %llu keeps running: %s", why,
                        static_cast<unsigned long long>(res.generation), res.error.c_str());
        return res;
    }
    const ctl::config_diff d = ctl::diff_config(*file_, next);
    ctl::keep_restart_only(*file_, next);
    res.changes = ctl::describe(d);
    res.restart = d.restart_needed;
    res.routes_changed = d.routes_changed;
    res.users_changed = d.users_changed;
    auto file = std::make_shared<const config>(std::move(next));
    if (!apply(merged(*file), res)) {
        failures_.fetch_add(1, std::memory_order_relaxed);
        res.generation = generation_.load(std::memory_order_relaxed);
        res.changes.clear();
        res.restart.clear();
        QGATE_LOG_ERROR("reload (%s) refused, generation %llu keeps running: %s", why,
                        static_cast<unsigned long long>(res.generation), res.error.c_str());
        return res;
    }
    file_ = std::move(file);
    reloads_.fetch_add(1, std::memory_order_relaxed);
    wait_adopted(res.generation);
    QGATE_LOG_INFO("reload (%s): generation %llu%s", why,
                   static_cast<unsigned long long>(res.generation),
                   res.changes.empty() ? ", nothing changed" : "");
    for (const std::string& line : res.changes) {
        if (line.rfind("restart needed", 0) == 0) {
            QGATE_LOG_WARN("reload: %s (they keep their running values)", line.c_str());
        } else {
            QGATE_LOG_INFO("reload: %s", line.c_str());
        }
    }
    tick_locked();
    return res;
}

void reloader::wait_adopted(uint64_t number) {
    wake_all();
    for (int waited = 0; !gens_.adopted(number) && waited < kAdoptWaitMs;
         waited += kAdoptPollMs) {
        std::this_thread::sleep_for(std::chrono::milliseconds(kAdoptPollMs));
    }
}

void reloader::tick() {
    const std::lock_guard<std::mutex> lock(mu_);
    tick_locked();
}

// Retired ids wake their home shard (it closes the pool); an id whose pool is closed and
// that no session-mode session is on may be handed out again (generation.h).
void reloader::tick_locked() {
    for (const uint32_t id : gens_.reclaim()) {
        wake_(id % shards_);
        quieting_.push_back(id);
    }
    std::erase_if(quieting_, [this](uint32_t id) {
        if (!gens_.quiet(id) || ups_.sessions(static_cast<int>(id)) != 0) return false;
        ids_.release(id);
        return true;
    });
    free_.store(ids_.free_count(), std::memory_order_relaxed);
}

config_ptr reloader::running() const {
    const std::lock_guard<std::mutex> lock(mu_);
    return running_;
}

void reloader::wake_all() {
    for (uint32_t s = 0; s < shards_; ++s) wake_(s);
}

}  // namespace qgate::proxy
