// qmock --discovery: a fake TorQ discovery service (TorQ's code/processes/discovery.q with
// the .servers functions of code/handlers/trackservers.q it uses). Processes register with
// an async `..register`, qmock asks them back for their details, keeps a table of them and
// pushes `.servers.procupdate` to subscribers; clients ask `getservices[proctypes;subscribe]`.
// See README.md, "Discovery mode".
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "qgate/qipc/value.h"
#include "request.h"

namespace qmock {

struct disc_options {
    bool enabled = false;      ///< --discovery
    /// --discovery-keep-closed: keep a closed process's row (TorQ's default, AUTOCLEAN 0b)
    /// instead of dropping it at the close.
    bool keep_closed = false;
};

class discovery_service {
  public:
    discovery_service(server& srv, const disc_options& opt);

    /// The functions try_call runs.
    static bool has(std::string_view name) {
        return name == "..register" || name == "register" || name == "getservices";
    }
    /// Runs `register` / `..register` or `getservices` when `name` is one of them.
    bool try_call(call& ctx, std::string_view name, std::span<const arg> args, reply& out);
    /// A response on `c`: true when it answers a details request of ours (and is used).
    bool on_response(conn& c, std::span<const uint8_t> body);
    /// A connection closed: its process row (unless keep_closed) and subscription go.
    void drop(uint64_t conn_id);

  private:
    /// One row of .servers.SERVERS. conn_id is its `w` (0: closed, kept by keep_closed).
    struct row {
        std::string procname;
        std::string proctype;
        std::string hpup;
        qgate::qipc::value attributes;
        uint64_t conn_id = 0;
        bool operator==(const row& o) const {  // getservices' distinct (w is not selected)
            return procname == o.procname && proctype == o.proctype && hpup == o.hpup &&
                   attributes == o.attributes;
        }
    };
    void on_register(call& ctx, reply& out);
    void on_getservices(call& ctx, std::span<const arg> args, reply& out);
    bool add(uint64_t conn_id, const qgate::qipc::value& details);
    void publish(uint64_t conn_id);

    server& srv_;
    disc_options opt_;
    std::vector<row> rows_;
    std::unordered_map<uint64_t, std::vector<std::string>> subs_;  ///< by conn id: proctypes
    std::unordered_map<uint64_t, uint32_t> asked_;  ///< details requests awaiting an answer
};

}  // namespace qmock
