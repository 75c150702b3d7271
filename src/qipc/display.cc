// Rendering q values as text: display() = the q console's layout, show() = a one-line q
// expression (like -3!) that parse_literal (literal.cc) and q itself read back.
//
// Design note: control-plane only (the qipc tool, error messages, the admin interface); it
// allocates freely and never runs on the data plane. One renderer walks the value tree; the
// mode decides the three differences between the two outputs:
//  * floats: display uses q's default 7 significant digits (\P 7), show the shortest text that
//    reads back to the same double, so show() round-trips;
//  * guids: display prints the bare text as q does, show writes "G"$"..." so it parses back;
//  * size: display is bounded (kItemsMax items per vector or list, kRowsMax rows per table or
//    dict, kCharsMax characters in all, each cut marked "..") because a decoded frame may be
//    huge; show is complete, because a truncated expression would not mean the same value.
// Temporal values are formatted from their integer counts since 2000.01.01 with floor
// division, so dates before 2000 and negative times print as q prints them.

#include "qgate/qipc/display.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <vector>

namespace qgate::qipc {

namespace {

constexpr std::size_t kItemsMax = 500;      // display: items of one vector or list
constexpr std::size_t kRowsMax = 50;        // display: rows of one table or dict
constexpr std::size_t kCharsMax = 1 << 16;  // display: total output, then ".."
constexpr int64_t kNsPerDay = 86'400'000'000'000;

enum class mode { show, display };

template <class T>
T load(const value& v, std::size_t i) {
    T x;
    std::memcpy(&x, v.raw.data() + i * sizeof(T), sizeof(T));
    return x;
}

int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

std::string fmt(const char* f, long long a) {
    char buf[32];
    std::snprintf(buf, sizeof buf, f, a);
    return buf;
}

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
    out += fmt("%02lld", secs / 3600) + fmt(":%02lld", secs / 60 % 60) + fmt(":%02lld", secs % 60);
    if (frac_digits == 3) out += fmt(".%03lld", frac);
    if (frac_digits == 9) out += fmt(".%09lld", frac);
    return out;
}

std::string timespan_text(int64_t ns) {
    const uint64_t u = ns < 0 ? 0 - uint64_t(ns) : uint64_t(ns);
    return (ns < 0 ? "-" : "") + fmt("%lld", u / uint64_t(kNsPerDay)) + "D" +
           clock_text(int64_t(u % uint64_t(kNsPerDay)), 1'000'000'000, 9);
}

std::string timestamp_text(int64_t ns) {
    const int64_t days = floor_div(ns, kNsPerDay);
    return date_text(days) + "D" + clock_text(ns - days * kNsPerDay, 1'000'000'000, 9);
}

std::string datetime_text(double days) {
    const int64_t ms = std::llround(days * 8.64e7);
    const int64_t d = floor_div(ms, 86'400'000);
    return date_text(d) + "T" + clock_text(ms - d * 86'400'000, 1000, 3);
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

std::string guid_text(const value& v, std::size_t i) {
    static const char* kHex = "0123456789abcdef";
    std::string out;
    for (int k = 0; k < 16; ++k) {
        if (k == 4 || k == 6 || k == 8 || k == 10) out += '-';
        const uint8_t b = v.raw[i * 16 + std::size_t(k)];
        out += kHex[b >> 4];
        out += kHex[b & 15];
    }
    return out;
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
        const std::string s = int_text(x);
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
    const std::string s = int_text(x);
    if (is_special(s)) return s;
    switch (t) {
        case qtype::kMonth: return month_text(x);
        case qtype::kDate: return date_text(x);
        case qtype::kMinute: {
            const uint64_t u = x < 0 ? 0 - uint64_t(int64_t(x)) : uint64_t(x);
            return (x < 0 ? "-" : "") + fmt("%02lld", u / 60) + fmt(":%02lld", u % 60);
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

bool plain_name(const std::string& s) {
    if (s.empty() || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z'))) return false;
    for (char c : s) {
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_'))
            return false;
    }
    return true;
}

const char* kTypeNames[] = {"",         "boolean",  "guid",      "",       "byte",
                            "short",    "int",      "long",      "real",   "float",
                            "char",     "symbol",   "timestamp", "month",  "date",
                            "datetime", "timespan", "minute",    "second", "time"};

// k's primitive tables: type 101 (unary) and 102 (binary) carry an index into these.
const char* kVerbs = ":+-*%&|^=<>$,#_~!?@.";
const char* kUnaryWords[] = {"0::", "1::", "2::",  "avg",    "last", "sum",  "prd",
                             "min", "max", "exit", "getenv", "abs",  "sqrt", "log",
                             "exp", "sin", "asin", "cos",    "acos", "tan",  "atan"};
const char* kBinaryWords[] = {"0:",   "1:",     "2:",     "in",   "within", "like",
                              "bin",  "ss",     "insert", "wsum", "wavg",   "div",
                              "xexp", "setenv", "binr",   "cov",  "cor"};
const char* kIterators[] = {"'", "/", "\\", "':", "/:", "\\:"};

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

class renderer {
  public:
    explicit renderer(mode m) : mode_(m) {}

    std::string take() { return std::move(out_); }
    void line(const value& v);     // one-line expression
    void console(const value& v);  // q console layout (display only)

  private:
    bool full() const { return mode_ == mode::display && out_.size() > kCharsMax; }
    std::size_t items_max() const { return mode_ == mode::display ? kItemsMax : SIZE_MAX; }
    void atom(const value& v);
    void vector(const value& v);
    void empty_vector(const value& v);
    void guid_item(const value& v, std::size_t i);
    void symbols(const value& v);
    void general(const value& v);
    void dict_line(const value& v);
    bool keyed_line(const value& k, const value& val);
    void table_line(const value& v);
    void columns_line(const value& names, const value& cols);
    void function(const value& v);
    std::string cell(const value& col, std::size_t i);
    void grid(const std::vector<std::vector<std::string>>& cols, std::size_t key_cols,
              std::size_t rows, bool cut);
    void add_columns(const value& table, std::vector<std::vector<std::string>>& cols,
                     std::size_t rows);
    void add_cells(const value& col, std::string header, std::vector<std::vector<std::string>>& out,
                   std::size_t rows);

    mode mode_;
    std::string out_;
};

void renderer::line(const value& v) {
    if (full()) return;
    if (v.attr >= 1 && v.attr <= 4 && v.type >= 0 && v.type <= 19) {
        out_ += std::string("`") + " supg"[v.attr] + "#";
    }
    if (v.type == qtype::kError) {
        out_ += "'" + (plain_symbol(v.syms.at(0))
                           ? v.syms[0]
                           : escape_chars(reinterpret_cast<const uint8_t*>(v.syms[0].data()),
                                          v.syms[0].size()));
    } else if (v.type == -qtype::kSymbol) {
        if (plain_symbol(v.syms.at(0)))
            out_ += "`" + v.syms[0];
        else
            out_ += "`$" + escape_chars(reinterpret_cast<const uint8_t*>(v.syms[0].data()),
                                        v.syms[0].size());
    } else if (v.type < 0) {
        atom(v);
    } else if (v.type == qtype::kSymbol) {
        symbols(v);
    } else if (v.type >= 1 && v.type <= 19) {
        vector(v);
    } else if (v.type == qtype::kList) {
        general(v);
    } else if (v.type == qtype::kDict || v.type == qtype::kSortedDict) {
        dict_line(v);
    } else if (v.type == qtype::kTable) {
        table_line(v);
    } else {
        function(v);
    }
}

void renderer::atom(const value& v) {
    const int t = -v.type;
    if (t == qtype::kChar) {
        out_ += escape_chars(v.raw.data(), 1);
        return;
    }
    if (t == qtype::kGuid) {
        if (mode_ == mode::display)
            out_ += guid_text(v, 0);
        else
            guid_item(v, 0);
        return;
    }
    const std::string s = elem_text(v, 0, mode_);
    if (t == qtype::kByte) {
        out_ += "0x" + s;
    } else if (t == qtype::kFloat) {
        out_ += s + (evident(t, s) ? "" : "f");
    } else if (t == qtype::kReal) {
        out_ += (s == "0w" ? "0W" : s == "-0w" ? "-0W" : s) + "e";
    } else if (t == qtype::kMonth && !is_special(s)) {
        out_ += s + "m";
    } else {
        const char suffix = suffix_of(t);
        out_ += s;
        if (suffix && (is_special(s) || !evident(t, s))) out_ += suffix;
    }
}

void renderer::guid_item(const value& v, std::size_t i) {
    if (elem_is_null(v, i))
        out_ += "0Ng";
    else
        out_ += "\"G\"$\"" + guid_text(v, i) + "\"";
}

void renderer::empty_vector(const value& v) {
    if (v.type == qtype::kChar)
        out_ += "\"\"";
    else
        out_ += std::string("`") + kTypeNames[v.type] + "$()";
}

void renderer::vector(const value& v) {
    const std::size_t n = length_of(v);
    const int t = v.type;
    if (n == 0) return empty_vector(v);
    if (t == qtype::kChar) {
        if (n == 1) out_ += ",";
        const std::size_t shown = std::min(n, items_max() * 8);
        out_ += escape_chars(v.raw.data(), shown);
        if (shown < n) out_ += "..";
        return;
    }
    if (n == 1) out_ += ",";
    const std::size_t shown = std::min<std::size_t>(n, items_max());
    if (t == qtype::kGuid && mode_ == mode::show) {
        if (n > 1) out_ += "(";
        for (std::size_t i = 0; i < n; ++i) {
            if (i) out_ += ";";
            guid_item(v, i);
        }
        if (n > 1) out_ += ")";
        return;
    }
    if (t == qtype::kBool || t == qtype::kByte) {
        if (t == qtype::kByte) out_ += "0x";
        for (std::size_t i = 0; i < shown && !full(); ++i) out_ += elem_text(v, i, mode_);
        out_ += shown < n ? ".." : (t == qtype::kBool ? "b" : "");
        return;
    }
    bool any_evident = false;
    for (std::size_t i = 0; i < shown && !full(); ++i) {
        std::string s = elem_text(v, i, mode_);
        if (t == qtype::kReal && (s == "0w" || s == "-0w")) s = s == "0w" ? "0W" : "-0W";
        any_evident = any_evident || evident(t, s);
        if (i) out_ += " ";
        out_ += s;
    }
    if (shown < n || full()) {
        out_ += "..";
        return;
    }
    const char suffix = suffix_of(t);
    const bool always =
        t == qtype::kShort || t == qtype::kInt || t == qtype::kReal || t == qtype::kMonth;
    if (suffix && t != qtype::kGuid && (always || !any_evident)) out_ += suffix;
}

void renderer::symbols(const value& v) {
    const std::size_t n = v.syms.size();
    if (n == 0) return empty_vector(v);
    bool plain = true;
    for (const auto& s : v.syms) plain = plain && plain_symbol(s);
    if (n == 1) out_ += ",";
    const std::size_t shown = std::min<std::size_t>(n, items_max());
    if (!plain) {  // `$("a b";"c"): a cast that q and parse_literal both read
        out_ += n > 1 ? "`$(" : "`$";
        for (std::size_t i = 0; i < shown && !full(); ++i) {
            if (i) out_ += ";";
            const auto& s = v.syms[i];
            out_ += (s.size() == 1 ? "," : "") +
                    escape_chars(reinterpret_cast<const uint8_t*>(s.data()), s.size());
        }
        out_ += shown < n ? ".." : (n > 1 ? ")" : "");
        return;
    }
    for (std::size_t i = 0; i < shown && !full(); ++i) out_ += "`" + v.syms[i];
    if (shown < n || full()) out_ += "..";
}

void renderer::general(const value& v) {
    const std::size_t n = v.items.size();
    if (n == 0) {
        out_ += "()";
        return;
    }
    if (n == 1) {  // as q's -3!; a single atom item reads back as a vector (q's own limit)
        out_ += ",";
        return line(v.items[0]);
    }
    out_ += "(";
    const std::size_t shown = std::min<std::size_t>(n, items_max());
    for (std::size_t i = 0; i < shown && !full(); ++i) {
        if (i) out_ += ";";
        line(v.items[i]);
    }
    out_ += shown < n || full() ? "..)" : ")";
}

void renderer::dict_line(const value& v) {
    if (v.items.size() != 2) {
        out_ += "()!()";
        return;
    }
    value k = v.items[0];
    const value& val = v.items[1];
    if (v.type == qtype::kSortedDict) {
        out_ += "`s#";
        k.attr = 0;  // `s# is written once, in front of the whole dict
    }
    if (keyed_line(k, val)) return;
    // The left operand of ! must be a noun: vectors of 2+ items, (..) lists and ([]..) tables;
    // anything written with a verb (,x `s#x `$x) goes in parentheses.
    renderer key(mode_);
    key.line(k);
    const std::string text = key.take();
    const bool bare = ((k.type >= 1 && k.type <= 19 && length_of(k) > 1) ||
                       (k.type == qtype::kList && length_of(k) != 1) || k.type == qtype::kTable) &&
                      !k.attr && text.rfind("`$", 0) != 0 && text[0] != ',';
    out_ += bare ? text : "(" + text + ")";
    out_ += "!";
    line(val);
}

// ([k:..] v:..) for a keyed table whose two halves are simple tables.
bool renderer::keyed_line(const value& k, const value& val) {
    const value* kd = simple_table(k);
    const value* vd = simple_table(val);
    if (!kd || !vd || kd->items[0].syms.empty()) return false;
    out_ += "([";
    columns_line(kd->items[0], kd->items[1]);
    out_ += "] ";
    columns_line(vd->items[0], vd->items[1]);
    out_ += ")";
    return true;
}

void renderer::columns_line(const value& names, const value& cols) {
    for (std::size_t i = 0; i < names.syms.size(); ++i) {
        if (i) out_ += "; ";
        out_ += names.syms[i] + ":";
        if (i < cols.items.size()) line(cols.items[i]);
    }
}

// A table is ([] a:..; b:..) when simple_table allows, else flip `a`b!(..).
void renderer::table_line(const value& v) {
    if (v.attr) out_ += "`s#";
    value plain = v;
    plain.attr = 0;
    const value* d = simple_table(plain);
    if (!d) {
        out_ += "flip ";
        if (!v.items.empty()) line(v.items[0]);
        return;
    }
    out_ += "([] ";
    columns_line(d->items[0], d->items[1]);
    out_ += ")";
}

void renderer::function(const value& v) {
    const int t = v.type;
    if (t == qtype::kLambda) {
        const value* src = v.items.empty() ? nullptr : &v.items[0];
        if (src && src->type == qtype::kChar) out_.append(src->raw.begin(), src->raw.end());
        return;
    }
    if (t >= qtype::kUnary && t <= qtype::kIterator) {
        out_ += primitive_text(t, v.raw.empty() ? 0 : v.raw[0]);
        return;
    }
    if (t == qtype::kProjection && !v.items.empty()) {
        const value& f = v.items[0];
        // A verb with its left argument bound reads as q writes it: -15! (md5).
        if (f.type == qtype::kBinary && v.items.size() == 2 && !f.raw.empty() && f.raw[0] < 20) {
            line(v.items[1]);
            return line(f);
        }
        line(f);
        out_ += "[";
        for (std::size_t i = 1; i < v.items.size(); ++i) {
            if (i > 1) out_ += ";";
            const value& a = v.items[i];
            if (!(a.type == qtype::kUnary && !a.raw.empty() && a.raw[0] == 0)) line(a);
        }
        out_ += "]";
        return;
    }
    if (t == qtype::kComposition) {
        out_ += "'[";
        for (std::size_t i = 0; i < v.items.size(); ++i) {
            if (i) out_ += ";";
            line(v.items[i]);
        }
        out_ += "]";
        return;
    }
    if (t >= qtype::kEach && t <= qtype::kEachRight && !v.items.empty()) {
        line(v.items[0]);
        out_ += kIterators[t - qtype::kEach];
        return;
    }
    out_ += fmt("<type %lld>", t);
}

// A table or dict cell: typed-vector items bare (no suffix, no backtick, nulls blank), general
// list items as one-line expressions, as the q console prints them.
std::string renderer::cell(const value& col, std::size_t i) {
    if (col.type == qtype::kSymbol) return col.syms[i];
    if (col.type >= 1 && col.type <= 19) {
        if (elem_is_null(col, i) && col.type != qtype::kChar) return "";
        std::string s = elem_text(col, i, mode::display);
        return col.type == qtype::kReal && s == "0w" ? "0W" : s;
    }
    renderer r(mode::display);
    if (col.type == qtype::kList) r.line(col.items[i]);
    return r.take();
}

void renderer::add_cells(const value& col, std::string header,
                         std::vector<std::vector<std::string>>& out, std::size_t rows) {
    std::vector<std::string> cells{std::move(header)};
    const std::size_t n = std::min<std::size_t>(rows, length_of(col));
    for (std::size_t i = 0; i < n; ++i) cells.push_back(cell(col, i));
    cells.resize(rows + 1);
    out.push_back(std::move(cells));
}

void renderer::add_columns(const value& table, std::vector<std::vector<std::string>>& out,
                           std::size_t rows) {
    const value& d = table.items.at(0);
    const value& names = d.items.at(0);
    const value& cols = d.items.at(1);
    for (std::size_t j = 0; j < names.syms.size(); ++j) {
        static const value kEmpty = value::list({});
        add_cells(j < cols.items.size() ? cols.items[j] : kEmpty, names.syms[j], out, rows);
    }
}

// Writes header, dashes and rows; `key_cols` columns go left of "|".
void renderer::grid(const std::vector<std::vector<std::string>>& cols, std::size_t key_cols,
                    std::size_t rows, bool cut) {
    std::vector<std::size_t> width;
    for (const auto& c : cols) {
        std::size_t w = 0;
        for (const auto& s : c) w = std::max(w, s.size());
        width.push_back(w);
    }
    std::vector<std::string> lines(rows + 2);
    for (std::size_t j = 0; j < cols.size(); ++j) {
        const bool last_key = key_cols && j + 1 == key_cols;
        const bool last = j + 1 == cols.size();
        for (std::size_t r = 0; r < rows + 2; ++r) {
            const std::size_t row = r == 0 ? 0 : r - 1;
            std::string s = r == 1 ? std::string(width[j], '-') : cols[j][row];
            s.resize(width[j], ' ');
            lines[r] += s;
            if (last_key) lines[r] += "|";
            if (!last) lines[r] += (r == 1 && !last_key) ? "-" : " ";
        }
    }
    for (auto& l : lines) {
        while (!l.empty() && l.back() == ' ') l.pop_back();
        out_ += l + "\n";
    }
    if (cut) out_ += "..\n";
}

void renderer::console(const value& v) {
    const bool dict =
        (v.type == qtype::kDict || v.type == qtype::kSortedDict) && v.items.size() == 2;
    const bool table_ok =
        v.type == qtype::kTable && !v.items.empty() && v.items[0].items.size() == 2 &&
        v.items[0].items[0].type == qtype::kSymbol && v.items[0].items[1].type == qtype::kList;
    std::vector<std::vector<std::string>> cols;
    if (table_ok) {
        const std::size_t n = v.count(), rows = std::min(n, kRowsMax);
        add_columns(v, cols, rows);
        return grid(cols, 0, rows, rows < n);
    }
    if (!dict) return line(v);
    const value& k = v.items[0];
    const value& val = v.items[1];
    const auto list_like = [](const value& x) {
        return (x.type >= 0 && x.type <= 19) || x.type == qtype::kTable;
    };
    if (!list_like(k) || !list_like(val) || length_of(k) != length_of(val) ||
        (k.type == qtype::kTable && val.type != qtype::kTable)) {
        return line(v);
    }
    const std::size_t n = length_of(k), rows = std::min(n, kRowsMax);
    if (k.type == qtype::kTable)
        add_columns(k, cols, rows);
    else
        add_cells(k, "", cols, rows);
    const std::size_t key_cols = cols.size();
    if (val.type == qtype::kTable) {
        add_columns(val, cols, rows);
        return grid(cols, key_cols, rows, rows < n);
    }
    // Plain dict: no header, "key| value" lines.
    add_cells(val, "", cols, rows);
    std::size_t w = 0;
    for (std::size_t r = 1; r <= rows; ++r) w = std::max(w, cols[0][r].size());
    for (std::size_t r = 1; r <= rows; ++r) {
        std::string key = cols[0][r];
        key.resize(w, ' ');
        std::string l = key + "| " + cols[1][r];
        while (!l.empty() && l.back() == ' ') l.pop_back();
        out_ += l + "\n";
    }
    if (rows < n) out_ += "..\n";
}

}  // namespace

std::string display(const value& v) {
    renderer r(mode::display);
    r.console(v);
    std::string out = r.take();
    if (out.size() > kCharsMax) out.resize(kCharsMax), out += "..";
    while (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
}

std::string show(const value& v) {
    renderer r(mode::show);
    r.line(v);
    return r.take();
}

}  // namespace qgate::qipc
