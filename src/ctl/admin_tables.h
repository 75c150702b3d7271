// The q tables of the admin API, built from the plain rows of qgate/admin_api.h: column types as
// q would have them (symbols for names and states, longs for counts, a timestamp for `since`,
// strings for free text, a list of symbol vectors where a row has several names), keyed where a
// column names the row. Pure functions of the rows (admin thread), tested on their own.
#pragma once

#include <span>

#include "qgate/admin_api.h"
#include "qgate/qipc/value.h"

namespace qgate::ctl {

/// Nanoseconds from the Unix epoch to q's (2000.01.01D00:00).
inline constexpr int64_t kQEpochUnixNs = INT64_C(946684800000000000);

/// .qgate.stats[]: an unkeyed table name (symbol: the flat name), kind (symbol: counter, gauge),
/// value (long), help (string).
qipc::value stats_table(const stat_list& list);
/// .qgate.backends[]: keyed on name.
qipc::value backends_table(std::span<const backend_row> rows);
/// .qgate.clients[]: keyed on id.
qipc::value clients_table(std::span<const client_row> rows);
/// .qgate.routes[]: unkeyed (order is a column: the first match wins).
qipc::value routes_table(std::span<const route_row> rows);
/// .qgate.listeners[]: keyed on index.
qipc::value listeners_table(std::span<const listener_row> rows);
/// .qgate.users[]: keyed on user.
qipc::value users_table(std::span<const user_row> rows);
/// One row as a dictionary column name ! value (the answer of an action).
qipc::value backend_dict(const backend_row& row);
qipc::value client_dict(const client_row& row);

}  // namespace qgate::ctl
