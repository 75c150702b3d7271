// Rendering q values as text, the pieces (see display_internal.h): one element of any
// fixed-width type as q prints it (integers with their nulls and infinities, floats at q's 7
// significant digits or shortest round-trip text, guids, and temporal values from their counts
// since 2000.01.01 with floor division, so dates before 2000 and negative times print as q
// prints them), char escaping, symbol and name quoting, and k's primitive names.
// Control-plane only, like display.cc: it allocates freely.

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>

#include "display_internal.h"

namespace qgate::qipc::disp {

namespace {

constexpr int64_t kNsPerDay = 86'400'000'000'000;

template <class T>
T load(const value& v, std::size_t i) {
    T x;
    std::memcpy(&x, v.raw.data() + i * sizeof(T), sizeof(T));
    return x;
}

int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

// Days since 2000.01.01 -> yyyy.mm.dd (proleptic Gregorian; H. Hinnant's civil_from_days).
std::string date_text(int64_t days) {
    const int64_t z = days + 10957 + 719468;
    const int64_t era = floor_div(z, 146097);
    const int64_t doe = z - era * 146097;
    const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const int64_t mp = (5 * doy + 2) / 153;
    const int64_t d = doy - (153 * mp + 2) / 5 + 1;
    const int64_t m = mp < 10 ? mp + 3 : mp - 9;
    const int64_t y = yoe + era * 400 + (m <= 2);
    char buf[48];
    std::snprintf(buf, sizeof buf, "%04lld.%02lld.%02lld", (long long)y, (long long)m,
                  (long long)d);
    return buf;
}

std::string month_text(int64_t months) {
    const int64_t y = 2000 + floor_div(months, 12);
    return fmt("%04lld", y) + fmt(".%02lld", months - (y - 2000) * 12 + 1);
}

// hh:mm:ss[.fff] from a count of 1/per_second seconds; hours are unbounded and the sign leads,
// as q prints times past 24h and negative times.
std::string clock_text(int64_t units, int64_t per_second, int frac_digits) {
    std::string out = units < 0 ? "-" : "";
    const uint64_t u = units < 0 ? 0 - uint64_t(units) : uint64_t(units);
    const uint64_t secs = u / uint64_t(per_second), frac = u % uint64_t(per_second);
    out += fmt_u("%02llu", secs / 3600) + fmt_u(":%02llu", secs / 60 % 60) +
           fmt_u(":%02llu", secs % 60);
    if (frac_digits == 3) out += fmt_u(".%03llu", frac);
    if (frac_digits == 9) out += fmt_u(".%09llu", frac);
    return out;
}

std::string timespan_text(int64_t ns) {
    const uint64_t u = ns < 0 ? 0 - uint64_t(ns) : uint64_t(ns);
    return (ns < 0 ? "-" : "") + fmt_u("%llu", u / uint64_t(kNsPerDay)) + "D" +
           clock_text(int64_t(u % uint64_t(kNsPerDay)), 1'000'000'000, 9);
}

// x - floor(x / per) * per, in [0, per): unsigned, because near INT64_MIN the product of the
// floored day and `per` is below INT64_MIN (signed overflow) while the difference is not.
int64_t time_of_day(int64_t x, int64_t days, int64_t per) {
    return int64_t(uint64_t(x) - uint64_t(days) * uint64_t(per));
}

std::string timestamp_text(int64_t ns) {
    const int64_t days = floor_div(ns, kNsPerDay);
    return date_text(days) + "D" + clock_text(time_of_day(ns, days, kNsPerDay), 1'000'000'000, 9);
}

std::string datetime_text(double days) {
    // Milliseconds past int64 (q cannot make such a datetime) show as infinite, like 0w.
    const double msd = days * 8.64e7;
    if (!(std::fabs(msd) < 9.2e18)) return msd > 0 ? "0W" : "-0W";
    const int64_t ms = std::llround(msd);
    const int64_t d = floor_div(ms, 86'400'000);
    return date_text(d) + "T" + clock_text(time_of_day(ms, d, 86'400'000), 1000, 3);
}

// Floats: %.Pg; show searches the shortest precision that reads back exactly.
std::string double_text(double x, mode m) {
    if (std::isnan(x)) return "0n";
    if (std::isinf(x)) return x > 0 ? "0w" : "-0w";
    char buf[40];
    for (int p = (m == mode::display ? 7 : 1); p <= 17; ++p) {
        std::snprintf(buf, sizeof buf, "%.*g", p, x);
        if (m == mode::display || std::strtod(buf, nullptr) == x) break;
    }
    return buf;
}

std::string real_text(float x, mode m) {
    if (std::isnan(x)) return "0N";
    if (std::isinf(x)) return x > 0 ? "0w" : "-0w";
    char buf[40];
    for (int p = (m == mode::display ? 7 : 1); p <= 9; ++p) {
        std::snprintf(buf, sizeof buf, "%.*g", p, double(x));
        if (m == mode::display || std::strtof(buf, nullptr) == x) break;
    }
    return buf;
}

// Integer element: q's null and infinities first. `bits` is the element width in bits.
template <class T>
std::string int_text(T x) {
    constexpr T kMax = std::numeric_limits<T>::max();
    if (x == std::numeric_limits<T>::min()) return "0N";
    if (x == kMax) return "0W";
    if (x == -kMax) return "-0W";
    return fmt("%lld", (long long)x);
}

bool plain_name(const std::string& s) {
    if (s.empty() || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z'))) return false;
    for (char c : s) {
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_'))
            return false;
    }
    return true;
}

// k's primitive tables: type 101 (unary) and 102 (binary) carry an index into these.
const char* const kVerbs = ":+-*%&|^=<>$,#_~!?@.";
const char* const kUnaryWords[] = {"0::", "1::", "2::",  "avg",    "last", "sum",  "prd",
                                   "min", "max", "exit", "getenv", "abs",  "sqrt", "log",
                                   "exp", "sin", "asin", "cos",    "acos", "tan",  "atan"};
const char* const kBinaryWords[] = {"0:",   "1:",     "2:",     "in",   "within", "like",
                                    "bin",  "ss",     "insert", "wsum", "wavg",   "div",
                                    "xexp", "setenv", "binr",   "cov",  "cor"};

}  // namespace

std::string fmt(const char* f, long long a) {
    char buf[32];
    std::snprintf(buf, sizeof buf, f, a);
    return buf;
}

std::string fmt_u(const char* f, unsigned long long a) {
    char buf[32];
    std::snprintf(buf, sizeof buf, f, a);
    return buf;
}

std::string guid_text(const value& v, std::size_t i) {
    static const char* const kHex = "0123456789abcdef";
    std::string out;
    for (int k = 0; k < 16; ++k) {
        if (k == 4 || k == 6 || k == 8 || k == 10) out += '-';
        const uint8_t b = v.raw[i * 16 + std::size_t(k)];
        out += kHex[b >> 4];
        out += kHex[b & 15];
    }
    return out;
}

bool is_special(const std::string& s) { return s == "0N" || s == "0W" || s == "-0W"; }

// One element of a fixed-width vector or atom, without the type suffix; nulls are "0N"
// (floats "0n") and infinities "0W"/"-0W" (floats "0w"/"-0w").
std::string elem_text(const value& v, std::size_t i, mode m) {
    const int t = v.type < 0 ? -v.type : v.type;
    switch (t) {
        case qtype::kBool: return v.raw[i] ? "1" : "0";
        case qtype::kGuid: return guid_text(v, i);
        case qtype::kByte: return fmt("%02llx", v.raw[i]);
        case qtype::kShort: return int_text(load<int16_t>(v, i));
        case qtype::kInt: return int_text(load<int32_t>(v, i));
        case qtype::kLong: return int_text(load<int64_t>(v, i));
        case qtype::kReal: return real_text(load<float>(v, i), m);
        case qtype::kFloat: return double_text(load<double>(v, i), m);
        case qtype::kChar: return std::string(1, char(v.raw[i]));
        default: break;
    }
    if (t == qtype::kTimestamp || t == qtype::kTimespan) {
        const int64_t x = load<int64_t>(v, i);
        std::string s = int_text(x);  // not const: returned by move
        if (is_special(s)) return s;
        return t == qtype::kTimestamp ? timestamp_text(x) : timespan_text(x);
    }
    if (t == qtype::kDatetime) {
        const double x = load<double>(v, i);
        if (std::isnan(x)) return "0N";
        if (std::isinf(x)) return x > 0 ? "0W" : "-0W";
        return datetime_text(x);
    }
    const int32_t x = load<int32_t>(v, i);
    std::string s = int_text(x);
    if (is_special(s)) return s;
    switch (t) {
        case qtype::kMonth: return month_text(x);
        case qtype::kDate: return date_text(x);
        case qtype::kMinute: {
            const uint64_t u = x < 0 ? 0 - uint64_t(int64_t(x)) : uint64_t(x);
            return (x < 0 ? "-" : "") + fmt_u("%02llu", u / 60) + fmt_u(":%02llu", u % 60);
        }
        case qtype::kSecond: return clock_text(x, 1, 0);
        default: return clock_text(x, 1000, 3);  // time
    }
}

// Null test for table and dict cells, which q leaves blank.
bool elem_is_null(const value& v, std::size_t i) {
    const int t = v.type < 0 ? -v.type : v.type;
    if (t == qtype::kGuid) {
        for (int k = 0; k < 16; ++k)
            if (v.raw[i * 16 + std::size_t(k)]) return false;
        return true;
    }
    if (t == qtype::kBool || t == qtype::kByte || t == qtype::kChar) return false;
    if (t == qtype::kReal) return std::isnan(load<float>(v, i));
    if (t == qtype::kFloat || t == qtype::kDatetime) return std::isnan(load<double>(v, i));
    return elem_text(v, i, mode::display) == "0N";
}

// The type letter q appends to atoms and vectors ('\0' for long, the default).
char suffix_of(int t) {
    static const char kLetters[] = " bg xhijefcspmdznuvt";
    return (t >= 1 && t <= 19 && t != qtype::kLong) ? kLetters[t] : '\0';
}

// Temporal and float texts that already show their type need no letter; "evident" items.
bool evident(int t, const std::string& s) {
    if (is_special(s) || s == "0n" || s == "0w" || s == "-0w") return t == qtype::kFloat;
    if (t == qtype::kFloat) return s.find_first_of(".e") != std::string::npos;
    return t == qtype::kTimestamp || t == qtype::kDate || t == qtype::kDatetime ||
           t == qtype::kTimespan || t >= qtype::kMinute;
}

std::string escape_chars(const uint8_t* p, std::size_t n) {
    std::string out = "\"";
    for (std::size_t i = 0; i < n; ++i) {
        const uint8_t c = p[i];
        if (c == '"' || c == '\\')
            out += {'\\', char(c)};
        else if (c == '\n')
            out += "\\n";
        else if (c == '\r')
            out += "\\r";
        else if (c == '\t')
            out += "\\t";
        else if (c < 0x20 || c == 0x7f)
            out += fmt("\\%03llo", c);
        else
            out += char(c);
    }
    return out + "\"";
}

bool plain_symbol(const std::string& s) {
    for (char c : s) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || c == '.' || c == '_' || c == ':' || c == '/';
        if (!ok) return false;
    }
    return true;
}

std::string primitive_text(int t, int index) {
    if (t == qtype::kIterator) return index < 6 ? kIterators[index] : fmt("iterator#%lld", index);
    if (t == qtype::kUnary && index == 0) return "::";
    if (index < 20) return std::string(1, kVerbs[index]) + (t == qtype::kUnary ? ":" : "");
    if (t == qtype::kUnary && index - 20 < int(std::size(kUnaryWords)))
        return kUnaryWords[index - 20];
    if (t == qtype::kBinary && index - 20 < int(std::size(kBinaryWords)))
        return kBinaryWords[index - 20];
    return fmt(t == qtype::kUnary ? "unary#%lld" : "binary#%lld", index);
}

uint64_t length_of(const value& v) {
    if (v.type == qtype::kSymbol) return v.syms.size();
    if (v.type >= 1 && v.type <= 19) return v.raw.size() / uint64_t(elem_size(v.type));
    if (v.type == qtype::kList) return v.items.size();
    return v.count();
}

// The dict of a table that ([] a:..) can write: plain identifier names, a list of columns.
const value* simple_table(const value& v) {
    if (v.type != qtype::kTable || v.attr || v.items.size() != 1) return nullptr;
    const value& d = v.items[0];
    if (d.items.size() != 2 || d.items[0].type != qtype::kSymbol ||
        d.items[1].type != qtype::kList || d.items[0].syms.size() != d.items[1].items.size()) {
        return nullptr;
    }
    for (const auto& s : d.items[0].syms) {
        if (!plain_name(s)) return nullptr;
    }
    return &d;
}

}  // namespace qgate::qipc::disp
