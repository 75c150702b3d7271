// DESIGN: answers one admin request. Decodes the body into an owning qipc::value (admin
// requests are tiny and rare, so the allocation is fine here, never on the data plane),
// parses it once into a call (name, arguments) in either form q clients send (a string, or a
// general list whose first item is the function's symbol or name), looks the name up in the
// table of admin functions and encodes that function's reply with the codec. A name not in
// the table, or a query that is no call, gets the same "unknown admin query" error. Pure; runs
// on the admin thread.
#include "ctl/admin_query.h"

#include <string>

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

// The stats dictionary: each sample's flat name ! its value.
value stats_fn(const admin_args&, const admin_context& ctx) {
    const stat_list list = ctx.stats ? ctx.stats() : stat_list{};
    std::vector<std::string> names;
    std::vector<int64_t> counts;
    names.reserve(list.size());
    counts.reserve(list.size());
    for (const stat_sample& s : list) {
        names.push_back(s.flat_name());
        counts.push_back(static_cast<int64_t>(s.value));
    }
    return value::dict(value::symbols(std::move(names)), value::longs(counts));
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

constexpr admin_function kAdminFunctions[] = {
    {kStatsQuery, stats_fn},
    {".qgate.reload", reload_fn},
    {".qgate.config", config_fn},
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
    value query;
    const qipc::status st = qipc::decode(body, little_endian, query);
    if (!st) {
        return error_reply(std::string("qgate: malformed admin query: ") +
                           qipc::errc_name(st.code));
    }
    const std::optional<admin_call> call = parse_admin_call(query);
    const admin_function* fn = call ? find_admin_function(call->name) : nullptr;
    if (fn != nullptr) {
        const admin_context ctx{stats, control};
        return qipc::encode_message(fn->handler(call->args, ctx), qipc::msg_type::response);
    }
    std::string shown = query.type == qtype::kChar ? std::string(chars_of(query))
                                                   : qipc::show(query);
    if (shown.size() > kShownMax) shown = shown.substr(0, kShownMax) + "...";
    return error_reply("qgate: unknown admin query " + shown);
}

}  // namespace qgate::ctl
