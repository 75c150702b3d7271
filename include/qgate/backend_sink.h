// Backends that find themselves (issue 17): the runtime sources (the registerResource listener,
// the TorQ discovery client) hand their backends to a backend_sink, which the hot reloader
// implements (src/proxy/reloader.cc): each owner's set is replaced whole and applied as a
// reload is, through a new routing generation, so a backend that goes away drains (no new
// calls; calls in flight finish) exactly as one removed from the file does.
#pragma once

#include <string>
#include <vector>

#include "qgate/config.h"

namespace qgate {

/// What set_backends did with each backend it was given.
struct sink_result {
    uint64_t generation = 0;            ///< running after the call
    std::vector<std::string> accepted;  ///< names now served
    /// "name: reason" for each one left out (a name the file or another owner holds, a group
    /// the source may not fill, a bad address, the id cap); the others are applied.
    std::vector<std::string> refused;
};

class backend_sink {
  public:
    virtual ~backend_sink() = default;
    /// Replaces the backends owned by `owner` (one registration connection, one discovery
    /// process: any stable text naming it) with `list`; an empty list removes them all.
    /// Each entry has name, group, address and source set, and the source's credentials and
    /// conns. The file's own [[backend]]s win a name clash. Control threads only (never a
    /// shard): it builds and publishes a generation, waiting a bounded time for the shards.
    virtual sink_result set_backends(const std::string& owner,
                                     std::vector<backend_conf> list) = 0;
};

}  // namespace qgate
