// The fleet's pure part (src/ctl/fleet.cc runs the threads): the keys under the fleet prefix,
// read into what an instance applies. Keys are relative to the prefix:
//   instances/<name>          {"address":..,"generation":N,"seen_ms":T}  (its lease)
//   backends/<name>           {"group":..,"address":"host:port","source":..,"instance":..}
//   drain/<backend>           any value: drained on every instance
//   health/<backend>/<inst>   "up" or "down": one instance's observation (its lease)
// No I/O; control plane only (allocates).
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "qgate/config.h"

namespace qgate::ctl::fleet {

/// Everything under the prefix, by relative key.
using kv_map = std::map<std::string, std::string>;

struct instance_info {
    std::string name;
    std::string address;
    int64_t generation = 0;
    int64_t seen_ms = 0;  ///< Unix ms of its last write
};

/// The backends the fleet lists, as backend_confs (source as written, default "fleet";
/// credentials and conns from the caller's defaults), in name order. A value that does not
/// read (bad JSON, no group, an address that does not parse) is left out and named in `bad`.
std::vector<backend_conf> backends_of(const kv_map& kv, const backend_conf& defaults,
                                      std::vector<std::string>& bad);
/// The names under drain/.
std::set<std::string> drained_of(const kv_map& kv);
/// The instances under instances/ (a value that does not read keeps its name, zeros else).
std::vector<instance_info> instances_of(const kv_map& kv);
/// Backends at least `quorum` instances see down (quorum 0: none, health stays local).
std::set<std::string> down_of(const kv_map& kv, uint32_t quorum);

/// The JSON values written.
std::string backend_value(const backend_conf& b, std::string_view instance,
                          std::string_view owner = {});
std::string instance_value(const instance_info& i);

/// Applies one watch event to the map (`key` absolute; ignored unless under `prefix`).
void apply_event(kv_map& kv, std::string_view prefix, const std::string& key, bool put,
                 const std::string& value);

}  // namespace qgate::ctl::fleet
