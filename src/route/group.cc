// Backend groups and their consistent-hash rings (control plane builds, data plane reads).
//
// Ring: each member contributes `vnodes` points at XXH3(XXH3(name), i), i < vnodes, sorted. A
// key is owned by the first point at or after XXH3_64bits(key), wrapping. Hashing names (not
// ids or config positions) makes the ring a pure function of the member names: rebuilding on
// reload, or reordering the config, moves no key; adding or removing one member moves only the
// arcs that member gains or loses (~1/N of keys). A down member is skipped by walking
// clockwise, so its keys spread over the survivors and return exactly when it comes back,
// while keys of live members never move. A skipped member (session mode: one this session
// already failed on) is passed over the same way.
//
// Balance: a member's share is the sum of its points' arcs, off 1/N by ~1/sqrt(vnodes) of
// itself, hence the 4096 points (route_types.h kVirtualNodes). Points keep 48 bits of place:
// two points within 2^-48 of the ring apart order by member position, which no key can see.

#include <algorithm>
#include <utility>

#include <xxhash.h>

#include "qgate/route/group.h"

namespace qgate::route {

namespace {

/// Point `v` of the member whose name hashes to `name_hash`: XXH3 of the two as 16
/// little-endian bytes. (Seeding XXH3(name) with v, as before, is weak for names of 1-3
/// bytes: XXH3 only XORs the seed into such a short input before one avalanche, so "b10",
/// "b11" and "b12", a bit apart, got nearly the same points and shared one member's arcs.)
uint64_t point_hash(uint64_t name_hash, uint32_t v) {
    uint8_t in[16];
    for (int i = 0; i < 8; ++i) {
        in[i] = static_cast<uint8_t>(name_hash >> (8 * i));
        in[8 + i] = static_cast<uint8_t>(uint64_t{v} >> (8 * i));
    }
    return XXH3_64bits(in, sizeof in);
}

}  // namespace

backend_group::backend_group(std::string name, std::span<const member_spec> members,
                             uint32_t vnodes)
    : name_(std::move(name)) {
    ids_.reserve(members.size());
    ring_.reserve(members.size() * vnodes);
    for (const member_spec& m : members) {
        const auto pos = static_cast<uint64_t>(ids_.size());
        ids_.push_back(m.id);
        const uint64_t name_hash = XXH3_64bits(m.name.data(), m.name.size());
        for (uint32_t v = 0; v < vnodes; ++v) {
            ring_.push_back((point_hash(name_hash, v) & ~kPosMask) | (pos & kPosMask));
        }
    }
    std::sort(ring_.begin(), ring_.end());
}

int32_t backend_group::ring_pick(uint64_t hash, std::span<const backend_state> state,
                                 uint64_t skip) const {
    auto eligible = [&state, skip](uint32_t id, uint32_t pos) {
        return (skip & member_bit(pos)) == 0 && id < state.size() && state[id].is_open();
    };
    // Check for an eligible member first so the walk below ends within one lap in practice.
    bool any = false;
    for (uint32_t pos = 0; pos < ids_.size() && !any; ++pos) any = eligible(ids_[pos], pos);
    if (!any) return kNoBackend;
    const size_t n = ring_.size();
    // The first point whose place (top 48 bits) is at or after the key's.
    size_t i = std::lower_bound(ring_.begin(), ring_.end(), hash & ~kPosMask) - ring_.begin();
    for (size_t step = 0; step < n; ++step, ++i) {
        if (i == n) i = 0;
        const auto pos = static_cast<uint32_t>(ring_[i] & kPosMask);
        if (eligible(ids_[pos], pos)) return static_cast<int32_t>(ids_[pos]);
    }
    return kNoBackend;  // every member went down while we walked
}

bool group_set::build(std::span<const group_spec> specs, group_set& out, std::string& error,
                      uint32_t vnodes) {
    group_set g;
    if (specs.size() > 0xffff) {
        error = "too many groups (65535 at most)";
        return false;
    }
    g.groups_.reserve(specs.size());
    for (const group_spec& s : specs) {
        if (s.name.empty()) {
            error = "group with an empty name";
            return false;
        }
        if (s.members.empty() && !s.may_be_empty) {
            error = "group '" + s.name + "' has no backends";
            return false;
        }
        if (s.members.size() > backend_group::kMembersMax) {
            error = "group '" + s.name + "' has more than 65535 backends";
            return false;
        }
        g.groups_.emplace_back(s.name, s.members, vnodes);
    }
    // Index only after groups_ stops growing: the keys view the groups' own names.
    for (uint32_t i = 0; i < g.groups_.size(); ++i) {
        if (!g.index_.emplace(g.groups_[i].name(), static_cast<uint16_t>(i)).second) {
            error = "duplicate group '" + std::string(g.groups_[i].name()) + "'";
            return false;
        }
    }
    out = std::move(g);
    return true;
}

int32_t group_set::find(std::string_view name) const {
    const auto it = index_.find(name);
    return it == index_.end() ? -1 : it->second;
}

}  // namespace qgate::route
