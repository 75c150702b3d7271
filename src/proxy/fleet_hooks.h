// What the fleet (qgate/fleet.h) acts on in the gateway: the drain flags .qgate.drain sets, and in
// request mode the backend_state cells' health flags (route_types.h: `ejected` is this
// instance's own checks, `fleet` the quorum's verdict). Called on the fleet's threads.
#pragma once

#include "proxy/generation.h"
#include "proxy/reloader.h"
#include "proxy/request.h"
#include "proxy/upstreams.h"
#include "qgate/fleet.h"

namespace qgate::proxy {

fleet_hooks make_fleet_hooks(const reloader& rl, const gen_holder& gens, upstream_table& ups,
                             route_plane* plane);

}  // namespace qgate::proxy
