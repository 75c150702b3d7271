// qmock's stored procedures: the functions a request may call (see README.md for the list).
//
// Each function gets the encoded arguments and fills a reply; errors are q errors (`'type`,
// `'rank`, `'domain`, `'limit`, or the text given to fail[]). Functions that talk back to the
// caller (callback, defer, deferred) use the connection in the call context, i.e. `.z.w`.
// `sleep` blocks the whole process on purpose: q is single-threaded and so is qmock.
// Runs on the server thread only.
#include <time.h>

#include <algorithm>
#include <cstring>

#include "qgate/qipc/frame.h"
#include "qgate/qipc/walker.h"
#include "request.h"
#include "server.h"

namespace qmock {
namespace {

namespace qipc = qgate::qipc;
using qipc::msg_type;

constexpr uint8_t kGenericNull[] = {0x65, 0x00};

qipc::object_view view_of(arg a) {
    qipc::object_view v;
    qipc::walker w(a, true);
    (void)w.at(0, v);
    return v;
}

/// Reads an integral atom (short, int, long; or a whole float, as JavaScript clients such as
/// node-q send every number as a float) into `out`.
bool as_long(arg a, int64_t& out) {
    if (a.empty()) return false;
    auto t = static_cast<int8_t>(a[0]);
    if ((t == -qipc::qtype::kLong || t == -qipc::qtype::kFloat) && a.size() >= 9) {
        uint64_t v = 0;
        for (int i = 7; i >= 0; --i) v = (v << 8) | a[1 + i];
        if (t == -qipc::qtype::kLong) return out = static_cast<int64_t>(v), true;
        double d = 0;
        std::memcpy(&d, &v, 8);
        if (!(d >= -9.0e18 && d <= 9.0e18) || d != static_cast<double>(static_cast<int64_t>(d)))
            return false;
        out = static_cast<int64_t>(d);
    } else if (t == -qipc::qtype::kInt && a.size() >= 5) {
        out = static_cast<int32_t>(qipc::load_u32(a.data() + 1, true));
    } else if (t == -qipc::qtype::kShort && a.size() >= 3) {
        out = static_cast<int16_t>(a[1] | a[2] << 8);
    } else {
        return false;
    }
    return true;
}

/// Reads a symbol atom, char vector or char atom as text.
bool as_text(arg a, std::string& out) {
    qipc::object_view v = view_of(a);
    if (v.type == -qipc::qtype::kSymbol) out = std::string(qipc::symbol_text(v));
    else if (v.type == qipc::qtype::kChar) out = std::string(qipc::char_text(v));
    else if (v.type == -qipc::qtype::kChar && a.size() >= 2) out.assign(1, char(a[1]));
    else return false;
    return true;
}

/// q's `(f;x)`: two atoms of one type collapse into a 2-item vector, anything else is a
/// general list.
std::vector<uint8_t> pair_of(arg f, arg x) {
    auto tf = static_cast<int8_t>(f[0]);
    auto tx = static_cast<int8_t>(x[0]);
    std::vector<uint8_t> out;
    if (tf == tx && tf < 0 && tf != qipc::qtype::kError) {
        out = {static_cast<uint8_t>(-tf), 0, 2, 0, 0, 0};
        out.insert(out.end(), f.begin() + 1, f.end());  // symbols keep their NUL
        out.insert(out.end(), x.begin() + 1, x.end());
        return out;
    }
    out = {0, 0, 2, 0, 0, 0};
    out.insert(out.end(), f.begin(), f.end());
    out.insert(out.end(), x.begin(), x.end());
    return out;
}

bool want_args(std::span<const arg> args, std::size_t lo, std::size_t hi, reply& out) {
    if (args.size() >= lo && args.size() <= hi) return true;
    out.set_error("rank");
    return false;
}

void fn_echo(call&, std::span<const arg> args, reply& out) {
    if (!want_args(args, 0, 1, out)) return;
    out.set_value(args.empty() ? std::span<const uint8_t>(kGenericNull) : args[0]);
}

void fn_whoami(call& ctx, std::span<const arg> args, reply& out) {
    if (want_args(args, 0, 1, out)) out.set_value(qipc::value::symbol(ctx.c.user));
}

void fn_name(call& ctx, std::span<const arg> args, reply& out) {
    if (want_args(args, 0, 1, out)) out.set_value(qipc::value::symbol(ctx.srv.opts().name));
}

/// tag[x]: (name; x), so a test can tell which backend answered which call.
void fn_tag(call& ctx, std::span<const arg> args, reply& out) {
    if (!want_args(args, 1, 1, out)) return;
    const std::string& n = ctx.srv.opts().name;
    std::vector<uint8_t> sym{static_cast<uint8_t>(-qipc::qtype::kSymbol)};
    sym.insert(sym.end(), n.begin(), n.end());
    sym.push_back(0);
    out.set_owned(pair_of(sym, args[0]));
}

/// seq[x]: (n; x), n = how many seq calls this process has served before (0, 1, ...): the
/// order in which the backend ran them, whatever order the replies reach their callers.
void fn_seq(call&, std::span<const arg> args, reply& out) {
    static int64_t served = 0;
    if (!want_args(args, 1, 1, out)) return;
    std::vector<uint8_t> n(9);
    n[0] = static_cast<uint8_t>(-qipc::qtype::kLong);
    const uint64_t v = static_cast<uint64_t>(served++);
    for (int i = 0; i < 8; ++i) n[1 + i] = static_cast<uint8_t>(v >> (8 * i));
    out.set_owned(pair_of(n, args[0]));
}

/// Blocks the whole process for `ms`, as a busy q does; replies already made go out first.
void block_ms(server& srv, int64_t ms) {
    srv.flush_all();
    timespec ts{static_cast<time_t>(ms / 1000), static_cast<long>(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/// Under --zpg none (a plain q process, no .z.pg) nothing can be answered later: work that
/// a -30! backend defers is done in place instead, blocking the process.
bool can_defer(const call& ctx) { return ctx.srv.opts().zpg == zpg_mode::defer; }

void fn_sleep(call& ctx, std::span<const arg> args, reply& out) {
    int64_t ms = 0;
    if (!want_args(args, 1, 1, out)) return;
    if (!as_long(args[0], ms)) return out.set_error("type");
    if (ms < 0) return out.set_error("domain");
    block_ms(ctx.srv, ms);
    out.set_value(args[0]);
}

void fn_fail(call&, std::span<const arg> args, reply& out) {
    std::string text;
    if (!want_args(args, 1, 1, out)) return;
    if (!as_text(args[0], text)) return out.set_error("type");
    out.set_error(text);
}

void fn_get_trades(call& ctx, std::span<const arg> args, reply& out) {
    std::string sym;
    int64_t n = ctx.srv.opts().rows;
    if (!want_args(args, 1, 2, out)) return;
    if (!as_text(args[0], sym)) return out.set_error("type");
    if (args.size() == 2 && !as_long(args[1], n)) return out.set_error("type");
    if (n < 0) return out.set_error("domain");
    // Each row costs 8 + 8 + 8 + (sym + NUL) bytes.
    if (static_cast<uint64_t>(n) * (25 + sym.size()) + 128 > ctx.srv.opts().message_bytes_max)
        return out.set_error("limit");
    const int64_t work_ms = ctx.srv.opts().work_ms;
    if (work_ms > 0 && can_defer(ctx) && ctx.type == msg_type::sync) {  // answer later
        ctx.srv.defer_response(ctx.c, static_cast<uint64_t>(work_ms),
                               encode_body(make_trades(sym, n)), false);
        return;
    }
    if (work_ms > 0 && !can_defer(ctx)) block_ms(ctx.srv, work_ms);  // the work, in place
    out.set_value(make_trades(sym, n));
}

void fn_payload(call& ctx, std::span<const arg> args, reply& out) {
    int64_t n = 0;
    if (!want_args(args, 1, 1, out)) return;
    if (!as_long(args[0], n)) return out.set_error("type");
    if (n < 0) return out.set_error("domain");
    if (static_cast<uint64_t>(n) + 6 + qipc::kHeaderSize > ctx.srv.opts().message_bytes_max ||
        n > INT32_MAX)
        return out.set_error("limit");
    std::vector<uint8_t> body(6 + static_cast<std::size_t>(n));
    body[0] = qipc::qtype::kByte;
    qipc::store_u32(body.data() + 2, static_cast<uint32_t>(n), true);
    uint8_t* p = body.data() + 6;
    auto len = static_cast<std::size_t>(n);
    for (std::size_t i = 0; i < len && i < 251; ++i) p[i] = static_cast<uint8_t>(i);
    for (std::size_t done = 251; done < len; done *= 2)  // the pattern repeats every 251
        std::memcpy(p + done, p, std::min(done, len - done));
    out.set_owned(std::move(body));
}

void fn_callback(call& ctx, std::span<const arg> args, reply& out) {
    if (!want_args(args, 2, 2, out)) return;
    std::vector<uint8_t> msg = pair_of(args[0], args[1]);
    ctx.srv.send(ctx.c, msg_type::async, msg);  // neg[.z.w](f;x)
    if (ctx.type == msg_type::sync) out.set_value(args[1]);
}

void fn_defer(call& ctx, std::span<const arg> args, reply& out) {
    if (!want_args(args, 1, 1, out)) return;
    ctx.srv.send(ctx.c, msg_type::async, args[0]);  // neg[.z.w] x
    if (ctx.type == msg_type::sync) out.set_value(kGenericNull);
}

/// deferred[ms;x] and deferredFail[ms;text]: -30!(::) now, -30!(.z.w;isError;x) after ms.
/// Under --zpg none they block for ms, then answer, as the same work would in a plain q.
void defer_common(call& ctx, std::span<const arg> args, reply& out, bool is_error) {
    int64_t ms = 0;
    std::string text;
    if (!want_args(args, 2, 2, out)) return;
    if (!as_long(args[0], ms)) return out.set_error("type");
    if (ms < 0) return out.set_error("domain");
    if (is_error && !as_text(args[1], text)) return out.set_error("type");
    if (!can_defer(ctx)) {
        block_ms(ctx.srv, ms);
        if (is_error) return out.set_error(text);
        return out.set_value(args[1]);
    }
    if (ctx.type != msg_type::sync) return;  // -30! on an async call: nobody is waiting
    std::vector<uint8_t> body = is_error ? std::vector<uint8_t>(text.begin(), text.end())
                                         : std::vector<uint8_t>(args[1].begin(), args[1].end());
    ctx.srv.defer_response(ctx.c, static_cast<uint64_t>(ms), std::move(body), is_error);
}

void fn_deferred(call& ctx, std::span<const arg> args, reply& out) {
    defer_common(ctx, args, out, false);
}
void fn_deferred_fail(call& ctx, std::span<const arg> args, reply& out) {
    defer_common(ctx, args, out, true);
}

using function = void (*)(call&, std::span<const arg>, reply&);
struct entry {
    std::string_view name;
    function fn;
};

constexpr entry kFunctions[] = {
    {"echo", fn_echo},         {"whoami", fn_whoami},     {"name", fn_name},
    {"sleep", fn_sleep},       {"fail", fn_fail},         {"getTrades", fn_get_trades},
    {"payload", fn_payload},   {"callback", fn_callback}, {"defer", fn_defer},
    {"deferred", fn_deferred}, {"deferredFail", fn_deferred_fail}, {"tag", fn_tag},
    {"seq", fn_seq},           {"counts", fn_counts},  {"value", fn_value},  // reducer.cc
    {".servers.getdetails", fn_getdetails},  // registrar.cc
};

}  // namespace

bool known_function(call& ctx, std::string_view name) {
    if (ctx.srv.disc() && discovery_service::has(name)) return true;
    return std::any_of(std::begin(kFunctions), std::end(kFunctions),
                       [name](const entry& e) { return e.name == name; });
}

void run_function(call& ctx, std::string_view name, std::span<const arg> args, reply& out) {
    if (discovery_service* d = ctx.srv.disc(); d && d->try_call(ctx, name, args, out)) return;
    for (const entry& e : kFunctions) {
        if (e.name == name) return e.fn(ctx, args, out);
    }
    out.set_error(std::string(name));  // q's undefined-name error is the name itself
}

}  // namespace qmock
