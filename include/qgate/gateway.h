// Entry point of the data plane, called by src/app/main.cc once the config is loaded.
#pragma once

#include <functional>
#include <string>

#include "qgate/config.h"

namespace qgate {

/// Starts the shards (one thread each), serves until SIGTERM/SIGINT, drains (stop accepting,
/// let in-flight traffic finish up to limits.drain_timeout_ms) and returns the exit code.
/// SIGHUP and the admin port's .qgate.reload[] call `reload_source` to read the configuration
/// again (the file, then the command line's overrides) and apply it live (src/proxy/reloader.h);
/// none = reloads are refused. Implemented by src/proxy.
int run_gateway(const config_ptr& cfg,
                std::function<bool(config&, std::string&)> reload_source = {});

}  // namespace qgate
