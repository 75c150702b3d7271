// Classification of request bodies (DESIGN §5.1). Runs on the client's shard for every request:
// one validating walk of the body (walker::validate), then a look at the first list item or at
// the leading identifier of a string. Never allocates; all views point into the body.
//
// Decision (documented in README.md): a plain char-vector query is named by its leading q
// identifier when it reads as a call, "name[...]", "name arg", "name`sym" or a bare "name", so
// routes written for (`getTrades;`AAPL) also catch "getTrades[`AAPL]". Anything else
// ("1+1", "a:3", "(`f;2)") is named kStringQueryName.

#include "qgate/route/classify.h"

#include "route/text_scan.h"

namespace qgate::route {
namespace {

gw_kind gw_of(std::string_view name) {
    if (name.size() < 4 || name.substr(0, 4) != ".gw.") return gw_kind::none;
    if (name == ".gw.syncexec") return gw_kind::syncexec;
    if (name == ".gw.syncexecj") return gw_kind::syncexecj;
    if (name == ".gw.asyncexec") return gw_kind::asyncexec;
    if (name == ".gw.asyncexecjpt") return gw_kind::asyncexecjpt;
    return gw_kind::none;
}

/// True when `s` (non-empty, after blanks) starts an operand of a juxtaposed call ("f x"),
/// rather than an operator ("x + 1", "a : 3").
bool starts_operand(std::string_view s) {
    const char c = s[0];
    if (text::is_alpha(c) || text::is_digit(c)) return true;
    if (c == '`' || c == '"' || c == '(' || c == '{' || c == '[') return true;
    const bool next_digit = s.size() > 1 && text::is_digit(s[1]);
    return (c == '-' || c == '.') && next_digit;
}

void classify_string(std::string_view src, call_info& out) {
    out.form = call_form::string;
    out.name = kStringQueryName;
    const std::string_view s = text::trim(src);
    const size_t n = text::leading_ident(s);
    if (n == 0) return;
    const std::string_view name = s.substr(0, n);
    const std::string_view rest = s.substr(n);
    if (rest.empty()) {
        out.name = name;  // a bare name: q returns its value, route it like a niladic call
        return;
    }
    if (rest[0] == '[') {
        const size_t close = text::match_close(rest, 0);
        const size_t inner_end = close == std::string_view::npos ? rest.size() : close;
        out.name = name;
        out.args_text = rest.substr(1, inner_end - 1);
        out.arg_count = text::count_parts(out.args_text);
        out.gw = gw_of(name);
        return;
    }
    const bool glued = rest[0] == '`' || rest[0] == '"';  // f`AAPL, f"x": q applies f
    const std::string_view arg = text::trim(rest);
    if (glued || (text::is_blank(rest[0]) && starts_operand(arg))) {
        out.name = name;
        out.args_text = arg;
        out.arg_count = 1;
    }
}

void classify_list(const qipc::walker& w, const qipc::object_view& obj, call_info& out) {
    out.form = call_form::list;
    qipc::child_cursor cur(w, obj);
    qipc::object_view head;
    if (!cur.next(head)) {  // cannot fail on a validated list with count >= 1
        out.form = call_form::invalid;
        return;
    }
    out.arg_count = static_cast<uint32_t>(obj.count - 1);
    if (head.type == -qipc::qtype::kSymbol) {
        out.name = qipc::symbol_text(head);
    } else if (head.type == qipc::qtype::kChar) {
        out.name = qipc::char_text(head);  // node-q and other clients: ("getTrades";`AAPL)
    } else if (head.type >= qipc::qtype::kLambda && head.type <= qipc::qtype::kEachRight) {
        out.name = kLambdaName;
        return;
    } else {
        out.name = kOtherName;
        return;
    }
    out.gw = gw_of(out.name);
}

}  // namespace

call_info classify_object(const qipc::walker& w, const qipc::object_view& obj,
                          qipc::msg_type type) {
    call_info out;
    out.type = type;
    out.little_endian = w.little_endian();
    out.body = w.body();
    out.object = obj;
    out.form = call_form::other;
    if (obj.type == qipc::qtype::kList && obj.count > 0) {
        classify_list(w, obj, out);
    } else if (obj.type == qipc::qtype::kChar) {
        classify_string(qipc::char_text(obj), out);
    }
    return out;
}

call_info classify(std::span<const uint8_t> body, bool little_endian, qipc::msg_type type) {
    const qipc::walker w(body, little_endian);
    qipc::object_view top;
    if (!w.validate(&top)) {
        call_info bad;
        bad.type = type;
        bad.little_endian = little_endian;
        bad.body = body;
        return bad;  // form invalid, name kOtherName: the engine answers with a q error
    }
    return classify_object(w, top, type);
}

}  // namespace qgate::route
