// The admin endpoint's query language: which q messages it understands and what it answers.
// Separate from the socket loop (admin.cc) so it can be tested on bytes alone.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "qgate/admin.h"
#include "qgate/qipc/value.h"

namespace qgate::ctl {

/// The name admin clients call: h".qgate.stats[]" or h(`.qgate.stats;::).
inline constexpr std::string_view kStatsQuery = ".qgate.stats";

/// An admin call's arguments as sent: the items after the name in the general-list form, or
/// the text between the brackets in the string form (qgate does not evaluate q text).
struct admin_args {
    std::span<const qipc::value> items;
    std::string_view text;
};

/// One call parsed from a query. Views into the decoded query: valid while it lives.
struct admin_call {
    std::string_view name;
    admin_args args;
};

/// What a handler may read.
struct admin_context {
    const std::function<stat_list()>& stats;
    const admin_control* control = nullptr;  ///< reload actions; nullptr = none
};

/// Answers one call with the reply value (encoded as the response message).
using admin_handler = qipc::value (*)(const admin_args& args, const admin_context& ctx);

struct admin_function {
    std::string_view name;
    admin_handler handler;
};

/// Every function the admin port serves, by name.
std::span<const admin_function> admin_functions();
/// The function called `name`, or nullptr.
const admin_function* find_admin_function(std::string_view name);

/// Parses a query once into (name, args). A string is `name`, `name[args]` (blanks around it
/// and trailing ';' ignored); a general list is (name; args...) with the name a symbol or a
/// string. Anything else (an atom, an empty list, text after the name that is not one
/// bracketed argument list) is no call: nullopt.
std::optional<admin_call> parse_admin_call(const qipc::value& query);

/// The complete response message (header included, message type 2) to the body of one sync
/// request: the reply of the function the query calls (.qgate.stats: the stats dictionary,
/// symbol vector ! long vector), else the q error "qgate: unknown admin query <text>" (or
/// "qgate: malformed admin query: <why>").
std::vector<uint8_t> admin_reply(std::span<const uint8_t> body, bool little_endian,
                                 const std::function<stat_list()>& stats,
                                 const admin_control* control = nullptr);

}  // namespace qgate::ctl
