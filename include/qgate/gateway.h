// Entry point of the data plane, called by src/app/main.cc once the config is loaded.
#pragma once

#include "qgate/config.h"

namespace qgate {

/// Starts the shards (one thread each), serves until SIGTERM/SIGINT, drains (stop accepting,
/// let in-flight traffic finish up to limits.drain_timeout_ms) and returns the exit code.
/// Implemented by src/proxy.
int run_gateway(const config_ptr& cfg);

}  // namespace qgate
