// Request mode, fan-out: one client call (a `.gw.*` TorQ call or a call matching a route with
// `groups`) becomes one child request per group; the children run on their backends' home
// shards like any call, come back to the origin with their reply in `rep` (the slot is handed
// back by pointer: no copy of the reply), and the origin gathers and joins them with the join
// core (src/join). One `fanout` context per fan-out, from a per-shard pool (fanout.contexts_max).
//
// Ownership. The parent slot holds hold::kFan until the fan-out is answered; each child holds
// hold::kFan until the parent's joined reply has been sent (its `rep` is referenced by the
// reply's iovecs), and hold::kHome while at its home shard. The context is freed when the
// parent is released and no child is still away (`away` = children at home).
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "qgate/join.h"

namespace qgate::proxy {

struct generation;

struct request;

enum class fan_stage : uint8_t { gathering, reducing, answered };

struct fanout {
    join::gather g;
    join::reply_plan plan;
    join::join_output out;
    std::array<request*, join::kPartsMax> parts{};
    std::array<uint16_t, join::kPartsMax> groups{};
    uint32_t n = 0;
    uint32_t away = 0;         ///< children (parts and reducer) at their home shards
    request* parent = nullptr;
    request* reducer = nullptr;
    /// The routing generation of its groups, held until the context is freed (generation.h).
    const generation* gen = nullptr;
    fan_stage stage = fan_stage::gathering;
    bool released = false;     ///< the parent let go: free when `away` reaches 0
    bool use_rep = false;      ///< the answer is the contiguous frame in parent->rep
    bool custom = false;
    bool delivered = false;    ///< an async call every part reached: answered by no one, as q
    int64_t deadline_ms = -1;
    std::vector<uint8_t> body;       ///< the decompressed call, when it came compressed
    std::vector<uint8_t> join_obj;   ///< custom join: the encoded join object for the reducer
    std::array<uint8_t, 1024> scratch{};  ///< postback envelope texts (string-form calls)
    fanout* next_free = nullptr;
};

}  // namespace qgate::proxy
