// Helpers for the routing tests: q bodies built with the codec (as q, node-q or a Java client
// would send them) and a backend_state array.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "qgate/qipc/value.h"
#include "qgate/qipc/writer.h"
#include "qgate/route.h"

namespace qgate::route::test {

using qipc::value;

/// The body bytes (no header) of `v`, little-endian, as q writes it.
inline std::vector<uint8_t> body(const value& v) { return qipc::encode_body(v); }

/// A group named `name` whose members are backends `first`.. `first + n - 1`, named b<id>.
inline group_spec make_group(std::string name, uint32_t n, uint32_t first = 0) {
    group_spec g{std::move(name), {}};
    for (uint32_t i = first; i < first + n; ++i) g.members.push_back({i, "b" + std::to_string(i)});
    return g;
}

/// `n` backends, all live and idle.
inline std::vector<backend_state> live_states(size_t n) {
    std::vector<backend_state> s(n);
    for (auto& b : s) b.live.store(true, std::memory_order_relaxed);
    return s;
}

inline value timespan(int64_t ns) {
    std::vector<uint8_t> raw(8);
    for (int i = 0; i < 8; ++i) raw[i] = static_cast<uint8_t>(static_cast<uint64_t>(ns) >> 8 * i);
    return value::fixed(-qipc::qtype::kTimespan, raw);
}

}  // namespace qgate::route::test
