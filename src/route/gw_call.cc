// The TorQ gateway API (seed 003): `.gw.syncexec[query;servertypes]`, `.gw.syncexecj[...;join]`,
// `.gw.asyncexec[query;servertypes]`, `.gw.asyncexecjpt[...;join;postback;timeout]`, sent as a
// general list or as a string. Splits the call into views of its parameters (one walk of the
// list) so the engine can forward the query's exact bytes to each server type's group.

#include <limits>

#include "qgate/route/classify.h"
#include "route/text_scan.h"

namespace qgate::route {
namespace {

uint32_t arity(gw_kind k) {
    switch (k) {
    case gw_kind::syncexec: case gw_kind::asyncexec: return 2;
    case gw_kind::syncexecj: return 3;
    case gw_kind::asyncexecjpt: return 5;
    case gw_kind::none: break;
    }
    return 0;
}

arg_view* slot(gw_call& g, uint32_t k) {
    switch (k) {
    case 1: return &g.query;
    case 2: return &g.servertypes;
    case 3: return &g.join;
    case 4: return &g.postback;
    case 5: return &g.timeout;
    default: return nullptr;
    }
}

int64_t read_i64(const uint8_t* p, bool le) {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= uint64_t{p[i]} << (le ? 8 * i : 8 * (7 - i));
    return static_cast<int64_t>(v);
}

/// Reads unsigned decimal digits at `s`; false when there are none.
bool read_uint(std::string_view& s, int64_t& v) {
    size_t n = 0;
    v = 0;
    while (n < s.size() && text::is_digit(s[n]) && n < 12) v = v * 10 + (s[n++] - '0');
    s.remove_prefix(n);
    return n > 0;
}

/// "[dD]hh:mm[:ss[.fff]]" with an optional trailing 'n' (q timespan/time literal) → ms.
bool parse_duration(std::string_view s, int64_t& ms) {
    int64_t days = 0, h = 0, m = 0, sec = 0, frac_ms = 0;
    if (!read_uint(s, h)) return false;
    if (!s.empty() && s[0] == 'D') {
        days = h;
        s.remove_prefix(1);
        if (!read_uint(s, h)) return false;
    }
    if (s.empty() || s[0] != ':') return false;
    s.remove_prefix(1);
    if (!read_uint(s, m)) return false;
    if (!s.empty() && s[0] == ':') {
        s.remove_prefix(1);
        if (!read_uint(s, sec)) return false;
        if (!s.empty() && s[0] == '.') {
            s.remove_prefix(1);
            int64_t scale = 100;
            for (; !s.empty() && text::is_digit(s[0]); s.remove_prefix(1), scale /= 10) {
                frac_ms += (s[0] - '0') * scale;
            }
        }
    }
    if (!s.empty() && s[0] == 'n') s.remove_prefix(1);
    if (!s.empty()) return false;
    // Each part has at most 12 digits, so days alone can pass int64 once in ms: overflow is
    // checked (signed overflow is undefined) and saturates, then gw_timeout_ms clamps.
    int64_t total = 0;
    if (__builtin_mul_overflow(days, int64_t{86'400'000}, &total) ||
        __builtin_add_overflow(total, h * 3'600'000 + m * 60'000 + sec * 1000 + frac_ms, &total)) {
        total = std::numeric_limits<int64_t>::max();
    }
    ms = total;
    return true;
}

// A fan-out's timer takes 32-bit ms (about 49.7 days): a longer timeout waits that long,
// rather than wrapping to an arbitrary short one.
bool clamp_timeout(int64_t& ms) {
    if (ms > int64_t{kGwTimeoutMaxMs}) ms = kGwTimeoutMaxMs;
    return true;
}

/// A minute, second or time atom (TorQ adds the timeout to a timestamp, which q accepts for
/// each of them as for a timespan) in ms; nulls, infinities and negatives are none (-1).
/// False for any other object.
bool temporal_ms(const qipc::object_view& o, bool le, int64_t& ms) {
    int64_t unit_ms = 0;
    if (o.type == -qipc::qtype::kMinute) unit_ms = 60'000;
    if (o.type == -qipc::qtype::kSecond) unit_ms = 1000;
    if (o.type == -qipc::qtype::kTime) unit_ms = 1;
    if (unit_ms == 0 || o.bytes.size() != 5) return false;
    uint32_t u = 0;
    for (int i = 0; i < 4; ++i) u |= uint32_t{o.bytes[1 + i]} << (le ? 8 * i : 8 * (3 - i));
    const auto v = static_cast<int32_t>(u);
    const bool none = v < 0 || v == std::numeric_limits<int32_t>::max();  // 0N, -0W, 0W
    ms = none ? -1 : v * unit_ms;
    return true;
}

}  // namespace

bool parse_gw(const call_info& call, gw_call& out) {
    out = gw_call{};
    const uint32_t n = arity(call.gw);
    if (n == 0 || call.arg_count != n) return false;
    out.kind = call.gw;
    if (call.form == call_form::string) {
        for (uint32_t k = 1; k <= n; ++k) {
            if (!call_arg(call, k, *slot(out, k))) return false;
        }
    } else {
        const qipc::walker w(call.body, call.little_endian);
        qipc::child_cursor cur(w, call.object);
        qipc::object_view skip;
        if (!cur.next(skip)) return false;  // the function name
        for (uint32_t k = 1; k <= n; ++k) {
            arg_view* a = slot(out, k);
            a->little_endian = call.little_endian;
            if (!cur.next(a->object)) return false;
        }
    }
    return name_list(out.servertypes).valid();
}

bool gw_timeout_ms(const arg_view& timeout, int64_t& ms) {
    ms = -1;
    if (timeout.is_text) {
        const std::string_view t = text::trim(timeout.text);
        if (t == "0Wn" || t == "0Nn" || t == "0W" || t == "0N" || t == "()" || t == "::") {
            return true;
        }
        return parse_duration(t, ms) && clamp_timeout(ms);
    }
    const qipc::object_view& o = timeout.object;
    if ((o.type == qipc::qtype::kList && o.count == 0) || o.type == qipc::qtype::kUnary) {
        return true;  // () or (::): no timeout
    }
    if (temporal_ms(o, timeout.little_endian, ms)) return clamp_timeout(ms);
    if (o.type != -qipc::qtype::kTimespan || o.bytes.size() != 9) return false;
    const int64_t ns = read_i64(o.bytes.data() + 1, timeout.little_endian);
    if (ns == std::numeric_limits<int64_t>::min() || ns == std::numeric_limits<int64_t>::max() ||
        ns < 0) {
        return true;  // 0Nn / 0Wn: none
    }
    ms = ns / 1'000'000;
    return clamp_timeout(ms);
}

}  // namespace qgate::route
