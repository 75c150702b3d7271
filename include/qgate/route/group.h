// Backend groups, compiled once per config snapshot (control plane; allocation allowed), read
// by every shard without locks. A group lists its members' global backend ids in config order
// and owns the consistent-hash ring of its members.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "qgate/route/route_types.h"

namespace qgate::route {

/// One member as configured: its global id (index into the backend_state array) and name.
/// The ring hashes names, not ids, so renumbering backends on reload moves no keys.
struct member_spec {
    uint32_t id = 0;
    std::string name;
};

struct group_spec {
    std::string name;
    std::vector<member_spec> members;  ///< config order (first-available's failover order)
    /// A group a runtime source fills (registerResource, discovery): it may have no members
    /// yet, and every pick then answers kNoBackend.
    bool may_be_empty = false;
};

class backend_group {
  public:
    backend_group(std::string name, std::span<const member_spec> members,
                  uint32_t vnodes = kVirtualNodes);

    std::string_view name() const { return name_; }
    /// Global backend ids in config order.
    std::span<const uint32_t> members() const { return ids_; }
    /// Virtual-node count on the ring (members * vnodes).
    size_t ring_size() const { return ring_.size(); }
    /// The first live member clockwise from `hash` whose member_bit is clear in `skip`;
    /// kNoBackend when every member is down or skipped.
    int32_t ring_pick(uint64_t hash, std::span<const backend_state> state,
                      uint64_t skip = 0) const;

    /// Most members a ring can hold: a point keeps its member's position in 16 bits.
    static constexpr uint32_t kMembersMax = 0xffff;

  private:
    static constexpr uint64_t kPosMask = 0xffff;

    std::string name_;
    std::vector<uint32_t> ids_;
    /// Points, sorted: the top 48 bits are the point's place on the ring, the low 16 bits its
    /// member's position in ids_. 8 bytes a point (a struct of hash, id, pos took 16).
    std::vector<uint64_t> ring_;
};

/// All groups of a snapshot, found by name. Not copyable (its index holds views into itself).
class group_set {
  public:
    group_set() = default;
    group_set(const group_set&) = delete;
    group_set& operator=(const group_set&) = delete;
    group_set(group_set&&) = default;
    group_set& operator=(group_set&&) = default;
    ~group_set() = default;

    /// Builds every group; false (with a message) on a duplicate or empty name, an empty group,
    /// a group of more than kMembersMax members, or more than 65535 groups.
    static bool build(std::span<const group_spec> specs, group_set& out, std::string& error,
                      uint32_t vnodes = kVirtualNodes);

    /// Group id by name; -1 when unknown. No allocation.
    int32_t find(std::string_view name) const;
    const backend_group& operator[](uint32_t id) const { return groups_[id]; }
    uint32_t size() const { return static_cast<uint32_t>(groups_.size()); }

  private:
    std::vector<backend_group> groups_;
    std::unordered_map<std::string_view, uint16_t> index_;  ///< views into groups_[i].name_
};

}  // namespace qgate::route
