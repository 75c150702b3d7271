// Hot reload, the control-plane half (src/ctl/config_diff.cc): what changed between the running
// configuration and a newly loaded one, and which of those changes wait for a restart (the
// knob table's kReloadable flag). Pure; control plane only.
#pragma once

#include <string>
#include <vector>

#include "qgate/config.h"

namespace qgate::ctl {

struct config_diff {
    std::vector<std::string> backends_added;    ///< names
    std::vector<std::string> backends_removed;  ///< names
    /// Names whose settings changed (group, address, credentials, conns, pipeline): applied as
    /// remove + add (the old one drains, the new one connects).
    std::vector<std::string> backends_changed;
    std::vector<std::string> groups_added;
    std::vector<std::string> groups_removed;
    bool routes_changed = false;
    bool users_changed = false;
    bool acl_changed = false;  ///< [[acl]] or [[user_group]]: applied at each client's next call
    /// Reloadable table knobs whose value changed ("limits.connect_timeout_ms").
    std::vector<std::string> settings_changed;
    /// Settings that cannot change live ("server.shards", "listener[0].listen", "listener"
    /// for a listener added or removed): they keep their running value until a restart.
    std::vector<std::string> restart_needed;

    bool empty() const {
        return backends_added.empty() && backends_removed.empty() && backends_changed.empty() &&
               groups_added.empty() && groups_removed.empty() && !routes_changed && !acl_changed &&
               !users_changed && settings_changed.empty() && restart_needed.empty();
    }
};

/// Whether two backends agree on every [[backend]] knob of the knob table (a knob added there
/// is compared here without any change). The data plane's backend ids follow it too: a
/// backend that is not the same gets a new id and new links (src/proxy/generation.h).
bool same_backend(const backend_conf& a, const backend_conf& b);

/// Compares `running` with `next`.
config_diff diff_config(const config& running, const config& next);

/// Gives every restart-only setting of `next` its running value (listeners wholesale when
/// their number changed), so that `next` describes what will run after the reload.
void keep_restart_only(const config& running, config& next);

/// One line per change ("backends added: rdb3"; "restart needed for: server.shards"); empty
/// when nothing changed.
std::vector<std::string> describe(const config_diff& d);

/// The running configuration as TOML text, every knob of the knob table (what
/// .qgate.config[] answers): loading it gives the same snapshot (users come from users_file).
std::string config_toml(const config& cfg);

}  // namespace qgate::ctl
