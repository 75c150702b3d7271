// .u.sub parsing (sub_call.h). Design note: a subscription arrives rarely, but its parser runs
// on the client's shard on bytes from an untrusted peer, so it follows the data-plane rules:
// one validating walk of the body, no allocation, no exceptions, every view into the body.
// The text forms are read by a deliberately small grammar (the forms clients really send);
// anything else is bad_text, never a guess. Any thread; no state.

#include "qgate/pubsub/sub_call.h"

#include <algorithm>
#include <cstring>

#include "pubsub/text.h"
#include "qgate/qipc/frame.h"

namespace qgate::pubsub {
namespace {

using qipc::object_view;
namespace qt = qipc::qtype;

constexpr std::string_view kSub = ".u.sub";

status fail(errc e, uint64_t offset = 0) { return status{e, qipc::errc::ok, offset}; }

/// The function name of a list call: a symbol atom or a char vector.
std::string_view callee(const object_view& v) {
    if (v.type == -qt::kSymbol) return qipc::symbol_text(v);
    if (v.type == qt::kChar) return qipc::char_text(v);
    return {};
}

/// Every item a name: a symbol atom, or a string as in the one-name form ("trade"), so
/// node-q's k(".u.sub", ["trade","quote"], "") names two tables, not a 'type.
bool all_names(const qipc::walker& w, const object_view& list) {
    qipc::child_cursor cur(w, list);
    object_view item;
    while (cur.next(item)) {
        if (item.type != -qt::kSymbol && item.type != qt::kChar) return false;
    }
    return cur.error().ok();
}

/// Classifies a binary argument; `all` is set for ` and "" (every table / sym).
bool binary_names(const qipc::walker& w, const object_view& v, name_args& out, bool& all) {
    out.object = v;
    out.little_endian = w.little_endian();
    all = false;
    if (v.type == -qt::kSymbol) {
        out.k = name_args::kind::sym_atom;
        all = qipc::symbol_text(v).empty();
    } else if (v.type == qt::kSymbol) {
        out.k = name_args::kind::sym_vector;
    } else if (v.type == qt::kChar) {
        out.k = name_args::kind::chars;
        out.text = qipc::char_text(v);
        all = out.text.empty();
    } else if (v.type == qt::kList && all_names(w, v)) {
        out.k = name_args::kind::sym_list;
    } else {
        return false;
    }
    return true;
}

/// Classifies a text argument such as "`trade" or "`AAPL`MSFT".
bool text_names(std::string_view t, name_args& out, bool& all) {
    t = text::trim(t);
    uint32_t n = 0;
    if (!valid_name_text(t, n)) return false;
    out.k = name_args::kind::text;
    out.text = t;
    all = t == "`";
    return true;
}

status parse_list(const qipc::walker& w, const object_view& top, sub_request& out) {
    qipc::child_cursor cur(w, top);
    object_view f, t, s;
    cur.next(f);
    if (callee(f) != kSub) return fail(errc::wrong_function, f.offset);
    if (top.count != 3) return fail(errc::rank, top.offset);
    cur.next(t);
    cur.next(s);
    if (!binary_names(w, t, out.tables, out.all_tables)) return fail(errc::bad_table_arg, t.offset);
    if (!binary_names(w, s, out.syms, out.all_syms)) return fail(errc::bad_sym_arg, s.offset);
    out.form = sub_form::list;
    return {};
}

/// ".u.sub[t;s]" (after trimming) into its two argument texts.
status split_sub_text(std::string_view t, uint64_t base, std::string_view& a,
                      std::string_view& b) {
    if (t.substr(0, kSub.size()) != kSub) return fail(errc::wrong_function, base);
    std::string_view rest = text::trim(t.substr(kSub.size()));
    if (rest.size() < 2 || rest.front() != '[' || text::match_close(rest, 0) != rest.size() - 1) {
        return fail(errc::bad_text, base);
    }
    const std::string_view args = rest.substr(1, rest.size() - 2);
    if (text::count_parts(args) != 2) return fail(errc::rank, base);
    text::nth_part(args, 1, a);
    text::nth_part(args, 2, b);
    return {};
}

/// r.q's "(.u.sub[`;`];`.u `i`L)": true (and `call` = the .u.sub part) when `t` has that shape.
bool rdb_form(std::string_view t, std::string_view& call) {
    if (t.size() < 2 || t.front() != '(' || text::match_close(t, 0) != t.size() - 1) return false;
    const std::string_view inner = t.substr(1, t.size() - 2);
    std::string_view tail;
    if (text::count_parts(inner) != 2 || !text::nth_part(inner, 2, tail)) return false;
    char squeezed[16];
    size_t n = 0;
    for (char c : tail) {
        if (text::is_blank(c)) continue;
        if (n == sizeof squeezed) return false;
        squeezed[n++] = c;
    }
    if (std::string_view(squeezed, n) != "`.u`i`L") return false;
    return text::nth_part(inner, 1, call);
}

status parse_text(const object_view& top, sub_request& out) {
    std::string_view t = text::trim(qipc::char_text(top));
    out.form = sub_form::string;
    if (rdb_form(t, t)) {
        out.form = sub_form::rdb_string;
        out.with_log_info = true;
    }
    std::string_view a, b;
    status st = split_sub_text(t, top.offset, a, b);
    if (!st) return st;
    if (!text_names(a, out.tables, out.all_tables)) return fail(errc::bad_table_arg, top.offset);
    if (!text_names(b, out.syms, out.all_syms)) return fail(errc::bad_sym_arg, top.offset);
    return {};
}

}  // namespace

bool is_sub_call(std::span<const uint8_t> body, bool little_endian) {
    // Reads only the head and the first item, so dispatch costs O(1) on a large request.
    constexpr uint64_t kHead = 6;
    if (body.size() < kHead) return false;
    const auto type = static_cast<int8_t>(body[0]);
    if (type == qt::kChar) {
        const uint64_t n = qipc::load_u32(body.data() + 2, little_endian);
        std::string_view t(reinterpret_cast<const char*>(body.data()) + kHead,
                           std::min<uint64_t>(n, body.size() - kHead));
        t = text::trim(t);
        if (!t.empty() && t.front() == '(') t = text::trim(t.substr(1));
        return t.substr(0, kSub.size()) == kSub;
    }
    if (type != qt::kList || qipc::load_u32(body.data() + 2, little_endian) == 0) return false;
    const qipc::walker w(body, little_endian);
    object_view f;
    return w.at(kHead, f).ok() && callee(f) == kSub;
}

status parse_sub(std::span<const uint8_t> body, bool little_endian, qipc::msg_type type,
                 sub_request& out) {
    out = sub_request{};
    out.type = type;
    const qipc::walker w(body, little_endian);
    object_view top;
    const qipc::status qs = w.validate(&top);
    if (!qs) return status{errc::malformed, qs.code, qs.offset};
    if (top.type == qt::kChar) return parse_text(top, out);
    if (top.type != qt::kList || top.count == 0) return fail(errc::not_a_call, 0);
    return parse_list(w, top, out);
}

}  // namespace qgate::pubsub
