// The admin endpoint's query language: which q messages it understands and what it answers.
// Separate from the socket loop (admin.cc) so it can be tested on bytes alone.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "qgate/admin.h"
#include "qgate/admin_api.h"
#include "qgate/qipc/value.h"

namespace qgate::ctl {

/// The name admin clients call: h".qgate.stats[]" or h(`.qgate.stats;::).
inline constexpr std::string_view kStatsQuery = ".qgate.stats";
/// The other functions (README "The admin API"); kAdminFunctions in admin_query.cc lists them.
inline constexpr std::string_view kBackendsQuery = ".qgate.backends";
inline constexpr std::string_view kClientsQuery = ".qgate.clients";
inline constexpr std::string_view kRoutesQuery = ".qgate.routes";
inline constexpr std::string_view kListenersQuery = ".qgate.listeners";
inline constexpr std::string_view kUsersQuery = ".qgate.users";
inline constexpr std::string_view kDrainQuery = ".qgate.drain";
inline constexpr std::string_view kEnableQuery = ".qgate.enable";
inline constexpr std::string_view kKickQuery = ".qgate.kick";
inline constexpr std::string_view kReloadQuery = ".qgate.reload";
inline constexpr std::string_view kConfigQuery = ".qgate.config";
inline constexpr std::string_view kFleetQuery = ".qgate.fleet";
inline constexpr std::string_view kFleetAddQuery = ".qgate.fleet.add";
inline constexpr std::string_view kFleetRemoveQuery = ".qgate.fleet.remove";

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

/// What a handler may read and act on.
struct admin_context {
    admin_model& model;
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
/// request: the reply of the function the query calls (a table, a row, or the function's q
/// error), else the q error "qgate: unknown admin query <text>" (or "qgate: malformed admin
/// query: <why>").
std::vector<uint8_t> admin_reply(std::span<const uint8_t> body, bool little_endian,
                                 admin_model& model, const admin_control* control = nullptr);
/// The same for a model that knows only the stats (the tests, and admin_server's stats-only
/// start): every other function answers "qgate: <name> is not available here".
std::vector<uint8_t> admin_reply(std::span<const uint8_t> body, bool little_endian,
                                 const std::function<stat_list()>& stats,
                                 const admin_control* control = nullptr);

/// An admin_model that serves .qgate.stats[] from a callback and nothing else.
class stats_only_model final : public admin_model {
  public:
    explicit stats_only_model(std::function<stat_list()> stats) : stats_(std::move(stats)) {}
    stat_list stats() override { return stats_ ? stats_() : stat_list{}; }
    bool backends(std::vector<backend_row>&, std::string& e) override { return none(e); }
    bool clients(std::vector<client_row>&, std::string& e) override { return none(e); }
    bool routes(std::vector<route_row>&, std::string& e) override { return none(e); }
    bool listeners(std::vector<listener_row>&, std::string& e) override { return none(e); }
    bool set_drain(std::string_view, bool, backend_row&, std::string& e) override {
        return none(e);
    }
    bool kick(int64_t, client_row&, std::string& e) override { return none(e); }

  private:
    static bool none(std::string& e) {
        e = "qgate: not available without a gateway";
        return false;
    }
    std::function<stat_list()> stats_;
};

}  // namespace qgate::ctl
