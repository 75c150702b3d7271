// DESIGN: answers one admin request. Decodes the body into an owning qipc::value (admin
// requests are tiny and rare, so the allocation is fine here, never on the data plane),
// parses it once into a call (name, arguments) in either form q clients send (a string, or a
// general list whose first item is the function's symbol or name), looks the name up in the
// table of admin functions and encodes that function's reply with the codec. A name not in
// the table, or a query that is no call, gets the same "unknown admin query" error. Runs on the
// admin thread; what the functions read comes from the admin_model (qgate/admin_api.h), which
// may wait a bounded time for the shards, and goes into q tables by admin_tables.cc.
#include "ctl/admin_query.h"

#include <cstring>
#include <string>

#include "ctl/admin_fleet.h"
#include "ctl/admin_tables.h"
#include "qgate/qipc/display.h"
#include "qgate/qipc/writer.h"

namespace qgate::ctl {
namespace {

using qipc::value;
namespace qtype = qipc::qtype;

constexpr std::size_t kShownMax = 200;  // longest query text echoed back in an error

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\n'; }

std::string_view trim(std::string_view s) {
    while (!s.empty() && is_blank(s.front())) s.remove_prefix(1);
    while (!s.empty() && (is_blank(s.back()) || s.back() == ';')) s.remove_suffix(1);
    return s;
}

std::string_view chars_of(const value& v) {
    return {reinterpret_cast<const char*>(v.raw.data()), v.raw.size()};
}

// "name", "name[args]" (blanks between them allowed).
std::optional<admin_call> parse_text_call(std::string_view text) {
    text = trim(text);
    std::size_t end = 0;
    while (end < text.size() && text[end] != '[' && !is_blank(text[end])) ++end;
    admin_call call{text.substr(0, end), {}};
    const std::string_view rest = trim(text.substr(end));
    if (rest.empty()) return call;
    if (rest.front() != '[' || rest.back() != ']' || rest.size() < 2) return std::nullopt;
    call.args.text = rest.substr(1, rest.size() - 2);
    return call;
}

// The one argument as a name: a symbol or a string in the list form; `name, "name" or name in
// the text form.
std::optional<std::string> name_arg(const admin_args& a) {
    if (a.items.size() == 1) {
        const value& v = a.items.front();
        if (v.type == -qtype::kSymbol && !v.syms.empty()) return v.syms.front();
        if (v.type == qtype::kChar) return std::string(chars_of(v));
        return std::nullopt;
    }
    std::string_view t = trim(a.text);
    if (!t.empty() && t.front() == '`') t.remove_prefix(1);
    if (t.size() >= 2 && t.front() == '"' && t.back() == '"') t = t.substr(1, t.size() - 2);
    if (t.empty() || t.find_first_of(" ;[]`\"") != std::string_view::npos) return std::nullopt;
    return std::string(t);
}

// The one argument as a client id: a long (or int, or whole float) atom in the list form,
// digits (with an optional j) in the text form.
std::optional<int64_t> id_arg(const admin_args& a) {
    if (a.items.size() == 1) {
        const value& v = a.items.front();
        if (v.type == -qtype::kLong && v.raw.size() == 8) {
            int64_t x = 0;
            std::memcpy(&x, v.raw.data(), 8);
            return x;
        }
        if (v.type == -qtype::kInt && v.raw.size() == 4) {
            int32_t x = 0;
            std::memcpy(&x, v.raw.data(), 4);
            return x;
        }
        // node-q sends a JavaScript number as a float: a whole one is an id too.
        if (v.type == -qtype::kFloat && v.raw.size() == 8) {
            double x = 0;
            std::memcpy(&x, v.raw.data(), 8);
            constexpr double kIdMax = 9.0e15;  // whole doubles: exact below 2^53
            if (x >= 0 && x <= kIdMax && x == static_cast<double>(static_cast<int64_t>(x))) {
                return static_cast<int64_t>(x);
            }
        }
        return std::nullopt;
    }
    std::string_view t = trim(a.text);
    if (!t.empty() && t.back() == 'j') t.remove_suffix(1);
    if (t.empty() || t.size() > 18) return std::nullopt;
    int64_t x = 0;
    for (const char c : t) {
        if (c < '0' || c > '9') return std::nullopt;
        x = x * 10 + (c - '0');
    }
    return x;
}

// A table from the model's rows, or the model's error.
template <typename Row, typename Read, typename Build>
value table_of(Read read, Build build) {
    std::vector<Row> rows;
    std::string error;
    if (!read(rows, error)) return value::error(std::move(error));
    return build(std::span<const Row>(rows));
}

value stats_fn(const admin_args&, const admin_context& ctx) {
    return stats_table(ctx.model.stats());
}

value backends_fn(const admin_args&, const admin_context& ctx) {
    return table_of<backend_row>(
        [&](auto& rows, auto& e) { return ctx.model.backends(rows, e); }, backends_table);
}

value clients_fn(const admin_args&, const admin_context& ctx) {
    return table_of<client_row>(
        [&](auto& rows, auto& e) { return ctx.model.clients(rows, e); }, clients_table);
}

value routes_fn(const admin_args&, const admin_context& ctx) {
    return table_of<route_row>(
        [&](auto& rows, auto& e) { return ctx.model.routes(rows, e); }, routes_table);
}

value listeners_fn(const admin_args&, const admin_context& ctx) {
    return table_of<listener_row>(
        [&](auto& rows, auto& e) { return ctx.model.listeners(rows, e); }, listeners_table);
}

value users_fn(const admin_args&, const admin_context& ctx) {
    return table_of<user_row>([&](auto& rows, auto& e) { return ctx.model.users(rows, e); },
                              users_table);
}

value set_drain(const admin_args& a, const admin_context& ctx, bool drain) {
    const std::optional<std::string> name = name_arg(a);
    if (!name) {
        const std::string_view fn = drain ? kDrainQuery : kEnableQuery;
        return value::error("qgate: " + std::string(fn) + " takes a backend name, e.g. [`rdb1]");
    }
    backend_row row;
    std::string error;
    if (!ctx.model.set_drain(*name, drain, row, error)) return value::error(std::move(error));
    if (ctx.control != nullptr && ctx.control->fleet_drain &&
        !ctx.control->fleet_drain(*name, drain, error)) {
        return value::error("qgate: " + std::string(drain ? "drained" : "enabled") +
                            " on this instance only: " + error);
    }
    return backend_dict(row);
}

value drain_fn(const admin_args& a, const admin_context& ctx) { return set_drain(a, ctx, true); }
value enable_fn(const admin_args& a, const admin_context& ctx) { return set_drain(a, ctx, false); }

value kick_fn(const admin_args& a, const admin_context& ctx) {
    const std::optional<int64_t> id = id_arg(a);
    if (!id) return value::error("qgate: .qgate.kick takes a client id (a long), e.g. [65]");
    client_row row;
    std::string error;
    if (!ctx.model.kick(*id, row, error)) return value::error(std::move(error));
    return client_dict(row);
}

// Hot reload (src/proxy/reloader.h): `generation`changes`restart!(n; strings; symbols), or
// the q error naming file:line.
value reload_fn(const admin_args&, const admin_context& ctx) {
    if (ctx.control == nullptr || !ctx.control->reload) return value::error("qgate: no reload");
    const reload_reply r = ctx.control->reload();
    if (!r.ok) return value::error("qgate: reload refused: " + r.error);
    std::vector<value> changes;
    for (const std::string& c : r.changes) changes.push_back(value::string(c));
    return value::dict(value::symbols({"generation", "changes", "restart"}),
                       value::list({value::long_(static_cast<int64_t>(r.generation)),
                                    value::list(std::move(changes)), value::symbols(r.restart)}));
}

// The running configuration as TOML text (a q string).
value config_fn(const admin_args&, const admin_context& ctx) {
    if (ctx.control == nullptr || !ctx.control->config_text) {
        return value::error("qgate: no config");
    }
    return value::string(ctx.control->config_text());
}

// To serve a new function, add a row.
constexpr admin_function kAdminFunctions[] = {
    {kStatsQuery, stats_fn},         {kBackendsQuery, backends_fn},
    {kClientsQuery, clients_fn},     {kRoutesQuery, routes_fn},
    {kListenersQuery, listeners_fn}, {kDrainQuery, drain_fn},
    {kEnableQuery, enable_fn},       {kKickQuery, kick_fn},
    {kReloadQuery, reload_fn},       {kConfigQuery, config_fn},
    {kUsersQuery, users_fn},
    {kFleetQuery, fleet_fn},         {kFleetAddQuery, fleet_add_fn},
    {kFleetRemoveQuery, fleet_remove_fn},
};

// The error text echoes the query, which may hold a NUL: write_error_message cuts the text
// there, so the message can be shorter than error_message_size's bound. Keep only what it wrote.
std::vector<uint8_t> error_reply(std::string_view text) {
    std::vector<uint8_t> out(qipc::error_message_size(text));
    out.resize(qipc::write_error_message(text, qipc::msg_type::response, out));
    return out;
}

}  // namespace

std::span<const admin_function> admin_functions() { return kAdminFunctions; }

const admin_function* find_admin_function(std::string_view name) {
    for (const admin_function& f : kAdminFunctions) {
        if (f.name == name) return &f;
    }
    return nullptr;
}

std::optional<admin_call> parse_admin_call(const value& query) {
    if (query.type == qtype::kChar) return parse_text_call(chars_of(query));
    if (query.type != qtype::kList || query.items.empty()) return std::nullopt;
    const value& f = query.items.front();
    admin_call call;
    if (f.type == -qtype::kSymbol && !f.syms.empty()) {
        call.name = f.syms.front();
    } else if (f.type == qtype::kChar) {
        call.name = chars_of(f);
    } else {
        return std::nullopt;
    }
    call.args.items = std::span<const value>(query.items).subspan(1);
    return call;
}

std::vector<uint8_t> admin_reply(std::span<const uint8_t> body, bool little_endian,
                                 const std::function<stat_list()>& stats,
                                 const admin_control* control) {
    stats_only_model model(stats);
    return admin_reply(body, little_endian, model, control);
}

std::vector<uint8_t> admin_reply(std::span<const uint8_t> body, bool little_endian,
                                 admin_model& model, const admin_control* control) {
    value query;
    const qipc::status st = qipc::decode(body, little_endian, query);
    if (!st) {
        return error_reply(std::string("qgate: malformed admin query: ") +
                           qipc::errc_name(st.code));
    }
    const std::optional<admin_call> call = parse_admin_call(query);
    const admin_function* fn = call ? find_admin_function(call->name) : nullptr;
    if (fn != nullptr) {
        const admin_context ctx{model, control};
        return qipc::encode_message(fn->handler(call->args, ctx), qipc::msg_type::response);
    }
    std::string shown = query.type == qtype::kChar ? std::string(chars_of(query))
                                                   : qipc::show(query);
    if (shown.size() > kShownMax) shown = shown.substr(0, kShownMax) + "...";
    return error_reply("qgate: unknown admin query " + shown);
}

}  // namespace qgate::ctl
