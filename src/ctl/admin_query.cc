// DESIGN: answers one admin request. Decodes the body into an owning qipc::value (admin
// requests are tiny and rare, so the allocation is fine here, never on the data plane),
// recognises a call of .qgate.stats in either form q clients send (a string, or a general
// list whose first item is the function's symbol or name), and encodes the reply with the
// codec. Pure; runs on the admin thread.
#include "ctl/admin_query.h"

#include "qgate/qipc/display.h"
#include "qgate/qipc/value.h"
#include "qgate/qipc/writer.h"

namespace qgate::ctl {
namespace {

using qipc::value;
namespace qtype = qipc::qtype;

constexpr std::size_t kShownMax = 200;  // longest query text echoed back in an error

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n')) {
        s.remove_prefix(1);
    }
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' ||
                          s.back() == ';')) {
        s.remove_suffix(1);
    }
    return s;
}

std::string_view chars_of(const value& v) {
    return {reinterpret_cast<const char*>(v.raw.data()), v.raw.size()};
}

// ".qgate.stats[]", ".qgate.stats[::]", ".qgate.stats" (arguments are ignored).
bool is_stats_text(std::string_view text) {
    text = trim(text);
    if (text.substr(0, kStatsQuery.size()) != kStatsQuery) return false;
    std::string_view rest = trim(text.substr(kStatsQuery.size()));
    return rest.empty() || (rest.front() == '[' && rest.back() == ']');
}

bool is_stats_call(const value& v) {
    if (v.type == qtype::kChar) return is_stats_text(chars_of(v));
    if (v.type != qtype::kList || v.items.empty()) return false;
    const value& f = v.items.front();
    if (f.type == -qtype::kSymbol) return !f.syms.empty() && f.syms.front() == kStatsQuery;
    return f.type == qtype::kChar && chars_of(f) == kStatsQuery;
}

std::vector<uint8_t> error_reply(std::string_view text) {
    std::vector<uint8_t> out(qipc::error_message_size(text));
    qipc::write_error_message(text, qipc::msg_type::response, out);
    return out;
}

std::vector<uint8_t> stats_reply(const std::function<stat_list()>& stats) {
    const stat_list list = stats ? stats() : stat_list{};
    std::vector<std::string> names;
    std::vector<int64_t> counts;
    names.reserve(list.size());
    counts.reserve(list.size());
    for (const stat_sample& s : list) {
        names.push_back(s.flat_name());
        counts.push_back(static_cast<int64_t>(s.value));
    }
    const value dict = value::dict(value::symbols(std::move(names)), value::longs(counts));
    return qipc::encode_message(dict, qipc::msg_type::response);
}

}  // namespace

std::vector<uint8_t> admin_reply(std::span<const uint8_t> body, bool little_endian,
                                 const std::function<stat_list()>& stats) {
    value query;
    const qipc::status st = qipc::decode(body, little_endian, query);
    if (!st) {
        return error_reply(std::string("qgate: malformed admin query: ") +
                           qipc::errc_name(st.code));
    }
    if (is_stats_call(query)) return stats_reply(stats);
    std::string shown = query.type == qtype::kChar ? std::string(chars_of(query))
                                                   : qipc::show(query);
    if (shown.size() > kShownMax) shown = shown.substr(0, kShownMax) + "...";
    return error_reply("qgate: unknown admin query " + shown);
}

}  // namespace qgate::ctl
