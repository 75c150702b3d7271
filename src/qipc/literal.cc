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

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <optional>
#include <string>

#include "qgate/qipc/display.h"

namespace qgate::qipc {

namespace {

constexpr int kDepthMax = 100;
constexpr int64_t kNsPerDay = 86'400'000'000'000;

struct parse_failure {
    std::size_t pos;
    std::string what;
};

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_symbol_char(char c) {
    return is_alpha(c) || is_digit(c) || c == '.' || c == '_' || c == ':' || c == '/';
}

template <class T>
void put(std::vector<uint8_t>& out, T x) {
    uint8_t b[sizeof(T)];
    std::memcpy(b, &x, sizeof(T));
    out.insert(out.end(), b, b + sizeof(T));
}

// yyyy.mm.dd -> days since 2000.01.01 (H. Hinnant's days_from_civil), nullopt if invalid.
std::optional<int64_t> days_from_civil(int64_t y, int64_t m, int64_t d) {
    static const int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m < 1 || m > 12 || d < 1 || d > kDays[m - 1]) return std::nullopt;
    if (m == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))) return std::nullopt;
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const int64_t yoe = y - era * 400;
    const int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468 - 10957;
}

// One numeric token of a vector, split into its form and its optional type letter.
struct num_token {
    enum form_t { integer, decimal, date, stamp, datetime, span, clock, null, inf } form;
    std::string_view body;  // text without sign and letter
    bool neg = false;
    char letter = 0;          // explicit type letter, 0 if none
    bool float_null = false;  // 0n / 0w (lower case): float unless a letter says otherwise
    std::size_t pos = 0;
};

// Natural q type of a token without a letter (0 = adopts the vector's type: bare 0N / 0W).
int natural_type(const num_token& t) {
    switch (t.form) {
        case num_token::integer: return qtype::kLong;
        case num_token::decimal: return qtype::kFloat;
        case num_token::date: return qtype::kDate;
        case num_token::stamp: return qtype::kTimestamp;
        case num_token::datetime: return qtype::kDatetime;
        case num_token::span: return qtype::kTimespan;
        case num_token::clock: {
            const auto colons = std::count(t.body.begin(), t.body.end(), ':');
            if (colons == 1) return qtype::kMinute;
            return t.body.find('.') == std::string_view::npos ? qtype::kSecond : qtype::kTime;
        }
        default: return t.float_null ? qtype::kFloat : 0;
    }
}

int letter_type(char c) {
    static const char kLetters[] = " bg xhijefcspmdznuvt";
    for (int t = 1; t <= 19; ++t) {
        if (kLetters[t] == c && c != ' ') return t;
    }
    return -1;
}

bool all_digits(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s) {
        if (!is_digit(c)) return false;
    }
    return true;
}

bool is_decimal(std::string_view s) {
    std::size_t i = 0, digits = 0;
    while (i < s.size() && is_digit(s[i])) ++i, ++digits;
    if (i < s.size() && s[i] == '.') {
        ++i;
        while (i < s.size() && is_digit(s[i])) ++i, ++digits;
    }
    if (digits == 0) return false;
    if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
        ++i;
        if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
        if (i == s.size()) return false;
        while (i < s.size() && is_digit(s[i])) ++i;
    }
    return i == s.size() && s.find_first_of(".eE") != std::string_view::npos;
}

bool is_date(std::string_view s) {
    return s.size() == 10 && all_digits(s.substr(0, 4)) && s[4] == '.' &&
           all_digits(s.substr(5, 2)) && s[7] == '.' && all_digits(s.substr(8, 2));
}

// hh[:mm[:ss[.fff]]]; `colon_needed` for a bare clock (12:01), not after D or T.
bool is_clock(std::string_view s, bool colon_needed) {
    std::size_t i = 0;
    while (i < s.size() && is_digit(s[i])) ++i;
    if (i == 0) return !colon_needed && s.empty();
    int parts = 1;
    while (i < s.size() && s[i] == ':' && parts < 3) {
        if (i + 3 > s.size() || !is_digit(s[i + 1]) || !is_digit(s[i + 2])) return false;
        i += 3;
        ++parts;
    }
    if (i < s.size() && s[i] == '.') {
        ++i;
        while (i < s.size() && is_digit(s[i])) ++i;
    }
    return i == s.size() && (parts > 1 || !colon_needed);
}

std::optional<num_token::form_t> form_of(std::string_view s, bool& float_null) {
    if (s == "0N" || s == "0n") return float_null = (s[1] == 'n'), num_token::null;
    if (s == "0W" || s == "0w") return float_null = (s[1] == 'w'), num_token::inf;
    if (all_digits(s)) return num_token::integer;
    if (is_decimal(s)) return num_token::decimal;
    if (s.size() >= 10 && is_date(s.substr(0, 10))) {
        if (s.size() == 10) return num_token::date;
        if (s[10] == 'D' && is_clock(s.substr(11), false)) return num_token::stamp;
        if (s[10] == 'T' && is_clock(s.substr(11), false)) return num_token::datetime;
        return std::nullopt;
    }
    const std::size_t d = s.find('D');
    if (d != std::string_view::npos && all_digits(s.substr(0, d)) &&
        is_clock(s.substr(d + 1), false))
        return num_token::span;
    if (is_clock(s, true)) return num_token::clock;
    return std::nullopt;
}

// Reads 0..max_digits fraction digits scaled to max_digits (".6" -> 600 for ms).
int64_t fraction(std::string_view s, int max_digits, std::size_t pos) {
    if (s.size() > std::size_t(max_digits)) throw parse_failure{pos, "too many fraction digits"};
    int64_t v = 0;
    for (int i = 0; i < max_digits; ++i) v = v * 10 + (std::size_t(i) < s.size() ? s[i] - '0' : 0);
    return v;
}

// hh[:mm[:ss[.f]]] -> count of 10^-frac_digits seconds; minutes and seconds must be < 60.
int64_t clock_units(std::string_view s, int frac_digits, std::size_t pos) {
    int64_t parts[3] = {0, 0, 0};
    int n = 0;
    std::size_t i = 0;
    while (i < s.size() && s[i] != '.' && n < 3) {
        const std::size_t colon = s.find(':', i);
        const std::string_view p = s.substr(i, std::min(colon, s.find('.', i)) - i);
        parts[n++] = std::strtoll(std::string(p).c_str(), nullptr, 10);
        i += p.size() + (i + p.size() < s.size() && s[i + p.size()] == ':');
    }
    if (parts[1] > 59 || parts[2] > 59) throw parse_failure{pos, "minutes/seconds must be < 60"};
    // 10^6 hours keeps every product below in int64 even in nanoseconds.
    if (parts[0] > 1'000'000) throw parse_failure{pos, "hours out of range"};
    int64_t scale = 1;
    for (int k = 0; k < frac_digits; ++k) scale *= 10;
    const std::string_view frac = i < s.size() && s[i] == '.' ? s.substr(i + 1) : "";
    if (!frac.empty() && frac_digits == 0) throw parse_failure{pos, "no fraction allowed here"};
    return ((parts[0] * 60 + parts[1]) * 60 + parts[2]) * scale + fraction(frac, frac_digits, pos);
}

// days * ns-per-day + ns, refusing what int64 nanoseconds cannot hold (about 292 years).
int64_t ns_total(int64_t days, int64_t ns, std::size_t pos) {
    if (days < -106'750 || days > 106'750) throw parse_failure{pos, "out of range (292 years)"};
    return days * kNsPerDay + ns;
}

int64_t date_days(std::string_view s, std::size_t pos) {
    const auto num = [&](std::size_t at, std::size_t n) {
        return std::strtoll(std::string(s.substr(at, n)).c_str(), nullptr, 10);
    };
    const auto d = days_from_civil(num(0, 4), num(5, 2), num(8, 2));
    if (!d) throw parse_failure{pos, "invalid date"};
    return *d;
}

// Writes the element bytes of token `t` converted to vector type `type` (1..19).
class element_writer {
  public:
    element_writer(std::vector<uint8_t>& out, int type) : out_(out), type_(type) {}
    void write(const num_token& t);

  private:
    void null_or_inf(const num_token& t);
    void integral(const num_token& t);
    void floating(const num_token& t);
    void temporal(const num_token& t);
    [[noreturn]] void fail(const num_token& t) const {
        throw parse_failure{t.pos, "'" + std::string(t.body) + "' does not fit type '" +
                                       std::string(1, " bg xhijefcspmdznuvt"[type_]) + "'"};
    }
    template <class T>
    void put_signed(const num_token& t, int64_t v) {
        put(out_, T(t.neg ? -v : v));
    }

    std::vector<uint8_t>& out_;
    int type_;
};

void element_writer::write(const num_token& t) {
    if (t.form == num_token::null || t.form == num_token::inf) return null_or_inf(t);
    switch (type_) {
        case qtype::kShort:
        case qtype::kInt:
        case qtype::kLong: return integral(t);
        case qtype::kReal:
        case qtype::kFloat: return floating(t);
        default: return temporal(t);
    }
}

void element_writer::null_or_inf(const num_token& t) {
    const bool inf = t.form == num_token::inf;
    switch (type_) {
        case qtype::kGuid:
            if (inf) fail(t);
            out_.insert(out_.end(), 16, 0);
            return;
        case qtype::kShort: return put(out_, int16_t(inf ? (t.neg ? -32767 : 32767) : -32768));
        case qtype::kReal:
            if (!inf) return put(out_, uint32_t(0x7fc00000));  // q's own NaN pattern
            return put(out_, t.neg ? -std::numeric_limits<float>::infinity()
                                   : std::numeric_limits<float>::infinity());
        case qtype::kFloat:
        case qtype::kDatetime:
            if (!inf) return put(out_, uint64_t(0x7ff8000000000000));
            return put(out_, t.neg ? -std::numeric_limits<double>::infinity()
                                   : std::numeric_limits<double>::infinity());
        case qtype::kLong:
        case qtype::kTimestamp:
        case qtype::kTimespan: {
            constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
            return put(out_, inf ? (t.neg ? -kMax : kMax) : std::numeric_limits<int64_t>::min());
        }
        case qtype::kBool:
        case qtype::kByte:
        case qtype::kChar:
        case qtype::kSymbol: fail(t);
        default: {
            constexpr int32_t kMax = std::numeric_limits<int32_t>::max();
            return put(out_, inf ? (t.neg ? -kMax : kMax) : std::numeric_limits<int32_t>::min());
        }
    }
}

void element_writer::integral(const num_token& t) {
    if (t.form != num_token::integer) fail(t);
    errno = 0;
    const unsigned long long u = std::strtoull(std::string(t.body).c_str(), nullptr, 10);
    const int64_t max = type_ == qtype::kShort ? 32767
                        : type_ == qtype::kInt ? 2147483647
                                               : INT64_MAX;
    if (errno == ERANGE || u > uint64_t(max)) throw parse_failure{t.pos, "integer out of range"};
    if (type_ == qtype::kShort) return put_signed<int16_t>(t, int64_t(u));
    if (type_ == qtype::kInt) return put_signed<int32_t>(t, int64_t(u));
    put_signed<int64_t>(t, int64_t(u));
}

void element_writer::floating(const num_token& t) {
    if (t.form != num_token::integer && t.form != num_token::decimal) fail(t);
    const std::string text = (t.neg ? "-" : "") + std::string(t.body);
    if (type_ == qtype::kReal) return put(out_, std::strtof(text.c_str(), nullptr));
    put(out_, std::strtod(text.c_str(), nullptr));
}

void element_writer::temporal(const num_token& t) {
    const std::string_view b = t.body;
    const int64_t sign = t.neg ? -1 : 1;
    const bool has_date =
        t.form == num_token::date || t.form == num_token::stamp || t.form == num_token::datetime;
    switch (type_) {
        case qtype::kMonth: {  // yyyy.mm, written like a float: 2001.01m
            if (t.form != num_token::decimal || b.size() != 7 || b[4] != '.' ||
                !all_digits(b.substr(0, 4)) || !all_digits(b.substr(5)) || t.neg)
                fail(t);
            const int64_t y = std::strtoll(std::string(b.substr(0, 4)).c_str(), nullptr, 10);
            const int64_t m = std::strtoll(std::string(b.substr(5)).c_str(), nullptr, 10);
            if (m < 1 || m > 12) throw parse_failure{t.pos, "invalid month"};
            return put(out_, int32_t((y - 2000) * 12 + m - 1));
        }
        case qtype::kDate:
            if (t.form != num_token::date || t.neg) fail(t);
            return put(out_, int32_t(date_days(b, t.pos)));
        case qtype::kTimestamp: {
            if ((t.form != num_token::stamp && t.form != num_token::date) || t.neg) fail(t);
            const int64_t ns = b.size() > 11 ? clock_units(b.substr(11), 9, t.pos) : 0;
            return put(out_, ns_total(date_days(b, t.pos), ns, t.pos));
        }
        case qtype::kDatetime: {  // one division, as q rounds it: 3.234 for 2000.01.04T05:36:57.600
            if (!has_date || t.form == num_token::stamp || t.neg) fail(t);
            const int64_t ms = b.size() > 11 ? clock_units(b.substr(11), 3, t.pos) : 0;
            return put(out_, double(date_days(b, t.pos) * 86'400'000 + ms) / 8.64e7);
        }
        case qtype::kTimespan: {
            if (t.form == num_token::clock) return put(out_, sign * clock_units(b, 9, t.pos));
            if (t.form != num_token::span) fail(t);
            const std::size_t d = b.find('D');
            const int64_t days = std::strtoll(std::string(b.substr(0, d)).c_str(), nullptr, 10);
            return put(out_, sign * ns_total(days, clock_units(b.substr(d + 1), 9, t.pos), t.pos));
        }
        case qtype::kMinute:
        case qtype::kSecond:
        case qtype::kTime: {
            if (t.form != num_token::clock) fail(t);
            const int colons = int(std::count(b.begin(), b.end(), ':'));
            if (type_ == qtype::kMinute && colons != 1) fail(t);
            const int64_t u =
                type_ == qtype::kTime ? clock_units(b, 3, t.pos) : clock_units(b, 0, t.pos);
            const int64_t x = sign * (type_ == qtype::kMinute && colons == 1 ? u / 60 : u);
            if (x > INT32_MAX || x < -INT32_MAX) throw parse_failure{t.pos, "time out of range"};
            return put(out_, int32_t(x));
        }
        default: fail(t);
    }
}

bool is_atom(const value& v) { return v.type < 0 && v.type != qtype::kError; }

uint64_t length_of(const value& v) {
    if (v.type == qtype::kSymbol) return v.syms.size();
    if (v.type >= 1 && v.type <= 19) return v.raw.size() / uint64_t(elem_size(v.type));
    if (v.type == qtype::kList) return v.items.size();
    return v.count();
}

// Item i of a vector, list or table row (tables: a dict of the row), as q's x@i.
value item_at(const value& v, uint64_t i);

value row_at(const value& table, uint64_t i) {
    const value& d = table.items.at(0);
    std::vector<value> cells;
    for (const auto& col : d.items.at(1).items) cells.push_back(item_at(col, i));
    value row = value::list(std::move(cells));
    return value::dict(d.items[0], std::move(row));
}

value item_at(const value& v, uint64_t i) {
    if (v.type == qtype::kSymbol) return value::symbol(v.syms.at(i));
    if (v.type >= 1 && v.type <= 19) {
        const std::size_t w = std::size_t(elem_size(v.type));
        return value::fixed(int8_t(-v.type),
                            {v.raw.begin() + long(i * w), v.raw.begin() + long((i + 1) * w)});
    }
    if (v.type == qtype::kTable) return row_at(v, i);
    return v.items.at(i);
}

// Joins atoms of one type into a vector (q's list collapse); nullopt when they differ.
std::optional<value> collapse(const std::vector<value>& items) {
    if (items.empty() || !is_atom(items[0])) return std::nullopt;
    const int8_t t = items[0].type;
    for (const auto& x : items) {
        if (x.type != t) return std::nullopt;
    }
    if (t == -qtype::kSymbol) {
        std::vector<std::string> s;
        for (const auto& x : items) s.push_back(x.syms.at(0));
        return value::symbols(std::move(s));
    }
    std::vector<uint8_t> raw;
    for (const auto& x : items) raw.insert(raw.end(), x.raw.begin(), x.raw.end());
    return value::fixed(int8_t(-t), std::move(raw));
}

// n#v: the first n items (the last -n when negative), cycling as q does; tables take rows
// column by column.
value take_items(const value& v, int64_t n) {
    if (v.type == qtype::kTable) {
        const value& d = v.items.at(0);
        std::vector<value> cols;
        for (const auto& col : d.items.at(1).items) cols.push_back(take_items(col, n));
        return value::table(d.items[0].syms, std::move(cols));
    }
    const uint64_t len = is_atom(v) ? 1 : length_of(v);
    const uint64_t k = len ? uint64_t(n < 0 ? -n : n) : 0;
    const auto index = [&](uint64_t j) { return n >= 0 ? j % len : (len - k % len + j) % len; };
    const int t = v.type < 0 ? -v.type : v.type;
    if (t == qtype::kSymbol) {
        std::vector<std::string> syms;
        for (uint64_t j = 0; j < k; ++j) syms.push_back(v.syms.at(is_atom(v) ? 0 : index(j)));
        return value::symbols(std::move(syms));
    }
    if (t >= 1 && t <= 19) {  // element bytes copied directly: no value per item
        const std::size_t w = std::size_t(elem_size(t));
        std::vector<uint8_t> raw;
        raw.reserve(k * w);
        for (uint64_t j = 0; j < k; ++j) {
            const auto from = v.raw.begin() + long((is_atom(v) ? 0 : index(j)) * w);
            raw.insert(raw.end(), from, from + long(w));
        }
        return value::fixed(int8_t(t), std::move(raw));
    }
    std::vector<value> items;
    for (uint64_t j = 0; j < k; ++j) items.push_back(v.items.at(index(j)));
    return value::list(std::move(items));
}

bool parse_guid(std::string_view s, std::vector<uint8_t>& out) {
    if (s.size() != 36) return false;
    const auto hex = [](char c) {
        return is_digit(c)              ? c - '0'
               : (c >= 'a' && c <= 'f') ? c - 'a' + 10
               : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                        : -1;
    };
    for (std::size_t i = 0; i < 36;) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i++] != '-') return false;
            continue;
        }
        const int hi = hex(s[i]), lo = hex(s[i + 1]);
        if (hi < 0 || lo < 0) return false;
        out.push_back(uint8_t(hi * 16 + lo));
        i += 2;
    }
    return true;
}

const char* const kTypeNames[] = {"",         "boolean",  "guid",      "",       "byte",
                                  "short",    "int",      "long",      "real",   "float",
                                  "char",     "symbol",   "timestamp", "month",  "date",
                                  "datetime", "timespan", "minute",    "second", "time"};

class parser {
  public:
    explicit parser(std::string_view s) : s_(s) {}
    value run();

  private:
    value expr();
    value noun();
    value dyad(value left, char op, value right, std::size_t pos);
    value paren();
    value table();
    std::vector<std::pair<std::string, value>> columns(char close);
    value lambda();
    value string_lit();
    value symbols();
    value error_lit();
    value numbers();
    value vector_of(const std::vector<num_token>& toks);
    value bits_or_bytes(std::string_view text, std::size_t pos);
    value cast(const value& l, const value& r, std::size_t pos);
    value hash(const value& l, const value& r, std::size_t pos);
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

// ([k:..] c:..; d:..): atoms broadcast to the length of the other columns, as in q.
value make_table(std::vector<std::pair<std::string, value>> cols, std::size_t pos) {
    uint64_t n = 0;
    bool any_list = false;
    for (const auto& [name, v] : cols) {
        if (is_atom(v)) continue;
        if (!(v.type >= 0 && v.type <= 19))
            throw parse_failure{pos, "column " + name + " is not a list"};
        if (any_list && length_of(v) != n)
            throw parse_failure{pos, "length: columns differ in length"};
        n = length_of(v);
        any_list = true;
    }
    std::vector<std::string> names;
    std::vector<value> values;
    for (auto& [name, v] : cols) {
        names.push_back(name);
        values.push_back(is_atom(v) ? take_items(v, int64_t(any_list ? n : 1)) : std::move(v));
    }
    return value::table(std::move(names), std::move(values));
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
    f.syms.push_back("");
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

value parser::dyad(value left, char op, value right, std::size_t pos) {
    if (op == ',') {  // enlist
        if (is_atom(right)) {
            if (right.type == -qtype::kSymbol) return value::symbols(std::move(right.syms));
            return value::fixed(int8_t(-right.type), std::move(right.raw));
        }
        const bool row = right.type == qtype::kDict && right.items[0].type == qtype::kSymbol &&
                         (right.items[1].type == qtype::kList ||
                          (right.items[1].type >= 1 && right.items[1].type <= 19));
        if (!row) return value::list({std::move(right)});
        std::vector<value> cols;  // enlist of a symbol-keyed dict is a one-row table, as in q
        for (uint64_t k = 0; k < length_of(right.items[1]); ++k) {
            value x = item_at(right.items[1], k);
            cols.push_back(is_atom(x) ? dyad(value::generic_null(), ',', std::move(x), pos)
                                      : value::list({std::move(x)}));
        }
        return value::table(right.items[0].syms, std::move(cols));
    }
    if (op == '+') {  // flip
        if (right.type == qtype::kTable) return std::move(right.items[0]);
        if (right.type != qtype::kDict || right.items[0].type != qtype::kSymbol ||
            right.items[1].type != qtype::kList)
            throw parse_failure{pos, "flip needs a dict of symbols to a list of columns"};
        std::vector<std::pair<std::string, value>> cols;
        for (std::size_t k = 0; k < right.items[0].syms.size(); ++k)
            cols.emplace_back(right.items[0].syms[k], std::move(right.items[1].items[k]));
        return make_table(std::move(cols), pos);
    }
    if (op == '$') return cast(left, right, pos);
    if (op == '#') return hash(left, right, pos);
    const bool listy = [&] {  // '!'
        const auto ok = [](const value& x) {
            return (x.type >= 0 && x.type <= 19) || x.type == qtype::kTable;
        };
        return ok(left) && ok(right);
    }();
    if (!listy) throw parse_failure{pos, "! needs lists (or tables) on both sides"};
    if (length_of(left) != length_of(right))
        throw parse_failure{pos, "length: keys and values differ"};
    return value::dict(std::move(left), std::move(right));
}

value parser::cast(const value& l, const value& r, std::size_t pos) {
    if (l.type == -qtype::kChar && l.raw[0] == 'G') {  // "G"$"8c680a01-..."
        std::vector<uint8_t> raw;
        const auto one = [&](const value& s) {
            const std::string text(s.raw.begin(), s.raw.end());
            if (s.type != qtype::kChar || !parse_guid(text, raw))
                throw parse_failure{
                    pos, "\"G\"$ needs a guid string like 8c680a01-5a49-5aab-5a65-d4bfddb6a661"};
        };
        if (r.type == qtype::kChar)
            one(r);
        else if (r.type == qtype::kList)
            for (const auto& x : r.items) one(x);
        else
            throw parse_failure{pos, "\"G\"$ needs a string or a list of strings"};
        return value::fixed(r.type == qtype::kChar ? -qtype::kGuid : qtype::kGuid, std::move(raw));
    }
    if (l.type != -qtype::kSymbol) throw parse_failure{pos, "unsupported cast"};
    const std::string& name = l.syms[0];
    if (name.empty()) {  // `$"a b" and `$("a";"b c")
        const auto text = [&](const value& s) {
            if (s.type == qtype::kChar || s.type == -qtype::kChar)
                return std::string(s.raw.begin(), s.raw.end());
            throw parse_failure{pos, "`$ needs a string or a list of strings"};
        };
        if (r.type != qtype::kList) return value::symbol(text(r));
        std::vector<std::string> syms;
        for (const auto& x : r.items) syms.push_back(text(x));
        return value::symbols(std::move(syms));
    }
    for (int t = 1; t <= 19; ++t) {
        if (name == kTypeNames[t] && r.type == qtype::kList && r.items.empty()) {
            if (t == qtype::kSymbol) return value::symbols({});
            return value::fixed(int8_t(t), {});
        }
    }
    throw parse_failure{pos, "only `type$() (an empty typed list) is supported"};
}

value parser::hash(const value& l, const value& r, std::size_t pos) {
    if (l.type == -qtype::kSymbol) {  // attributes `s# `u# `p# `g#
        static const std::string kAttrs = " supg";
        const std::size_t a = l.syms[0].size() == 1 ? kAttrs.find(l.syms[0][0]) : std::string::npos;
        if (a == std::string::npos || a == 0) throw parse_failure{pos, "unknown attribute"};
        value out = r;
        if (r.type == qtype::kDict && a == 1) {  // as q: the keys (or the key table) get `s#
            out.type = qtype::kSortedDict;
            out.items[0].attr = 1;
        } else if (r.type == qtype::kTable && a == 1) {  // q marks the first column `p#
            out.attr = 1;
            auto& cols = out.items.at(0).items.at(1).items;
            if (!cols.empty()) cols[0].attr = 3;
        } else if ((r.type >= 0 && r.type <= 19) || r.type == qtype::kTable) {
            out.attr = uint8_t(a);
        } else {
            throw parse_failure{pos, "attributes apply to lists, tables and dicts"};
        }
        return out;
    }
    int64_t n = 0;
    if (l.type == -qtype::kLong)
        std::memcpy(&n, l.raw.data(), 8);
    else if (l.type == -qtype::kInt)
        n = int32_t(l.raw[0] | l.raw[1] << 8 | l.raw[2] << 16 | l.raw[3] << 24);
    else
        throw parse_failure{pos, "# needs a count (or an attribute) on its left"};
    if (n > 10'000'000 || n < -10'000'000) throw parse_failure{pos, "take count too large"};
    if (!is_atom(r) && !(r.type >= 0 && r.type <= 19) && r.type != qtype::kTable) {
        throw parse_failure{pos, "# takes from an atom, a list or a table"};
    }
    if (length_of(r) == 0 && !is_atom(r) && n) throw parse_failure{pos, "take from an empty list"};
    return take_items(r, n);
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
