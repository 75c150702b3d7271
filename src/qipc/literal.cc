// parse_literal: a small q-literal syntax -> value (grammar in tools/qipc/README.md).
//
// Design note: control-plane only (the qipc tool, tests, demos); allocation and exceptions are
// fine here, and a parse_failure exception carries the position to parse_literal, which turns
// it into a status. The parser reads left to right but binds like q, right to left: a noun
// followed by a dyad (! # $) takes the whole expression on its right, and the monads
// (enlist , flip) take the whole expression after them. Numeric vectors follow q's rules:
// the type letter of the last item applies to every item ("1 2 3i", "2000.01 2000.02m",
// "0N 0Nd"), and without one the items' own forms decide (long, float, or one temporal type,
// with bare 0N/0W adopting it). Lists of atoms of one type collapse to a vector, as q does,
// so "(1i;2i)" and "1 2i" are the same value. Nesting is bounded by kDepthMax so hostile
// text cannot exhaust the stack.
//
// This file is the parser; numeric tokens are in literal_numbers.cc and the value operations
// (collapse, take, tables, the dyads) in literal_values.cc, declared in literal_internal.h.

#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "literal_internal.h"
#include "qgate/qipc/display.h"

namespace qgate::qipc {

namespace {

using namespace literal;

constexpr int kDepthMax = 100;

class parser {
  public:
    explicit parser(std::string_view s) : s_(s) {}
    value run();

  private:
    value expr();
    value noun();
    value paren();
    value table();
    std::vector<std::pair<std::string, value>> columns(char close);
    value lambda();
    value string_lit();
    value symbols();
    value error_lit();
    value numbers();
    static value vector_of(const std::vector<num_token>& toks);
    static value bits_or_bytes(std::string_view text, std::size_t pos);
    num_token token(std::size_t start, std::size_t end);
    std::string read_string();
    bool number_start(std::size_t i) const;
    bool word(std::string_view w);
    void ws();
    char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
    [[noreturn]] void fail(std::string what) const { throw parse_failure{i_, std::move(what)}; }
    [[noreturn]] void unexpected() const {
        fail(i_ < s_.size() ? "unexpected '" + std::string(1, s_[i_]) + "'" : "unexpected end");
    }

    std::string_view s_;
    std::size_t i_ = 0;
    int depth_ = 0;
};

value parser::run() {
    ws();
    if (i_ == s_.size()) fail("empty input");
    value v = expr();
    ws();
    if (i_ != s_.size()) unexpected();
    return v;
}

void parser::ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r'))
        ++i_;
}

bool parser::word(std::string_view w) {
    if (s_.substr(i_, w.size()) != w) return false;
    const std::size_t end = i_ + w.size();
    if (end < s_.size() && (is_alpha(s_[end]) || is_digit(s_[end]) || s_[end] == '_')) return false;
    i_ = end;
    return true;
}

bool parser::number_start(std::size_t i) const {
    const auto at = [&](std::size_t k) { return k < s_.size() ? s_[k] : '\0'; };
    if (is_digit(at(i))) return true;
    if (at(i) == '.' && is_digit(at(i + 1))) return true;
    return at(i) == '-' && (is_digit(at(i + 1)) || (at(i + 1) == '.' && is_digit(at(i + 2))));
}

value parser::expr() {
    struct guard {
        int& d;
        explicit guard(int& x) : d(x) { ++d; }
        guard(const guard&) = delete;
        guard& operator=(const guard&) = delete;
        ~guard() { --d; }
    } g(depth_);
    if (depth_ > kDepthMax) fail("nested too deeply");
    ws();
    if (word("enlist")) return dyad(value::generic_null(), ',', expr(), i_);
    if (word("flip")) {
        const std::size_t pos = i_;
        return dyad(value::generic_null(), '+', expr(), pos);
    }
    if (peek() == ',') {
        ++i_;
        return dyad(value::generic_null(), ',', expr(), i_);
    }
    value left = noun();
    ws();
    const char op = peek();
    if (op != '!' && op != '#' && op != '$') return left;
    const std::size_t pos = i_++;
    return dyad(std::move(left), op, expr(), pos);
}

value parser::noun() {
    ws();
    switch (peek()) {
        case '(': return paren();
        case '{': return lambda();
        case '"': return string_lit();
        case '`': return symbols();
        case '\'': return error_lit();
        case ':':
            if (s_.substr(i_, 2) == "::") {
                i_ += 2;
                return value::generic_null();
            }
            break;
        default:
            if (number_start(i_)) return numbers();
    }
    if (i_ == s_.size()) fail("expected a value");
    unexpected();
}

value parser::paren() {
    ++i_;  // (
    ws();
    if (peek() == '[') return table();
    if (peek() == ')') {
        ++i_;
        return value::list({});
    }
    std::vector<value> items;
    bool semicolon = false;
    for (;;) {
        ws();
        items.push_back(peek() == ';' || peek() == ')' ? value::generic_null() : expr());
        ws();
        if (peek() == ')') break;
        if (peek() != ';') fail("expected ';' or ')'");
        semicolon = true;
        ++i_;
    }
    ++i_;                                        // )
    if (!semicolon) return std::move(items[0]);  // (x) is just x
    if (auto v = collapse(items)) return *v;
    return value::list(std::move(items));
}

value parser::table() {
    const std::size_t pos = i_;
    ++i_;  // [
    auto keys = columns(']');
    auto cols = columns(')');
    if (keys.empty()) return make_table(std::move(cols), pos);
    return value::dict(make_table(std::move(keys), pos), make_table(std::move(cols), pos));
}

std::vector<std::pair<std::string, value>> parser::columns(char close) {
    std::vector<std::pair<std::string, value>> out;
    for (;;) {
        ws();
        if (peek() == close) break;
        const std::size_t start = i_;
        while (i_ < s_.size() &&
               (is_alpha(s_[i_]) || (i_ > start && (is_digit(s_[i_]) || s_[i_] == '_'))))
            ++i_;
        if (i_ == start) fail("expected a column name");
        std::string name(s_.substr(start, i_ - start));
        ws();
        if (peek() != ':') fail("expected ':' after column name");
        ++i_;
        out.emplace_back(std::move(name), expr());
        ws();
        if (peek() == close) break;
        if (peek() != ';') fail(std::string("expected ';' or '") + close + "'");
        ++i_;
    }
    ++i_;
    return out;
}

// {..}: the source text up to the matching brace, skipping braces inside strings.
value parser::lambda() {
    const std::size_t start = i_;
    int depth = 0;
    for (; i_ < s_.size(); ++i_) {
        const char c = s_[i_];
        if (c == '"') {
            for (++i_; i_ < s_.size() && s_[i_] != '"'; ++i_) i_ += s_[i_] == '\\';
        } else if (c == '{') {
            ++depth;
        } else if (c == '}' && --depth == 0) {
            break;
        }
    }
    if (i_ >= s_.size()) throw parse_failure{start, "unterminated lambda"};
    ++i_;
    value f = value::generic_null();
    f.type = qtype::kLambda;
    f.raw.clear();
    f.syms.emplace_back("");
    f.items.push_back(value::string(s_.substr(start, i_ - start)));
    return f;
}

std::string parser::read_string() {
    const std::size_t start = i_++;
    std::string out;
    while (i_ < s_.size() && s_[i_] != '"') {
        char c = s_[i_++];
        if (c == '\\') {
            if (i_ >= s_.size()) break;
            c = s_[i_++];
            if (c == 'n')
                c = '\n';
            else if (c == 't')
                c = '\t';
            else if (c == 'r')
                c = '\r';
            else if (c >= '0' && c <= '7') {
                int v = c - '0';
                for (int k = 0; k < 2 && i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '7'; ++k)
                    v = v * 8 + (s_[i_++] - '0');
                c = char(v);
            } else if (c != '"' && c != '\\') {
                fail(std::string("unknown escape \\") + c);
            }
        }
        out += c;
    }
    if (i_ >= s_.size()) throw parse_failure{start, "unterminated string"};
    ++i_;
    return out;
}

value parser::string_lit() {
    std::string s = read_string();
    if (s.size() == 1) return value::char_(s[0]);  // "a" is a char atom, as in q
    return value::string(s);
}

value parser::symbols() {
    std::vector<std::string> syms;
    while (peek() == '`') {
        const std::size_t start = ++i_;
        while (i_ < s_.size() && is_symbol_char(s_[i_])) ++i_;
        syms.emplace_back(s_.substr(start, i_ - start));
    }
    if (syms.size() == 1) return value::symbol(std::move(syms[0]));
    return value::symbols(std::move(syms));
}

value parser::error_lit() {
    ++i_;  // '
    if (peek() == '"') return value::error(read_string());
    const std::size_t start = i_;
    while (i_ < s_.size() && !std::strchr(" \t\r\n;)]", s_[i_])) ++i_;
    if (i_ == start) fail("expected error text after '");
    return value::error(std::string(s_.substr(start, i_ - start)));
}

value parser::numbers() {
    std::vector<num_token> toks;
    for (;;) {
        const std::size_t start = i_;
        if (peek() == '-') ++i_;
        const std::size_t digits = i_;
        while (i_ < s_.size()) {
            const char c = s_[i_];
            // A sign belongs to the token only as an exponent's: 1.5e-3 (not in 0x1e or 1 -2).
            const bool exp_sign = (c == '-' || c == '+') && i_ > digits &&
                                  (s_[i_ - 1] == 'e' || s_[i_ - 1] == 'E') &&
                                  s_.substr(digits, 2) != "0x";
            if (!(is_alpha(c) || is_digit(c) || c == '.' || c == ':' || exp_sign)) break;
            ++i_;
        }
        const std::string_view text = s_.substr(start, i_ - start);
        const bool special =
            text.substr(0, 2) == "0x" || (text.size() > 1 && text.back() == 'b' &&
                                          text.find_first_not_of("01") == text.size() - 1);
        if (special) {
            if (!toks.empty()) throw parse_failure{start, "boolean or byte item inside a vector"};
            return bits_or_bytes(text, start);
        }
        toks.push_back(token(start, i_));
        const std::size_t before = i_;
        while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t')) ++i_;
        if (i_ == before || !number_start(i_)) {
            i_ = before;
            break;
        }
    }
    return vector_of(toks);
}

value parser::bits_or_bytes(std::string_view text, std::size_t pos) {
    std::vector<uint8_t> raw;
    if (text[0] == '0' && text.size() > 1 && text[1] == 'x') {
        std::string hex(text.substr(2));
        if (hex.empty()) throw parse_failure{pos, "0x needs hex digits"};
        if (hex.size() % 2) hex.insert(hex.begin(), '0');
        for (std::size_t k = 0; k < hex.size(); k += 2) {
            char* end = nullptr;
            const std::string pair = hex.substr(k, 2);
            raw.push_back(uint8_t(std::strtoul(pair.c_str(), &end, 16)));
            if (*end) throw parse_failure{pos, "invalid hex digit in " + std::string(text)};
        }
        const int8_t t = raw.size() == 1 ? -qtype::kByte : qtype::kByte;
        return value::fixed(t, std::move(raw));
    }
    for (char c : text.substr(0, text.size() - 1)) raw.push_back(uint8_t(c - '0'));
    const int8_t t = raw.size() == 1 ? -qtype::kBool : qtype::kBool;
    return value::fixed(t, std::move(raw));
}

num_token parser::token(std::size_t start, std::size_t end) {
    num_token t{};
    t.pos = start;
    std::string_view text = s_.substr(start, end - start);
    if (!text.empty() && text[0] == '-') {
        t.neg = true;
        text.remove_prefix(1);
    }
    auto form = form_of(text, t.float_null);
    if (!form && text.size() > 1 && is_alpha(text.back())) {
        t.letter = text.back();
        text.remove_suffix(1);
        form = form_of(text, t.float_null);
        if (form && letter_type(t.letter) < 0)
            throw parse_failure{end - 1, "unknown type letter '" + std::string(1, t.letter) + "'"};
    }
    if (!form)
        throw parse_failure{start,
                            "invalid number '" + std::string(s_.substr(start, end - start)) + "'"};
    t.form = *form;
    t.body = text;
    return t;
}

// The vector type: the one explicit letter, else the unified natural types.
value parser::vector_of(const std::vector<num_token>& toks) {
    int type = 0;
    for (const auto& t : toks) {
        if (!t.letter) continue;
        const int lt = letter_type(t.letter);
        if (type && lt != type) throw parse_failure{t.pos, "items of different types"};
        type = lt;
    }
    if (!type) {
        for (const auto& t : toks) {
            const int nt = natural_type(t);
            if (!nt || nt == type) continue;
            if (!type || (type == qtype::kLong && nt == qtype::kFloat))
                type = nt;
            else if (!(type == qtype::kFloat && nt == qtype::kLong))
                throw parse_failure{t.pos, "items of different types"};
        }
        if (!type) type = qtype::kLong;
    }
    if (type == qtype::kBool || type == qtype::kByte || type == qtype::kChar ||
        type == qtype::kSymbol)
        throw parse_failure{toks.back().pos, "type letter not valid on a number"};
    std::vector<uint8_t> raw;
    element_writer w(raw, type);
    for (const auto& t : toks) w.write(t);
    const int8_t t = int8_t(toks.size() == 1 ? -type : type);
    return value::fixed(t, std::move(raw));
}

}  // namespace

status parse_literal(std::string_view text, value& out, std::string* error_text) {
    try {
        parser p(text);
        out = p.run();
        return {};
    } catch (const parse_failure& f) {
        if (error_text)
            *error_text = "parse error at position " + std::to_string(f.pos) + ": " + f.what;
        return {errc::parse_error, f.pos};
    }
}

}  // namespace qgate::qipc
