// Hot reload (issue 17): the routing view is an immutable `generation` built on the control
// thread from one config snapshot: groups (members by stable backend id), their rings, the
// route table, per-listener fallbacks and session picks, and the config itself (users, route
// timeouts). Each shard adopts the newest one between two loop turns (engine::adopt_generation)
// and a call keeps the generation it was routed with. An old generation is freed once every
// shard has moved past it and no call holds it. Holds are counted per shard (one cache line
// each, written by its shard alone): no lock and no shared refcount on the hot path.
//
// Backend ids (`backend_ids`, control thread only) are stable: an unchanged backend keeps its
// id across reloads, so its load cells, pooled connections, home shard (id % shards) and
// ring positions (rings hash names) keep working. Any change to a backend's settings is a
// remove + add (a new id). Per-id records, state cells and home-shard state are sized to
// kBackendsMax at start. A removed id is reused once it is quiet: retired (no generation
// refers to it), its home shard has closed every pooled connection (set_quiet) and no
// session-mode session is on it; the control thread then resets the shared cells, and each
// shard resets its own (meters, notes, latency) when it adopts a generation the id is new in.
// So runtime backends coming and going (registerResource, discovery) do not use the ids up.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "qgate/config.h"
#include "qgate/route/acl.h"
#include "qgate/route/group.h"
#include "qgate/route/table.h"

namespace qgate::proxy {

/// Most backend ids at once (added on start and by reloads; a quiet id is reused).
inline constexpr uint32_t kBackendsMax = 4096;
inline constexpr uint32_t kGenShardsMax = 64;

/// Session mode's pick for one listener in a generation.
struct listener_pick {
    int32_t group = -1;  ///< in generation::groups; -1 when no backend serves it (pubsub)
    uint8_t pol = 0;     ///< route::policy
};

struct generation {
    generation() = default;
    generation(const generation&) = delete;
    generation& operator=(const generation&) = delete;
    generation(generation&&) = delete;
    generation& operator=(generation&&) = delete;
    ~generation() = default;

    uint64_t number = 0;
    config_ptr cfg;  ///< the snapshot it was built from: users, routes, fan-out
    route::group_set groups;
    route::route_table table;
    std::vector<route::route_rule> fallback;  ///< per listener (request mode, no [[route]])
    std::vector<uint16_t> fallback_groups;    ///< per listener, viewed by fallback[l]
    std::vector<listener_pick> listeners;     ///< per listener (session mode)
    std::vector<uint32_t> ids;                ///< backend ids in this generation (config order)
    std::vector<uint32_t> pos;   ///< per id (kBackendsMax): position in its group (tried bit)
    std::vector<uint8_t> member;  ///< per id (kBackendsMax): 1 when `ids` has it
    int32_t reducer_group = -1;  ///< fanout.reducer's group; -1 = none
    route::acl_table acl;        ///< [[acl]] entitlements (empty: everything allowed)

    /// Calls (request slots, fan-out contexts) holding this generation, per shard: written
    /// by that shard only (relaxed load + store), read by the control thread.
    struct alignas(64) shard_count {
        std::atomic<uint64_t> n{0};
    };
    std::unique_ptr<shard_count[]> held = std::make_unique<shard_count[]>(kGenShardsMax);

    void hold(uint32_t shard) const {
        auto& c = held[shard].n;
        c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    }
    void unhold(uint32_t shard) const {
        auto& c = held[shard].n;
        c.store(c.load(std::memory_order_relaxed) - 1, std::memory_order_release);
    }
    bool contains(uint32_t id) const;
};

/// Builds a generation from `cfg` with backend ids `ids` (one per cfg.backends entry).
/// False with `error` on a group or route that does not compile.
bool build_generation(const config_ptr& cfg, const std::vector<uint32_t>& ids, uint64_t number,
                      generation& out, std::string& error);

/// The running generation and every old one still held; shared by the control thread and the
/// shards. The shards only call current(), saw() and retired().
class gen_holder {
  public:
    explicit gen_holder(uint32_t shards);

    /// The newest generation (acquire: its contents are visible).
    const generation* current() const { return current_.load(std::memory_order_acquire); }
    /// Shard `s` routes with generation `number` from now on.
    void saw(uint32_t s, uint64_t number) {
        seen_[s].n.store(number, std::memory_order_release);
    }
    /// The backend's id is referred to by no generation any more: its pool may close.
    bool retired(uint32_t id) const { return retired_[id].load(std::memory_order_acquire); }
    /// The home shard closed every pooled connection of retired backend `id` (release).
    void set_quiet(uint32_t id) { quiet_[id].store(true, std::memory_order_release); }

    // ---- control thread
    /// Makes `g` current; the previous one joins the old list. Returns its number.
    uint64_t publish(std::unique_ptr<generation> g, const std::vector<uint32_t>& removed);
    /// True once every shard routes with generation `number` or newer.
    bool adopted(uint64_t number) const;
    /// Frees old generations no shard routes with and no call holds; retires removed ids no
    /// generation refers to. Returns the ids retired now (their home shards must be woken).
    std::vector<uint32_t> reclaim();
    uint32_t old_count() const;
    bool quiet(uint32_t id) const { return quiet_[id].load(std::memory_order_acquire); }
    /// `id` is handed out again: its retired and quiet flags clear (before the publish).
    void reuse(uint32_t id);
    /// The current generation's backend ids, copied under the lock: a thread that is no shard
    /// (the admin's stats) holds no generation, so it must not keep current() across a reclaim.
    std::vector<uint32_t> current_ids() const;
    /// The current generation's config and ids (ids[i] is cfg->backends[i]'s), copied under the
    /// lock, for the admin API's tables (a control thread, holding no generation).
    struct view {
        uint64_t number = 0;
        config_ptr cfg;
        std::vector<uint32_t> ids;
    };
    view current_view() const;

  private:
    struct alignas(64) shard_seen {
        std::atomic<uint64_t> n{0};
    };
    uint32_t shards_;
    std::atomic<const generation*> current_{nullptr};
    std::unique_ptr<generation> owned_;  ///< the current one
    std::vector<std::unique_ptr<generation>> old_;
    std::vector<uint32_t> removing_;  ///< removed ids not yet retired
    std::unique_ptr<shard_seen[]> seen_;
    std::unique_ptr<std::atomic<bool>[]> retired_;
    std::unique_ptr<std::atomic<bool>[]> quiet_;
    mutable std::mutex mu_;  ///< control thread callers (SIGHUP, admin) against each other
};

/// Name -> stable id, and the settings each id was made with (control thread only).
class backend_ids {
  public:
    /// Ids for `cfg.backends` in order: the old id for a backend whose settings are unchanged,
    /// a fresh one otherwise. `added` / `removed` list the changes against the last commit.
    /// False when kBackendsMax would be passed. Nothing changes until commit().
    bool assign(const config& cfg, std::vector<uint32_t>& ids, std::vector<uint32_t>& added,
                std::vector<uint32_t>& removed, std::string& error) const;
    void commit(const config& cfg, const std::vector<uint32_t>& ids);
    /// `id` is quiet (gen_holder::quiet, no session on it): assign may hand it out again.
    void release(uint32_t id);
    /// Ids handed out so far, free ones included (the high-water mark).
    uint32_t issued() const { return next_; }
    uint32_t free_count() const { return static_cast<uint32_t>(free_.size()); }

  private:
    std::unordered_map<std::string, std::pair<uint32_t, backend_conf>> by_name_;
    uint32_t next_ = 0;
    std::vector<uint32_t> free_;  ///< released ids, smallest last (taken first)
};

class upstream_table;
/// Start-up without a reloader (unit-test rigs): ids 0..n-1 for `cfg.backends`, their records
/// in `ups` (already built), generation 1 published in `gens`.
bool start_generation(const config_ptr& cfg, upstream_table& ups, gen_holder& gens,
                      std::string& error);

}  // namespace qgate::proxy
