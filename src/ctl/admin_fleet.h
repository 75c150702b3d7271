// The admin port's fleet functions (issue 19; qgate/fleet.h): .qgate.fleet[] lists the
// instances, .qgate.fleet.add[`name;`group;"host:port"] and .qgate.fleet.remove[`name] write a
// backend every instance serves. Answered from admin_control's fleet hooks; without a fleet,
// each is the q error 'qgate: no fleet configured.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <vector>

#include "ctl/admin_query.h"
#include "qgate/qipc/value.h"

namespace qgate::ctl {

/// .qgate.fleet[]: instance, address (symbols), generation (long), seen (timestamp), self
/// (boolean), etcd (string: "up" or "down: why", this instance's view).
qipc::value fleet_table(std::span<const fleet_row> rows);

/// The arguments as names: symbols or strings in the list form, `a;`b;"c" in the text form.
std::optional<std::vector<std::string>> name_args(const admin_args& a);

qipc::value fleet_fn(const admin_args& a, const admin_context& ctx);
qipc::value fleet_add_fn(const admin_args& a, const admin_context& ctx);
qipc::value fleet_remove_fn(const admin_args& a, const admin_context& ctx);

}  // namespace qgate::ctl
