// qmock --discovery (discovery.h): TorQ's discovery service, on qmock's only thread.
//
// Design note: the table is .servers.SERVERS reduced to what discovery.q reads (procname,
// proctype, hpup, attributes, w = the connection id). TorQ's register runs .servers.addw .z.w,
// whose sync call on .z.w blocks the discovery process until the registering process answers;
// qmock never blocks its loop, so it sends the same sync message and finishes the
// registration when the answer arrives on that connection (on_response; answers come in
// request order, and qmock sends no other sync message on a connection, so a count of
// outstanding requests per connection is enough to tell them from stray responses).
//
// Wire formats (what q sends; a list of atoms of one type is a vector in q):
//   details request (sync): ({$[`getdetails in key`.servers;.servers.getdetails[];...]};`)
//     a general list: the lambda (type 100, TorQ's addhw source text exactly) and `
//   expected answer: (f;h;port;procname;proctype;attributes), port an int (short/long taken)
//   hpup: lower `:h:port (formathp); an empty procname becomes the last part of f
//   getservices reply: table procname proctype hpup (symbol columns) attributes (general list)
//   update (async, to subscribers): (`.servers.procupdate;table) whose columns are proctype
//     procname hpup attributes: register's `select proctype,procname,hpup,attributes`.
#include "discovery.h"

#include <algorithm>
#include <cctype>
#include <cstring>

#include "qgate/qipc/writer.h"
#include "server.h"

namespace qmock {
namespace {

namespace qipc = qgate::qipc;
using qipc::value;

constexpr std::size_t kRowsMax = 10000;  ///< processes kept at most (more are refused)
constexpr uint32_t kAskedMax = 64;       ///< details requests outstanding per connection
constexpr uint8_t kGenericNull[] = {0x65, 0x00};

/// TorQ's addhw sends this lambda to a registering process (trackservers.q, addhw).
constexpr std::string_view kDetailsLambda =
    "{$[`getdetails in key`.servers;.servers.getdetails[];(.z.f;.z.h;system\"p\";`;`;"
    "$[`getattributes in key`.proc;.proc.getattributes[];()!()])]}";

std::vector<uint8_t> details_request() {
    value fn;
    fn.type = qipc::qtype::kLambda;
    fn.raw.clear();
    fn.syms = {""};  // the root context
    fn.items = {value::string(kDetailsLambda)};
    return qipc::encode_body(value::list({fn, value::symbol("")}));
}

/// A symbol atom's text, or false.
bool sym_of(const value& v, std::string& out) {
    if (v.type != -qipc::qtype::kSymbol || v.syms.empty()) return false;
    out = v.syms[0];
    return true;
}

/// An integral atom (short, int, long) that is not null, or false.
bool int_of(const value& v, int64_t& out) {
    int64_t x = 0;
    if (v.type == -qipc::qtype::kInt && v.raw.size() == 4) {
        int32_t i = 0;
        std::memcpy(&i, v.raw.data(), 4);
        x = i == INT32_MIN ? INT64_MIN : i;
    } else if (v.type == -qipc::qtype::kLong && v.raw.size() == 8) {
        std::memcpy(&x, v.raw.data(), 8);
    } else if (v.type == -qipc::qtype::kShort && v.raw.size() == 2) {
        int16_t s = 0;
        std::memcpy(&s, v.raw.data(), 2);
        x = s == INT16_MIN ? INT64_MIN : s;
    } else {
        return false;
    }
    out = x;
    return x != INT64_MIN;
}

/// The proctypes argument: a symbol atom or a symbol list (an empty general list: none).
bool proctypes_of(arg a, std::vector<std::string>& out) {
    value v;
    if (!qipc::decode(a, true, v).ok()) return false;
    if (v.type == -qipc::qtype::kSymbol || v.type == qipc::qtype::kSymbol) out = v.syms;
    else if (v.type == qipc::qtype::kList && v.items.empty()) out.clear();
    else return false;
    return true;
}

/// The subscribe argument: a boolean (or an integral / whole float atom, as JS sends).
bool flag_of(arg a, bool& out) {
    const auto t = static_cast<int8_t>(a.empty() ? 0 : a[0]);
    if (a.size() == 2 && (t == -qipc::qtype::kBool || t == -qipc::qtype::kByte)) {
        out = a[1] != 0;
        return true;
    }
    value v;
    int64_t n = 0;
    if (!qipc::decode(a, true, v).ok()) return false;
    if (int_of(v, n)) return out = n != 0, true;
    if (v.type == -qipc::qtype::kFloat && v.raw.size() == 8) {
        double d = 0;
        std::memcpy(&d, v.raw.data(), 8);
        return out = d != 0, true;
    }
    return false;
}

/// getservices' test: `ALL or enlist `ALL means every proctype.
bool is_all(const std::vector<std::string>& types) {
    return types.size() == 1 && types[0] == "ALL";
}

/// `$last ("/" vs string .z.f) except enlist "". (addhw's `default fallback tests
/// `0=count name`, never true for a symbol atom, so an empty f leaves the name empty.)
std::string script_name(std::string_view f) {
    while (!f.empty() && f.back() == '/') f.remove_suffix(1);
    const std::size_t slash = f.rfind('/');
    if (slash != std::string_view::npos) f.remove_prefix(slash + 1);
    return std::string(f);
}

std::string lower(std::string s) {
    for (char& ch : s) ch = char(std::tolower(static_cast<unsigned char>(ch)));
    return s;
}

}  // namespace

discovery_service::discovery_service(server& srv, const disc_options& opt)
    : srv_(srv), opt_(opt) {}

bool discovery_service::try_call(call& ctx, std::string_view name, std::span<const arg> args,
                                 reply& out) {
    if (name == "..register" || name == "register") {
        on_register(ctx, out);  // its argument (TorQ sends `) is ignored, as by register
        return true;
    }
    if (name == "getservices") {
        on_getservices(ctx, args, out);
        return true;
    }
    return false;
}

// register → .servers.addw .z.w: ask the process for its details (the rest is in add()).
void discovery_service::on_register(call& ctx, reply& out) {
    uint32_t& asked = asked_[ctx.c.id];
    if (asked >= kAskedMax) return out.set_error("limit");
    ++asked;
    srv_.send(ctx.c, qipc::msg_type::sync, details_request());
    out.set_value(kGenericNull);  // a sync caller gets :: now, not after the details
}

void discovery_service::on_getservices(call& ctx, std::span<const arg> args, reply& out) {
    if (args.size() != 2) return out.set_error("rank");
    std::vector<std::string> types;
    bool subscribe = false;
    if (!proctypes_of(args[0], types) || !flag_of(args[1], subscribe)) {
        return out.set_error("type");
    }
    if (subscribe) subs_[ctx.c.id] = types;  // subs[.z.w]:proctypes,()
    const bool all = is_all(types);
    std::vector<const row*> picked;
    for (const row& r : rows_) {
        if (r.proctype == "discovery") continue;
        if (!all && std::find(types.begin(), types.end(), r.proctype) == types.end()) continue;
        auto same = [&r](const row* p) { return *p == r; };
        if (std::none_of(picked.begin(), picked.end(), same)) picked.push_back(&r);
    }
    std::vector<std::string> names, ptypes, hpups;
    std::vector<value> attrs;
    for (const row* r : picked) {
        names.push_back(r->procname);
        ptypes.push_back(r->proctype);
        hpups.push_back(r->hpup);
        attrs.push_back(r->attributes);
    }
    out.set_value(value::table({"procname", "proctype", "hpup", "attributes"},
                               {value::symbols(names), value::symbols(ptypes),
                                value::symbols(hpups), value::list(attrs)}));
}

bool discovery_service::on_response(conn& c, std::span<const uint8_t> body) {
    auto it = asked_.find(c.id);
    if (it == asked_.end() || it->second == 0) return false;
    --it->second;
    value v;
    if (!qipc::decode(body, true, v).ok()) return true;
    if (v.type == qipc::qtype::kError) {
        log_line("register from %s: the details call failed: '%s", c.peer.c_str(),
                 v.syms.empty() ? "" : v.syms[0].c_str());
        return true;
    }
    if (add(c.id, v)) publish(c.id);
    else log_line("register from %s: unusable details (not (f;h;port;name;type;attrs))",
                  c.peer.c_str());
    return true;
}

// addhw then register: replace this connection's row, drop other rows with the same hpup.
bool discovery_service::add(uint64_t conn_id, const value& d) {
    row r;
    std::string f, host;
    int64_t port = 0;
    if (d.type != qipc::qtype::kList || d.items.size() != 6 || !sym_of(d.items[0], f) ||
        !sym_of(d.items[1], host) || !int_of(d.items[2], port) ||
        !sym_of(d.items[3], r.procname) || !sym_of(d.items[4], r.proctype)) {
        return false;
    }
    if (r.procname.empty()) r.procname = script_name(f);
    r.hpup = lower(":" + host + ":" + std::to_string(port));
    r.attributes = d.items[5];
    r.conn_id = conn_id;
    std::erase_if(rows_, [&](const row& o) { return o.conn_id == conn_id; });
    std::erase_if(rows_, [&](const row& o) { return o.hpup == r.hpup; });
    if (rows_.size() >= kRowsMax) {
        log_line("register: %zu processes already; refusing %s", rows_.size(), r.hpup.c_str());
        return false;
    }
    rows_.push_back(std::move(r));
    return true;
}

// register's publication: to every subscriber but the registering one whose proctypes hold
// the new row's, or who asked for `ALL.
void discovery_service::publish(uint64_t conn_id) {
    const auto mine = std::find_if(rows_.begin(), rows_.end(),
                                   [&](const row& r) { return r.conn_id == conn_id; });
    if (mine == rows_.end()) return;
    const value table = value::table(
        {"proctype", "procname", "hpup", "attributes"},
        {value::symbols({mine->proctype}), value::symbols({mine->procname}),
         value::symbols({mine->hpup}), value::list({mine->attributes})});
    const std::vector<uint8_t> msg =
        qipc::encode_body(value::list({value::symbol(".servers.procupdate"), table}));
    for (const auto& [id, types] : subs_) {
        if (id == conn_id) continue;
        const bool wants = is_all(types) ||
                           std::find(types.begin(), types.end(), mine->proctype) != types.end();
        conn* c = wants ? srv_.find_conn(id) : nullptr;
        if (c) srv_.send(*c, qipc::msg_type::async, msg);
    }
}

void discovery_service::drop(uint64_t conn_id) {
    subs_.erase(conn_id);
    asked_.erase(conn_id);
    if (!opt_.keep_closed) {
        std::erase_if(rows_, [&](const row& r) { return r.conn_id == conn_id; });
        return;
    }
    for (row& r : rows_) {
        if (r.conn_id == conn_id) r.conn_id = 0;  // TorQ's cleanup: w becomes 0Ni
    }
}

}  // namespace qmock
