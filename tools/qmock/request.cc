// Request decoding for qmock, the stand-in for q's default `.z.pg` / `.z.ps` (`value x`).
//
// Two request shapes are understood, as a q gateway would see them from clients:
//  * a char vector of q text: `name[a;b]`, `name a`, a bare literal, or "" (answers `::`,
//    the classic `h""` barrier). Arguments are q literals parsed with qipc::parse_literal.
//  * a general list whose first item names the function (symbol, string or char atom) and
//    whose other items are the arguments, e.g. (`echo;x) or ("echo";x).
// Arguments travel as spans of their encoded bytes: for list requests they point into the
// request itself, so `echo` of a 1 GB byte vector costs one copy (into the output queue).
// Runs on the server thread only.
#include "request.h"

#include <cctype>
#include <cstring>

#include "qgate/qipc/display.h"
#include "qgate/qipc/walker.h"
#include "qgate/qipc/writer.h"
#include "server.h"

namespace qmock {
namespace {

namespace qipc = qgate::qipc;

/// q allows at most 8 arguments to a function.
constexpr std::size_t kArgsMax = 8;
/// `::` encoded: unary primitive 0.
constexpr uint8_t kGenericNull[] = {0x65, 0x00};
/// The one q expression qmock evaluates: a gateway's question "is .z.pg undefined?" (q
/// answers 1b without .z.pg; with one, `get` returns the lambda, which is not `).
constexpr std::string_view kZpgProbe = "@[get;`.z.pg;`]~`";

bool is_name_start(char ch) { return std::isalpha(static_cast<unsigned char>(ch)) || ch == '.'; }
bool is_name_char(char ch) {
    return std::isalnum(static_cast<unsigned char>(ch)) || ch == '.' || ch == '_';
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
}

/// Splits `a;b;c` at the top level (outside brackets, parentheses, braces and strings).
/// Returns false when the brackets do not balance.
bool split_args(std::string_view s, std::vector<std::string_view>& out) {
    int depth = 0;
    bool in_string = false;
    std::size_t start = 0;
    for (std::size_t i = 0; i < s.size(); ++i) {
        char ch = s[i];
        if (in_string) {
            if (ch == '\\') ++i;
            else if (ch == '"') in_string = false;
            continue;
        }
        if (ch == '"') in_string = true;
        else if (ch == '(' || ch == '[' || ch == '{') ++depth;
        else if (ch == ')' || ch == ']' || ch == '}') {
            if (--depth < 0) return false;
        } else if (ch == ';' && depth == 0) {
            out.push_back(trim(s.substr(start, i - start)));
            start = i + 1;
        }
    }
    if (depth != 0 || in_string) return false;
    out.push_back(trim(s.substr(start)));
    return true;
}

/// Index of the bracket closing the one at `open`, or npos.
std::size_t matching_bracket(std::string_view s, std::size_t open) {
    int depth = 0;
    bool in_string = false;
    for (std::size_t i = open; i < s.size(); ++i) {
        char ch = s[i];
        if (in_string) {
            if (ch == '\\') ++i;
            else if (ch == '"') in_string = false;
        } else if (ch == '"') {
            in_string = true;
        } else if (ch == '[') {
            ++depth;
        } else if (ch == ']' && --depth == 0) {
            return i;
        }
    }
    return std::string_view::npos;
}

/// Parses a q literal into its encoding; an empty text (an elided argument) is `::`.
bool parse_arg(std::string_view text, std::vector<uint8_t>& out, std::string& error) {
    if (text.empty()) {
        out.assign(std::begin(kGenericNull), std::end(kGenericNull));
        return true;
    }
    qipc::value v;
    std::string detail;
    if (!qipc::parse_literal(text, v, &detail)) {
        error = "parse";
        return false;
    }
    out = encode_body(v);
    return true;
}

/// Parses the texts, then calls `name` with them.
void call_with_texts(call& ctx, std::string_view name, const std::vector<std::string_view>& texts,
                     reply& out) {
    if (texts.size() > kArgsMax) return out.set_error("rank");
    std::vector<std::vector<uint8_t>> encoded(texts.size());
    std::vector<arg> args;
    for (std::size_t i = 0; i < texts.size(); ++i) {
        std::string error;
        if (!parse_arg(texts[i], encoded[i], error)) return out.set_error(error);
        args.emplace_back(encoded[i]);
    }
    run_function(ctx, name, args, out);
    // A reply that views an argument (echo, sleep) must outlive `encoded`.
    if (out.k == reply::kind::value && out.owned.empty())
        out.set_owned(std::vector<uint8_t>(out.body.begin(), out.body.end()));
}

void run_text(call& ctx, std::string_view text, reply& out) {
    text = trim(text);
    if (text.empty()) return out.set_value(kGenericNull);
    if (text == kZpgProbe)  // true when .z.pg is not defined (README.md, --zpg)
        return out.set_value(qipc::value::boolean(ctx.srv.opts().zpg == zpg_mode::none));
    if (!is_name_start(text.front())) {  // a bare literal: q's `value` gives it back
        std::vector<uint8_t> bytes;
        std::string error;
        if (!parse_arg(text, bytes, error)) return out.set_error(error);
        return out.set_owned(std::move(bytes));
    }
    std::size_t end = 1;
    while (end < text.size() && is_name_char(text[end])) ++end;
    std::string_view name = text.substr(0, end);
    std::string_view rest = text.substr(end);
    std::vector<std::string_view> texts;
    if (rest.empty()) return run_function(ctx, name, {}, out);
    if (rest.front() == '[') {
        std::size_t close = matching_bracket(rest, 0);
        if (close != rest.size() - 1) return out.set_error("parse");
        std::string_view inner = trim(rest.substr(1, close - 1));
        if (!inner.empty() && !split_args(inner, texts)) return out.set_error("parse");
        return call_with_texts(ctx, name, texts, out);
    }
    if (std::isspace(static_cast<unsigned char>(rest.front()))) {
        texts.push_back(trim(rest));
        return call_with_texts(ctx, name, texts, out);
    }
    out.set_error("parse");
}

/// The function name in the first item of a list request, or false.
bool item_name(const qipc::object_view& v, std::string& name) {
    if (v.type == -qipc::qtype::kSymbol) name = std::string(qipc::symbol_text(v));
    else if (v.type == qipc::qtype::kChar) name = std::string(qipc::char_text(v));
    else if (v.type == -qipc::qtype::kChar) name.assign(1, static_cast<char>(v.bytes[1]));
    else return false;
    return true;
}

/// A lambda qmock recognises without evaluating q: TorQ's addhw asks for a process's details
/// with a lambda that calls .servers.getdetails[] (README.md, "Registering"). Its source
/// text containing "getdetails" is the test; any other lambda is a 'type error.
bool lambda_name(const qipc::walker& w, const qipc::object_view& fn, std::string& name) {
    qipc::child_cursor cursor(w, fn);
    qipc::object_view source;
    if (!cursor.next(source)) return false;
    if (qipc::char_text(source).find("getdetails") == std::string_view::npos) return false;
    name = ".servers.getdetails";
    return true;
}

void run_list(call& ctx, const qipc::walker& w, const qipc::object_view& top, reply& out) {
    qipc::child_cursor cursor(w, top);
    qipc::object_view item;
    if (!cursor.next(item)) return out.set_value(std::span<const uint8_t>(top.bytes));
    std::string name;
    const bool named = item.type == qipc::qtype::kLambda ? lambda_name(w, item, name)
                                                         : item_name(item, name);
    if (!named) return out.set_error("type");
    std::vector<arg> args;
    while (cursor.next(item)) {
        if (args.size() == kArgsMax) return out.set_error("rank");
        args.push_back(item.bytes);
    }
    if (!cursor.error().ok()) return out.set_error("badmsg");
    run_function(ctx, name, args, out);
}

/// A symbol vector: q's `value` applies its first symbol to the others, so
/// `neg[h](`f;`a;`b)` (which q sends as the vector `f`a`b) calls f[`a;`b]. Only when qmock
/// has a function of that name: q would signal the undefined name, qmock keeps 'type for
/// other symbol lists (data sent as a request, as the routing tests do).
void run_symbols(call& ctx, const qipc::object_view& top, reply& out) {
    if (top.count == 0 || top.count > kArgsMax + 1) return out.set_error("type");
    std::vector<std::string_view> syms;
    const uint8_t* p = qipc::vector_data(top);
    const uint8_t* end = top.bytes.data() + top.bytes.size();
    for (uint64_t i = 0; i < top.count && p < end; ++i) {
        const auto* nul = static_cast<const uint8_t*>(std::memchr(p, 0, std::size_t(end - p)));
        if (!nul) return out.set_error("badmsg");
        syms.emplace_back(reinterpret_cast<const char*>(p), std::size_t(nul - p));
        p = nul + 1;
    }
    if (syms.empty() || !known_function(ctx, syms[0])) return out.set_error("type");
    std::vector<std::vector<uint8_t>> encoded;
    for (std::size_t i = 1; i < syms.size(); ++i)
        encoded.push_back(encode_body(qipc::value::symbol(std::string(syms[i]))));
    std::vector<arg> args(encoded.begin(), encoded.end());
    run_function(ctx, syms[0], args, out);
    if (out.k == reply::kind::value && out.owned.empty())  // echo views an argument
        out.set_owned(std::vector<uint8_t>(out.body.begin(), out.body.end()));
}

}  // namespace

void reply::set_value(const qgate::qipc::value& v) { set_owned(encode_body(v)); }

void run_request(call& ctx, std::span<const uint8_t> body, reply& out) {
    qipc::walker w(body, true);
    qipc::object_view top;
    if (!w.at(0, top).ok()) return out.set_error("badmsg");
    switch (top.type) {
    case qipc::qtype::kChar:
        return run_text(ctx, qipc::char_text(top), out);
    case qipc::qtype::kList:
        return run_list(ctx, w, top, out);
    case -qipc::qtype::kSymbol:
        return run_function(ctx, qipc::symbol_text(top), {}, out);
    case qipc::qtype::kSymbol:
        return run_symbols(ctx, top, out);
    default:
        return out.set_error("type");
    }
}

}  // namespace qmock
