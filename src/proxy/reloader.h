// Hot reload, the control thread's side (issue 17): SIGHUP and .qgate.reload[] both call
// reloader::reload, which re-reads the file (as --check-config does), compares it with what
// runs, keeps the settings that need a restart, assigns stable backend ids, builds the next
// routing generation and publishes it; the shards adopt it between two turns
// (engine::adopt_generation). A bad file changes nothing. tick() (every 200 ms from the signal
// loop, and after each reload) frees old generations and retires drained backends.
// It is also the backend_sink of the runtime sources (registerResource, TorQ discovery): what
// runs is the file's configuration plus each owner's backends, rebuilt through the same apply
// when either changes; the file wins a name clash.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "proxy/generation.h"
#include "proxy/upstreams.h"
#include "qgate/backend_sink.h"
#include "qgate/config.h"

namespace qgate::proxy {

/// What a reload did (the reply of .qgate.reload[] and the log lines).
struct reload_result {
    bool ok = false;
    uint64_t generation = 0;
    std::vector<std::string> changes;  ///< ctl::describe lines; "restart needed for: ..." last
    std::vector<std::string> restart;  ///< settings kept at their running value (restart)
    std::string error;                 ///< "file:line: reason" when !ok
    bool routes_changed = false;       ///< the [[route]] table differs (route hits restart)
    bool users_changed = false;        ///< the users file differs (the admin port's logins)
};

class reloader final : public backend_sink {
  public:
    /// `load` re-reads the file and applies the command line's overrides. `wake(shard)` pokes a
    /// shard so that it adopts a generation or retires a backend now rather than at its next
    /// completion.
    reloader(uint32_t shards, upstream_table& ups, gen_holder& gens,
             std::function<bool(config&, std::string&)> load,
             std::function<void(uint32_t)> wake);

    /// The first generation (number 1) from the start-up config. False: logged by the caller.
    bool start(const config_ptr& cfg, std::string& error);
    reload_result reload(const char* why);
    sink_result set_backends(const std::string& owner, std::vector<backend_conf> list) override;
    void tick();
    config_ptr running() const;
    uint64_t generation() const { return generation_.load(std::memory_order_relaxed); }
    uint64_t reloads() const { return reloads_.load(std::memory_order_relaxed); }
    uint64_t failures() const { return failures_.load(std::memory_order_relaxed); }
    /// Backend ids handed out, free ones included (stat backend_ids_issued).
    uint64_t ids_issued() const { return issued_.load(std::memory_order_relaxed); }
    uint64_t ids_free() const { return free_.load(std::memory_order_relaxed); }
    /// Called (control thread, before the publish) for each id handed out, so that shared
    /// per-id cells outside the upstream table (request mode's load cells) start clean.
    void on_reuse(std::function<void(uint32_t)> f) { reuse_ = std::move(f); }

  private:
    bool apply(const config_ptr& next, reload_result& res);
    /// The file's configuration plus the runtime owners' backends; `owner`'s own entries
    /// left out for a name clash are listed in `refused`.
    config_ptr merged(const config& file, const std::string& owner = {},
                      std::vector<std::string>* refused = nullptr) const;
    void wait_adopted(uint64_t number);
    void tick_locked();
    void wake_all();

    uint32_t shards_;
    upstream_table& ups_;
    gen_holder& gens_;
    std::function<bool(config&, std::string&)> load_;
    std::function<void(uint32_t)> wake_;
    backend_ids ids_;
    config_ptr running_;  ///< what runs: file_ plus the runtime backends
    config_ptr file_;     ///< the file's own configuration (with restart-only values kept)
    std::map<std::string, std::vector<backend_conf>> runtime_;  ///< by owner
    mutable std::mutex mu_;  ///< one reload at a time (signal thread, admin thread)
    std::atomic<uint64_t> generation_{0};
    std::atomic<uint64_t> reloads_{0};
    std::atomic<uint64_t> failures_{0};
    std::atomic<uint64_t> issued_{0};
    std::atomic<uint64_t> free_{0};
    std::function<void(uint32_t)> reuse_;
    std::vector<uint32_t> quieting_;  ///< retired ids waiting to be quiet
};

}  // namespace qgate::proxy
