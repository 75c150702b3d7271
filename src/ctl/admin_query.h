// The admin endpoint's query language: which q messages it understands and what it answers.
// Separate from the socket loop (admin.cc) so it can be tested on bytes alone.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "qgate/admin.h"

namespace qgate::ctl {

/// The name admin clients call: h".qgate.stats[]" or h(`.qgate.stats;::).
inline constexpr std::string_view kStatsQuery = ".qgate.stats";

/// The complete response message (header included, message type 2) to the body of one sync
/// request: the stats dictionary (symbol vector ! long vector) for a .qgate.stats call, else
/// the q error "qgate: unknown admin query <text>" (or "qgate: malformed admin query: <why>").
std::vector<uint8_t> admin_reply(std::span<const uint8_t> body, bool little_endian,
                                 const std::function<stat_list()>& stats);

}  // namespace qgate::ctl
