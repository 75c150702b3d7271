// The admin port's status page (GET /, HAProxy's stats page is the model) and the JSON it
// refreshes itself from (GET /status.json): the same rows as the q admin API
// (qgate/admin_api.h), so the page, the q tables and /metrics never disagree about a backend.
// Control plane only (the admin thread): allocates freely.
#pragma once

#include <optional>
#include <string>
#include <vector>
#include <string_view>

#include "qgate/admin_api.h"
#include "qgate/fleet.h"

namespace qgate::ctl {

/// `s` as a JSON string literal, quotes included (control characters as \u00XX).
std::string json_string(std::string_view s);

/// {"listeners":[...],"backends":[...],"clients":[...],"routes":[...],"stats":{...},
///  "errors":[...]}: one object per row of each admin table, keyed by the q column names;
/// 0N latencies are null. A table the model cannot give (a shard busy) is an empty list and
/// its error is listed in "errors", so the page still shows the rest.
/// `fleet`: the rows of .qgate.fleet[] ("fleet":[...], and "etcd": this instance's state);
/// nullopt without a fleet (neither key is written).
std::string status_json(admin_model& model,
                        const std::optional<std::vector<fleet_row>>& fleet = std::nullopt);

/// The status page: one self-contained HTML document (no external script or style) whose
/// script fetches /status.json every second and redraws its tables in place.
std::string_view status_page_html();

}  // namespace qgate::ctl
