// The TorQ discovery client's pure part (src/ctl/discovery.cc runs the sockets): what the
// discovery process says, decoded into rows, and one discovery process's view of them turned
// into backends. No I/O; control plane only (allocates).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "qgate/config.h"
#include "qgate/qipc/value.h"

namespace qgate::ctl::disc {

/// What a TorQ hpup names (trackservers.q formathp): `:host:port (tcp), `:tcps://host:port
/// (TLS), `:unix://port (a Unix domain socket on this host). tcp and tcps are served (tcps:
/// a tls = true backend with [discovery]'s TLS files, issue 18); a Unix socket is not
/// something a pooled backend connects to.
enum class hpup_kind : uint8_t { tcp, tcps, unix_socket, bad };

/// Parses an hpup symbol's text (case-insensitive, as TorQ lowers it). tcp, tcps: `out` is set;
/// an empty host is this host, as for q's hopen `::port.
hpup_kind parse_hpup(std::string_view hpup, endpoint& out);

/// One process a discovery service lists.
struct row {
    std::string procname;
    std::string proctype;
    std::string hpup;
    bool operator==(const row&) const = default;
};

/// A getservices reply or a procupdate's table (98h) into rows: the columns procname, proctype
/// and hpup (symbol vectors) are taken by name (getservices and procupdate order them
/// differently); the others (attributes) are ignored. False with `error` otherwise.
bool read_rows(const qipc::value& table, std::vector<row>& out, std::string& error);

/// An async message from the discovery process: (`.servers.procupdate; table) gives `rows`.
enum class push_kind : uint8_t { procupdate, other, bad };
push_kind read_push(const qipc::value& msg, std::vector<row>& rows, std::string& error);

/// The sync call (`getservices; `rdb`hdb; 1b): every configured proctype, and subscribe.
std::vector<uint8_t> getservices_message(const std::vector<std::string>& proctypes);

/// One discovery process's view: the usable rows (tcp hpup, a configured proctype), keyed by
/// hpup as TorQ's .servers.SERVERS is.
class view {
  public:
    explicit view(std::vector<std::string> proctypes) : proctypes_(std::move(proctypes)) {}

    /// A getservices answer: the whole truth (a process gone from it drains).
    /// Returns whether the view changed; `skipped` grows by the rows not usable.
    bool replace(const std::vector<row>& rows, uint64_t& skipped);
    /// A procupdate: each row replaces the one with its hpup (TorQ addprocs) and the one with
    /// its procname (the name is a backend's identity in qgate: the newest registration wins).
    bool merge(const std::vector<row>& rows, uint64_t& skipped);
    /// The view as backends of `dc` (name = procname, group = proctype, source discovery).
    std::vector<backend_conf> backends(const discovery_conf& dc) const;
    std::size_t size() const { return rows_.size(); }

  private:
    bool usable(const row& r) const;

    std::vector<std::string> proctypes_;
    std::map<std::string, row> rows_;  // by hpup
};

}  // namespace qgate::ctl::disc
