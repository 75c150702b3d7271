// The registrar (registrar.h): qmock's outbound registrations, on qmock's only thread.
//
// Design note: each target owns at most one connection, made by server::connect_out and
// served like any other once its handshake is done (so the discovery service's sync
// "getdetails" call on it is answered by the ordinary request path, functions.cc). Nothing
// here blocks: connect() is non-blocking, and a failure (refused, handshake closed, peer gone)
// only sets the target's next attempt, which tick() makes once it is due. That is the
// whitepaper's `.z.pc` → `\t 10000` → `.z.ts` (hopen; register; `\t 0`) and TorQ's
// retrydiscovery timer (reopen the discovery handle, then `neg[h](`..register;`)`).
//
// The messages are what q sends. q makes a list of atoms of one type a vector, so both are
// async symbol vectors (type 11), not general lists:
//   KX:   neg[h](`registerResource;`NAME;`:HOST:PORT)  →  `registerResource`NAME`:HOST:PORT
//   TorQ: neg[h](`..register;`)                        →  `..register`
// HOST is the --host qmock listens on, PORT its bound port (the whitepaper's .z.h and \p).
#include "registrar.h"

#include <algorithm>
#include <utility>

#include "qgate/qipc/value.h"
#include "qgate/qipc/writer.h"
#include "request.h"
#include "server.h"

namespace qmock {

namespace qipc = qgate::qipc;

bool split_host_port(const std::string& text, std::string& host, uint16_t& port) {
    const std::size_t colon = text.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) return false;
    host = text.substr(0, colon);
    if (host.size() > 2 && host.front() == '[' && host.back() == ']')
        host = host.substr(1, host.size() - 2);
    unsigned long n = 0;
    for (char ch : text.substr(colon + 1)) {
        if (ch < '0' || ch > '9' || n > 65535) return false;
        n = n * 10 + unsigned(ch - '0');
    }
    if (n == 0 || n > 65535) return false;
    port = uint16_t(n);
    return true;
}

registrar::registrar(server& srv, reg_options opt) : srv_(srv), opt_(std::move(opt)) {
    auto add = [this](kind k, const std::string& where, int64_t retry_ms) {
        target t{k, {}, 0, uint64_t(retry_ms) * 1000000u, 0, 0};
        if (!where.empty() && split_host_port(where, t.host, t.port)) targets_.push_back(t);
    };
    add(kind::kx, opt_.kx_target, opt_.kx_retry_ms);
    add(kind::torq, opt_.torq_target, opt_.torq_retry_ms);
}

void registrar::tick(uint64_t now_ns) {
    for (target& t : targets_) {
        if (t.conn_id != 0 || t.due_ns > now_ns) continue;
        std::string error;
        conn* c = srv_.connect_out(t.host, t.port, error);
        if (c) {
            t.conn_id = c->id;
            continue;
        }
        log_line("cannot connect to %s:%u (%s); retrying in %llu ms", t.host.c_str(), t.port,
                 error.c_str(), static_cast<unsigned long long>(t.retry_ns / 1000000));
        t.due_ns = now_ns + t.retry_ns;
    }
}

int registrar::next_timeout_ms(uint64_t now_ns) const {
    int best = -1;
    for (const target& t : targets_) {
        if (t.conn_id != 0) continue;
        const int ms = t.due_ns <= now_ns ? 0 : int((t.due_ns - now_ns + 999999) / 1000000);
        best = best < 0 ? ms : std::min(best, ms);
    }
    return best;
}

void registrar::on_ready(conn& c) {
    for (const target& t : targets_) {
        if (t.conn_id == c.id) send_registration(c, t);
    }
}

void registrar::on_closed(uint64_t conn_id) {
    for (target& t : targets_) {
        if (t.conn_id != conn_id) continue;
        log_line("registration connection to %s:%u closed; retrying in %llu ms", t.host.c_str(),
                 t.port, static_cast<unsigned long long>(t.retry_ns / 1000000));
        t.conn_id = 0;
        t.due_ns = now_ns() + t.retry_ns;
    }
}

void registrar::send_registration(conn& c, const target& t) {
    std::vector<std::string> msg;
    if (t.k == kind::kx) {
        // `$":" sv string (();.z.h;system"p"): a leading colon, then host and port.
        std::string addr = ":" + srv_.opts().host + ":" + std::to_string(srv_.bound_port());
        msg = {"registerResource", opt_.service, addr};
    } else {
        msg = {"..register", ""};
    }
    srv_.send(c, qipc::msg_type::async, qipc::encode_body(qipc::value::symbols(msg)));
    log_line("registered with %s:%u (%s)", t.host.c_str(), t.port,
             t.k == kind::kx ? "registerResource" : "..register");
}

// TorQ's getdetails: (.z.f;.z.h;system"p";.proc.procname;.proc.proctype;attributes), with
// .z.f `qmock, .z.h the --host, the bound port as an int, --procname, --proctype and no
// attributes (()!(), a dict of two empty general lists). Arguments are ignored (`::`, `).
void fn_getdetails(call& ctx, std::span<const arg>, reply& out) {
    const options& o = ctx.srv.opts();
    out.set_value(qipc::value::list(
        {qipc::value::symbol("qmock"), qipc::value::symbol(o.host),
         qipc::value::int_(ctx.srv.bound_port()), qipc::value::symbol(o.reg.procname),
         qipc::value::symbol(o.reg.proctype),
         qipc::value::dict(qipc::value::list({}), qipc::value::list({}))}));
}

}  // namespace qmock
