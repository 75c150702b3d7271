// The route table (DESIGN §5.2): ordered rules, first match wins. Compiled once per config
// snapshot (control plane), matched per request without allocation. A rule matches on the
// function name (exact or glob), the user (exact or glob) and the message type, and sends the
// call to one group or fans it out over several with a join.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "qgate/qipc/types.h"
#include "qgate/route/group.h"
#include "qgate/route/route_types.h"

namespace qgate::route {

/// One `[[route]]` as configured.
struct route_spec {
    std::vector<std::string> match{"*"};  ///< function-name patterns; empty means "*"
    std::vector<std::string> users;       ///< user patterns; empty means any user
    type_match type = type_match::any;
    std::vector<std::string> groups;  ///< one group, or several for a fan-out
    std::string join;                 ///< fan-out join; defaults to "raze" with several groups
    policy pol = policy::least_busy;
    uint32_t hash_arg = 1;    ///< consistent_hash: 1-based argument to hash
    uint32_t timeout_ms = 0;  ///< 0: none
    uint32_t queue_max = 0;   ///< 0: the engine's default bound
    int32_t priority = 0;     ///< higher is served first when a group's queue is ordered
};

/// A compiled rule: what the engine needs once it matched. Views live as long as the table.
struct route_rule {
    uint32_t index = 0;                ///< position in the config (logs, counters)
    std::span<const uint16_t> groups;  ///< target group ids in the group_set
    std::string_view join;             ///< empty unless fan-out
    policy pol = policy::least_busy;
    uint32_t hash_arg = 1;
    uint32_t timeout_ms = 0;
    uint32_t queue_max = 0;
    int32_t priority = 0;

    /// Several groups, or one with an explicit join: send to each, join the replies.
    bool fan_out() const { return !join.empty(); }
};

class route_table {
  public:
    route_table() = default;
    route_table(const route_table&) = delete;
    route_table& operator=(const route_table&) = delete;
    route_table(route_table&&) = default;
    route_table& operator=(route_table&&) = default;
    ~route_table() = default;

    /// Compiles `specs` against `groups`; false (with a message naming the rule) on an unknown
    /// or missing group, an empty pattern, hash_arg 0 with consistent_hash, or > 65535 rules.
    static bool compile(std::span<const route_spec> specs, const group_set& groups,
                        route_table& out, std::string& error);

    /// The first rule matching; nullptr means no route (`'qgate: no route for F`).
    const route_rule* match(std::string_view name, std::string_view user,
                            qipc::msg_type type) const;

    uint32_t size() const { return static_cast<uint32_t>(rules_.size()); }
    const route_rule& operator[](uint32_t i) const { return rules_[i].rule; }

  private:
    struct compiled {
        route_rule rule;
        std::vector<std::string> globs;  ///< name patterns with wildcards (exact ones: index_)
        std::vector<std::string> users;
        std::string join;
        type_match type = type_match::any;
        uint32_t group_begin = 0;  ///< into group_ids_
        uint32_t group_count = 0;
    };
    /// Candidates: rule ids in order; kExactHit marks a rule whose exact name list holds the
    /// looked-up name, so only its user and type remain to be checked.
    static constexpr uint32_t kExactHit = 0x8000'0000u;
    struct span32 {
        uint32_t begin = 0;
        uint32_t end = 0;
    };

    bool add_rule(size_t i, const route_spec& s, const group_set& groups,
                  std::vector<std::string>& exact, std::string& error);
    static bool accepts(const compiled& c, bool exact_hit, std::string_view name,
                        std::string_view user, qipc::msg_type type);
    void build_index(const std::vector<std::vector<std::string>>& exact);

    std::vector<compiled> rules_;
    std::vector<uint16_t> group_ids_;
    std::vector<std::string> names_;  ///< exact names, owning the index keys
    std::vector<uint32_t> candidates_;
    std::unordered_map<std::string_view, span32> index_;
    span32 glob_only_;  ///< candidates for a name no rule lists exactly
};

/// "qgate: no route for <name>" written into `out` (cut to fit); returns the text.
std::string_view no_route_text(std::string_view name, std::span<char> out);

}  // namespace qgate::route
