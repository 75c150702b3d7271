// Blocking q-IPC queries for qbench's control path (qgate's admin endpoint).
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "qgate/qipc/value.h"

namespace qbench {

using stat_map = std::map<std::string, int64_t>;

/// Sends the q text `text` as a sync request to 127.0.0.1:port and decodes the reply.
/// A q error reply fails with error = "q error '<text>".
bool q_query(uint16_t port, const std::string& text, qgate::qipc::value& out, std::string& error);

/// Reads qgate's counters: `.qgate.stats[]` → a table name, kind, value, help.
bool read_stats(uint16_t port, stat_map& out, std::string& error);

}  // namespace qbench
