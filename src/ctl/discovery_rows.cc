// DESIGN: what a TorQ discovery service says, as rows, and one discovery's view of them as
// backends (discovery_rows.h). TorQ facts this follows (code/processes/discovery.q,
// code/handlers/trackservers.q): getservices[proctypes;1b] answers `select procname, proctype,
// hpup, attributes` and subscribes the caller; register pushes (`.servers.procupdate; table)
// with the columns in another order (proctype first), so columns are taken by name; addprocs
// replaces a row with the same hpup; hpups are lowered by formathp. Pure; control plane only.
#include "ctl/discovery_rows.h"

#include <algorithm>
#include <cctype>

#include "qgate/ctl.h"
#include "qgate/qipc/writer.h"

namespace qgate::ctl::disc {
namespace {

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

// A column by name: a symbol vector, or an empty general list (an empty table's column).
const qipc::value* column(const qipc::value& names, const qipc::value& cols,
                          std::string_view name) {
    for (std::size_t i = 0; i < names.syms.size() && i < cols.items.size(); ++i) {
        if (names.syms[i] == name) return &cols.items[i];
    }
    return nullptr;
}

bool symbol_column(const qipc::value* c, std::vector<std::string>& out) {
    if (c == nullptr) return false;
    if (c->type == qipc::qtype::kList && c->items.empty()) {
        out.clear();
        return true;
    }
    if (c->type != qipc::qtype::kSymbol) return false;
    out = c->syms;
    return true;
}

// Letters, digits, '-' and '.' (RFC 1123 names, as q's .z.h gives them).
bool host_name(std::string_view h) {
    return std::all_of(h.begin(), h.end(), [](unsigned char c) {
        return std::isalnum(c) != 0 || c == '-' || c == '.';
    });
}

}  // namespace

hpup_kind parse_hpup(std::string_view hpup, endpoint& out) {
    const std::string h = lower(hpup);
    if (h.starts_with(":tcps://")) {  // TLS (q's hopen `:tcps://host:port): as `:host:port
        const std::string plain = ":" + h.substr(8);
        return plain.size() > 1 && parse_hpup(plain, out) == hpup_kind::tcp ? hpup_kind::tcps
                                                                            : hpup_kind::bad;
    }
    if (h.starts_with(":unix://")) return hpup_kind::unix_socket;
    if (!h.starts_with(":")) return hpup_kind::bad;
    std::string_view rest = std::string_view(h).substr(1);
    // `:host:port, or `:host:port:user:password for a process needing a login: the login is
    // [discovery] credentials', so the fields after the port are not used.
    if (!rest.starts_with("[")) {
        const std::size_t c1 = rest.find(':');
        const std::size_t c2 = c1 == std::string_view::npos ? c1 : rest.find(':', c1 + 1);
        if (c2 != std::string_view::npos) rest = rest.substr(0, c2);
    }
    std::string text(rest);
    if (text.starts_with(":")) text = "localhost" + text;  // `::port is this host, as in hopen
    std::string err;
    if (parse_endpoint(text, out, err)) return out.port != 0 ? hpup_kind::tcp : hpup_kind::bad;
    // A host name (TorQ's hpups come from .z.h): kept as it is; the sink resolves it once on a
    // control thread when the backend is added (README "Behaviour decisions").
    const std::size_t colon = text.rfind(':');
    if (colon == std::string::npos || colon == 0 || !host_name(text.substr(0, colon))) {
        return hpup_kind::bad;
    }
    endpoint ep;
    if (!parse_endpoint("127.0.0.1" + text.substr(colon), ep, err) || ep.port == 0) {
        return hpup_kind::bad;
    }
    out = {text.substr(0, colon), ep.port};
    return hpup_kind::tcp;
}

bool read_rows(const qipc::value& table, std::vector<row>& out, std::string& error) {
    out.clear();
    if (table.type != qipc::qtype::kTable || table.items.size() != 1 ||
        table.items[0].items.size() != 2) {
        error = "not a table (type " + std::to_string(table.type) + ")";
        return false;
    }
    const qipc::value& names = table.items[0].items[0];
    const qipc::value& cols = table.items[0].items[1];
    std::vector<std::string> procname;
    std::vector<std::string> proctype;
    std::vector<std::string> hpup;
    if (!symbol_column(column(names, cols, "procname"), procname) ||
        !symbol_column(column(names, cols, "proctype"), proctype) ||
        !symbol_column(column(names, cols, "hpup"), hpup)) {
        error = "the table needs symbol columns procname, proctype and hpup";
        return false;
    }
    if (procname.size() != proctype.size() || procname.size() != hpup.size()) {
        error = "the table's columns differ in length";
        return false;
    }
    out.reserve(procname.size());
    for (std::size_t i = 0; i < procname.size(); ++i) {
        out.push_back(row{procname[i], proctype[i], hpup[i]});
    }
    return true;
}

push_kind read_push(const qipc::value& msg, std::vector<row>& rows, std::string& error) {
    rows.clear();
    if (msg.type != qipc::qtype::kList || msg.items.empty()) return push_kind::other;
    const qipc::value& f = msg.items[0];
    if (f.type != -qipc::qtype::kSymbol || f.syms.size() != 1 ||
        f.syms[0] != ".servers.procupdate") {
        return push_kind::other;
    }
    if (msg.items.size() != 2) {
        error = ".servers.procupdate needs one argument, a table";
        return push_kind::bad;
    }
    return read_rows(msg.items[1], rows, error) ? push_kind::procupdate : push_kind::bad;
}

std::vector<uint8_t> getservices_message(const std::vector<std::string>& proctypes) {
    const qipc::value call = qipc::value::list(
        {qipc::value::symbol("getservices"), qipc::value::symbols(proctypes),
         qipc::value::boolean(true)});
    return qipc::encode_message(call, qipc::msg_type::sync);
}

bool view::usable(const row& r) const {
    endpoint ep;
    const hpup_kind k = parse_hpup(r.hpup, ep);
    return !r.procname.empty() &&
           std::find(proctypes_.begin(), proctypes_.end(), r.proctype) != proctypes_.end() &&
           (k == hpup_kind::tcp || k == hpup_kind::tcps);
}

bool view::replace(const std::vector<row>& rows, uint64_t& skipped) {
    std::map<std::string, row> next;
    for (const row& r : rows) {
        if (!usable(r)) {
            ++skipped;
            continue;
        }
        std::erase_if(next, [&r](const auto& kv) { return kv.second.procname == r.procname; });
        next[lower(r.hpup)] = r;
    }
    const bool changed = next != rows_;
    rows_ = std::move(next);
    return changed;
}

bool view::merge(const std::vector<row>& rows, uint64_t& skipped) {
    const std::map<std::string, row> before = rows_;
    for (const row& r : rows) {
        if (!usable(r)) {
            ++skipped;
            continue;
        }
        std::erase_if(rows_, [&r](const auto& kv) { return kv.second.procname == r.procname; });
        rows_[lower(r.hpup)] = r;
    }
    return rows_ != before;
}

std::vector<backend_conf> view::backends(const discovery_conf& dc) const {
    std::vector<backend_conf> out;
    out.reserve(rows_.size());
    for (const auto& [hpup, r] : rows_) {
        backend_conf b;
        b.name = r.procname;
        b.group = r.proctype;
        // usable(): a tcp or tcps hpup; tcps is a TLS backend with [discovery]'s TLS files
        if (parse_hpup(r.hpup, b.addr) == hpup_kind::tcps) {
            b.tls = true;
            b.tls_ca = dc.tls_ca;
            b.tls_cert = dc.tls_cert;
            b.tls_key = dc.tls_key;
        }
        b.credentials = dc.credentials;
        b.conns = dc.conns;
        b.source = backend_source::discovery;
        out.push_back(std::move(b));
    }
    // By name, so the sink compares like with like whatever the hpups.
    std::sort(out.begin(), out.end(),
              [](const backend_conf& a, const backend_conf& b) { return a.name < b.name; });
    return out;
}

}  // namespace qgate::ctl::disc
