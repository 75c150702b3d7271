// Generations of the routing view (generation.h): built and reclaimed on the control thread
// (allocation allowed), read by the shards. Reclaim order: a generation is freed only when it
// is not current, every shard has published (saw) a newer number, and every shard's hold count
// is 0. A shard stores its hold counts before it publishes a newer number (release), so once
// the control thread has read that number (acquire) no new hold on the old generation can
// appear: only releases, and a count read as 0 stays 0.

#include "proxy/generation.h"

#include <algorithm>
#include <functional>

#include "proxy/upstreams.h"
#include "qgate/reload.h"

namespace qgate::proxy {

namespace {

route::type_match to_type(route_type t) {
    switch (t) {
    case route_type::sync: return route::type_match::sync;
    case route_type::async: return route::type_match::async;
    case route_type::any: break;
    }
    return route::type_match::any;
}

std::vector<route::route_spec> route_specs(const config& cfg) {
    std::vector<route::route_spec> specs;
    for (const route_conf& rc : cfg.routes) {
        route::route_spec s;
        s.match = rc.match;
        s.users = rc.users;
        s.type = to_type(rc.type);
        s.groups = rc.groups.empty() ? std::vector<std::string>{rc.group} : rc.groups;
        s.join = rc.join;
        s.pol = to_route_policy(rc.policy);
        s.hash_arg = rc.hash_arg;
        s.timeout_ms = rc.timeout_ms;
        s.queue_max = rc.queue_max;
        s.priority = rc.priority;
        specs.push_back(std::move(s));
    }
    return specs;
}

// Per listener: request mode's fallback rule (its own group) and session mode's pick. A
// request listener must name a group; other kinds may name none (pubsub).
bool build_listeners(const config& cfg, generation& g, std::string& error) {
    const size_t nl = cfg.listeners.size();
    g.fallback_groups.assign(nl, 0);
    g.fallback.assign(nl, route::route_rule{});
    g.listeners.assign(nl, listener_pick{});
    for (size_t l = 0; l < nl; ++l) {
        const listener_conf& lc = cfg.listeners[l];
        const int32_t gid = g.groups.find(lc.group);
        g.listeners[l] = {gid, static_cast<uint8_t>(to_route_policy(lc.policy))};
        if (gid < 0 && lc.mode == conn_mode::request) {
            error = "listener " + std::to_string(l) + ": unknown group " + lc.group;
            return false;
        }
        g.fallback_groups[l] = static_cast<uint16_t>(gid < 0 ? 0 : gid);
        g.fallback[l].index = UINT32_MAX;
        g.fallback[l].groups = {&g.fallback_groups[l], 1};
    }
    return true;
}

}  // namespace

bool generation::contains(uint32_t id) const { return id < member.size() && member[id] != 0; }

bool build_generation(const config_ptr& cfg, const std::vector<uint32_t>& ids, uint64_t number,
                      generation& out, std::string& error) {
    out.number = number;
    out.cfg = cfg;
    out.ids = ids;
    const std::vector<route::group_spec> gs = group_specs(*cfg, ids);
    if (!route::group_set::build(gs, out.groups, error)) return false;
    if (!route::route_table::compile(route_specs(*cfg), out.groups, out.table, error)) {
        return false;
    }
    if (!build_listeners(*cfg, out, error)) return false;
    if (!out.acl.compile(*cfg, error)) return false;
    out.pos.assign(kBackendsMax, 0);
    out.member.assign(kBackendsMax, 0);
    for (const uint32_t id : ids) out.member[id] = 1;
    for (const route::group_spec& g : gs) {
        for (uint32_t p = 0; p < g.members.size(); ++p) out.pos[g.members[p].id] = p;
    }
    out.reducer_group = cfg->fanout.reducer.empty() ? -1 : out.groups.find(cfg->fanout.reducer);
    return true;
}

gen_holder::gen_holder(uint32_t shards)
    : shards_(shards), seen_(std::make_unique<shard_seen[]>(kGenShardsMax)),
      retired_(std::make_unique<std::atomic<bool>[]>(kBackendsMax)),
      quiet_(std::make_unique<std::atomic<bool>[]>(kBackendsMax)) {}

void gen_holder::reuse(uint32_t id) {
    retired_[id].store(false, std::memory_order_relaxed);
    quiet_[id].store(false, std::memory_order_relaxed);
}

uint64_t gen_holder::publish(std::unique_ptr<generation> g, const std::vector<uint32_t>& removed) {
    const std::lock_guard<std::mutex> lock(mu_);
    const uint64_t n = g->number;
    if (owned_ != nullptr) old_.push_back(std::move(owned_));
    owned_ = std::move(g);
    removing_.insert(removing_.end(), removed.begin(), removed.end());
    current_.store(owned_.get(), std::memory_order_release);
    return n;
}

bool gen_holder::adopted(uint64_t number) const {
    for (uint32_t s = 0; s < shards_; ++s) {
        if (seen_[s].n.load(std::memory_order_acquire) < number) return false;
    }
    return true;
}

std::vector<uint32_t> gen_holder::reclaim() {
    const std::lock_guard<std::mutex> lock(mu_);
    const auto unused = [this](const generation& g) {
        if (!adopted(g.number + 1)) return false;
        for (uint32_t s = 0; s < shards_; ++s) {
            if (g.held[s].n.load(std::memory_order_acquire) != 0) return false;
        }
        return true;
    };
    std::erase_if(old_, [&](const std::unique_ptr<generation>& g) { return unused(*g); });
    std::vector<uint32_t> now;
    std::erase_if(removing_, [&](uint32_t id) {
        if (owned_->contains(id)) return true;  // re-added under the same id: nothing to do
        for (const auto& g : old_) {
            if (g->contains(id)) return false;
        }
        retired_[id].store(true, std::memory_order_release);
        now.push_back(id);
        return true;
    });
    return now;
}

uint32_t gen_holder::old_count() const {
    const std::lock_guard<std::mutex> lock(mu_);
    return static_cast<uint32_t>(old_.size());
}

std::vector<uint32_t> gen_holder::current_ids() const {
    const std::lock_guard<std::mutex> lock(mu_);
    return owned_ != nullptr ? owned_->ids : std::vector<uint32_t>{};
}

gen_holder::view gen_holder::current_view() const {
    const std::lock_guard<std::mutex> lock(mu_);
    if (owned_ == nullptr) return {};
    return {owned_->number, owned_->cfg, owned_->ids};
}

bool backend_ids::assign(const config& cfg, std::vector<uint32_t>& ids,
                         std::vector<uint32_t>& added, std::vector<uint32_t>& removed,
                         std::string& error) const {
    ids.clear();
    added.clear();
    removed.clear();
    uint32_t next = next_;
    std::vector<uint32_t> free = free_;
    for (const backend_conf& bc : cfg.backends) {
        const auto it = by_name_.find(bc.name);
        if (it != by_name_.end() && ctl::same_backend(it->second.second, bc)) {
            ids.push_back(it->second.first);
            continue;
        }
        if (!free.empty()) {  // a quiet id first: ids stay dense (latency rows, meters)
            ids.push_back(free.back());
            added.push_back(free.back());
            free.pop_back();
            continue;
        }
        if (next >= kBackendsMax) {
            error = "backend " + bc.name + ": more than " + std::to_string(kBackendsMax) +
                    " backends at once (removed ones still draining count)";
            return false;
        }
        ids.push_back(next);
        added.push_back(next++);
    }
    for (const auto& [name, entry] : by_name_) {
        if (std::find(ids.begin(), ids.end(), entry.first) == ids.end()) {
            removed.push_back(entry.first);
        }
    }
    std::sort(removed.begin(), removed.end());
    return true;
}

void backend_ids::commit(const config& cfg, const std::vector<uint32_t>& ids) {
    std::erase_if(free_, [&ids](uint32_t id) {
        return std::find(ids.begin(), ids.end(), id) != ids.end();
    });
    by_name_.clear();
    for (size_t i = 0; i < cfg.backends.size(); ++i) {
        by_name_[cfg.backends[i].name] = {ids[i], cfg.backends[i]};
        next_ = std::max(next_, ids[i] + 1);
    }
}

void backend_ids::release(uint32_t id) {
    free_.push_back(id);
    std::sort(free_.begin(), free_.end(), std::greater<>());
}

bool start_generation(const config_ptr& cfg, upstream_table& ups, gen_holder& gens,
                      std::string& error) {
    backend_ids reg;
    std::vector<uint32_t> ids;
    std::vector<uint32_t> added;
    std::vector<uint32_t> removed;
    if (!reg.assign(*cfg, ids, added, removed, error) || !ups.add(*cfg, ids, added, error)) {
        return false;
    }
    auto g = std::make_unique<generation>();
    if (!build_generation(cfg, ids, 1, *g, error)) return false;
    gens.publish(std::move(g), {});
    return true;
}

}  // namespace qgate::proxy
