// Entitlements ([[acl]], issue 18): which user may use which listener, backend group, function
// and message kind. compile_acl runs on the control plane (start-up, reload) into the routing
// generation; the checks run on the shards per login and per call: they never allocate (glob
// matching over the compiled rules, a user's rules cached as a bitmask).
//
// Semantics: no [[acl]] at all = everything allowed (as before). Once a rule exists the table is
// an allow list: a call is allowed when, for every backend group it targets, some rule for its
// user allows the listener, the message kind, the function and that group together. A user no
// rule names is denied everything.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "qgate/config.h"
#include "qgate/route/classify.h"

namespace qgate::route {

/// Kind bits: what a call is. A raw string query is sync or async, and also `string`.
inline constexpr uint8_t kAclSync = 1;
inline constexpr uint8_t kAclAsync = 2;
inline constexpr uint8_t kAclString = 4;
/// A user's rules are a 64-bit mask: at most this many [[acl]] rules.
inline constexpr std::size_t kAclRulesMax = 64;
/// Explicit listener indices must be below this (a 64-bit mask per rule).
inline constexpr std::size_t kAclListenersMax = 64;

/// "sync" / "async" / "string" → its bit; 0 when unknown.
uint8_t acl_kind_bit(std::string_view name);

/// What a call is, for the rules: its kind bits and the function it runs. A `.gw.*` call is
/// judged by the query inside it (a query given as a string is a string query).
struct acl_call {
    uint8_t kinds = 0;
    std::string_view function;
};
/// Describes `call` (sync or async as `sync` says); views point into the call's body.
acl_call acl_describe(const call_info& call, bool sync);

struct acl_rule {
    std::vector<std::string> users;      ///< names and globs, [[user_group]] members inlined
    uint64_t listeners = ~uint64_t{0};   ///< bit per listener index; all set = any
    std::vector<std::string> groups;     ///< exact or glob; empty = any
    std::vector<std::string> functions;  ///< exact or glob
    uint8_t kinds = kAclSync | kAclAsync | kAclString;
};

class acl_table {
  public:
    /// Compiles cfg.acls (validated already); false with `error` on what validation missed.
    bool compile(const config& cfg, std::string& error);
    /// False when no [[acl]] exists: every check passes.
    bool enabled() const { return !rules_.empty(); }
    std::size_t size() const { return rules_.size(); }

    /// The rules naming `user` (bit i = rule i). Cache it: it is a glob per pattern.
    uint64_t rules_for(std::string_view user) const;
    /// May the user (its rules mask) log in on `listener`? (any rule allows it)
    bool listener_ok(uint64_t rules, uint32_t listener) const;
    /// Session mode: may the user reach `group` through `listener`?
    bool group_ok(uint64_t rules, uint32_t listener, std::string_view group) const;
    /// Request mode: may the user send a call of `kinds` (bits) to `function` in `group`?
    /// An empty group means the call targets no known group: any rule's groups pass.
    bool call_ok(uint64_t rules, uint32_t listener, uint8_t kinds, std::string_view function,
                 std::string_view group) const;

  private:
    std::vector<acl_rule> rules_;
};

}  // namespace qgate::route
