// parse_literal, numeric tokens (see literal_internal.h): the forms a number can take (integer,
// decimal, date, timestamp, datetime, timespan, clock, null, infinity), q's rule for the type
// of a vector of them, and element_writer, which converts each token to the element bytes of
// that type. Dates and times become integer counts since 2000.01.01 exactly as q stores them;
// anything a type cannot hold is a parse_failure at the token's position, never a silent wrap.

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <optional>
#include <string>

#include "literal_internal.h"

namespace qgate::qipc::literal {

namespace {

constexpr int64_t kNsPerDay = 86'400'000'000'000;

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

}  // namespace

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

namespace {

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

}  // namespace

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

namespace {

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

}  // namespace

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

}  // namespace qgate::qipc::literal
