// Subscription registry and filter directory (registry.h). Design note: owned by one shard
// (registry) or by the publishing shard (directory); no locks, no atomics. Mutations happen on
// subscribe / unsubscribe / disconnect and may allocate. Lookups by table use an ordered map
// with transparent comparison (no temporary string per update). Groups are kept in a vector
// per table; an emptied group is removed by swap-and-pop, so group order is not stable and
// spans are invalidated by any mutation (documented on the class).

#include "qgate/pubsub/registry.h"

#include <algorithm>

namespace qgate::pubsub {
namespace {

template <class V>
void swap_erase(V& v, typename V::iterator it) {
    if (it != v.end() - 1) *it = std::move(v.back());
    v.pop_back();
}

}  // namespace

bool registry::remove(subscriber_id s, std::string_view table) {
    auto t = by_table_.find(table);
    if (t == by_table_.end()) return false;
    auto& groups = t->second;
    for (auto g = groups.begin(); g != groups.end(); ++g) {
        auto it = std::find(g->subscribers.begin(), g->subscribers.end(), s);
        if (it == g->subscribers.end()) continue;
        g->subscribers.erase(it);  // keeps the others' order (delivery order is stable)
        if (g->subscribers.empty()) swap_erase(groups, g);
        if (groups.empty()) by_table_.erase(t);
        return true;
    }
    return false;
}

bool registry::subscribe(subscriber_id s, std::string_view table, sym_filter f,
                         sym_filter* previous) {
    bool replaced = false;
    if (const sym_filter* old = filter_of(s, table)) {
        if (previous != nullptr) *previous = *old;
        replaced = true;
        remove(s, table);
    } else {
        by_sub_[s].emplace_back(table);
    }
    auto& groups = by_table_[std::string(table)];
    auto g = std::find_if(groups.begin(), groups.end(),
                          [&f](const filter_group& x) { return x.filter == f; });
    if (g == groups.end()) {
        groups.push_back(filter_group{std::move(f), {}});
        g = groups.end() - 1;
    }
    g->subscribers.push_back(s);
    return replaced;
}

bool registry::unsubscribe(subscriber_id s, std::string_view table) {
    if (!remove(s, table)) return false;
    auto it = by_sub_.find(s);
    auto& tables = it->second;
    tables.erase(std::find(tables.begin(), tables.end(), table));
    if (tables.empty()) by_sub_.erase(it);
    return true;
}

uint32_t registry::unsubscribe_all(subscriber_id s) {
    auto it = by_sub_.find(s);
    if (it == by_sub_.end()) return 0;
    uint32_t n = 0;
    for (const std::string& t : it->second) n += remove(s, t) ? 1 : 0;
    by_sub_.erase(it);
    return n;
}

std::span<const filter_group> registry::groups(std::string_view table) const {
    auto t = by_table_.find(table);
    if (t == by_table_.end()) return {};
    return t->second;
}

const filter_group* registry::find_group(std::string_view table, const sym_filter& f) const {
    for (const filter_group& g : groups(table)) {
        if (g.filter == f) return &g;  // compares key() first
    }
    return nullptr;
}

const sym_filter* registry::filter_of(subscriber_id s, std::string_view table) const {
    for (const filter_group& g : groups(table)) {
        if (std::find(g.subscribers.begin(), g.subscribers.end(), s) != g.subscribers.end()) {
            return &g.filter;
        }
    }
    return nullptr;
}

std::span<const std::string> registry::tables_of(subscriber_id s) const {
    auto it = by_sub_.find(s);
    if (it == by_sub_.end()) return {};
    return it->second;
}

void filter_directory::add(uint32_t shard, std::string_view table, const sym_filter& f) {
    auto& entries = by_table_[std::string(table)];
    auto e = std::find_if(entries.begin(), entries.end(),
                          [&f](const entry& x) { return x.filter == f; });
    if (e == entries.end()) {
        entries.push_back(entry{f, {}, 0});
        e = entries.end() - 1;
    }
    if (e->counts.size() <= shard) e->counts.resize(shard + 1, 0);
    ++e->counts[shard];
    if (shard < 64) e->shard_mask |= uint64_t{1} << shard;
}

bool filter_directory::remove(uint32_t shard, std::string_view table, const sym_filter& f) {
    auto t = by_table_.find(table);
    if (t == by_table_.end()) return false;
    auto& entries = t->second;
    auto e = std::find_if(entries.begin(), entries.end(),
                          [&f](const entry& x) { return x.filter == f; });
    if (e == entries.end() || e->counts.size() <= shard || e->counts[shard] == 0) return false;
    if (--e->counts[shard] == 0 && shard < 64) e->shard_mask &= ~(uint64_t{1} << shard);
    const bool unused = std::all_of(e->counts.begin(), e->counts.end(),
                                    [](uint32_t c) { return c == 0; });
    if (unused) swap_erase(entries, e);
    if (entries.empty()) by_table_.erase(t);
    return true;
}

std::span<const filter_directory::entry> filter_directory::filters(std::string_view table) const {
    auto t = by_table_.find(table);
    if (t == by_table_.end()) return {};
    return t->second;
}

}  // namespace qgate::pubsub
