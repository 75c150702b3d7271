// DESIGN: the [fleet] section's knobs (issue 19; src/ctl/fleet.cc), a table of their own so
// knobs.cc stays one readable file; knob_table() appends them to kKnobs. Same rules: defaults
// here agree with qgate::fleet_conf's initialisers (tests/ctl/knobs_test.cc).
#include "ctl/knobs.h"

#include "ctl/knob_values.h"
#include "qgate/ctl.h"

namespace qgate::ctl {
namespace {

constexpr knob_scope kTable = knob_scope::table;

const knob kFleetKnobs[] = {
    {"fleet.etcd", knob_type::list, kTable, "[]", 0, 0, {}, 0, {},
     "etcd client endpoints (\"host:port\", v3 API over its JSON gateway). Set: this qgate "
     "joins the fleet under `prefix` (backends, drains and health shared by every instance). "
     "Empty = no fleet.",
     [](config& c, std::size_t, const knob_value& v) { c.fleet.etcd = v.list; },
     [](const config& c, std::size_t) { return list_value(c.fleet.etcd); }},
    {"fleet.prefix", knob_type::string, kTable, "\"/qgate/\"", 0, 0, {}, 0, {},
     "Every fleet key lives under this prefix: one fleet per prefix.",
     [](config& c, std::size_t, const knob_value& v) { c.fleet.prefix = v.text; },
     [](const config& c, std::size_t) { return text_value(c.fleet.prefix); }},
    {"fleet.instance", knob_type::string, kTable, "\"\"", 0, 0, {}, 0, {},
     "This instance's name in the fleet (unique). Empty = hostname:admin-port.",
     [](config& c, std::size_t, const knob_value& v) { c.fleet.instance = v.text; },
     [](const config& c, std::size_t) { return text_value(c.fleet.instance); }},
    {"fleet.advertise", knob_type::string, kTable, "\"\"", 0, 0, {}, 0, {},
     "The address shown for this instance in .qgate.fleet[]. Empty = the instance name.",
     [](config& c, std::size_t, const knob_value& v) { c.fleet.advertise = v.text; },
     [](const config& c, std::size_t) { return text_value(c.fleet.advertise); }},
    {"fleet.groups", knob_type::list, kTable, "[]", 0, 0, {}, 0, {},
     "Groups the fleet's backends may fill (each exists, possibly empty, for routes to "
     "target). A fleet backend may also join a group the file has.",
     [](config& c, std::size_t, const knob_value& v) { c.fleet.groups = v.list; },
     [](const config& c, std::size_t) { return list_value(c.fleet.groups); }},
    {"fleet.lease_ttl_ms", knob_type::integer, kTable, "5000", 1000, 600'000, {}, 0, {},
     "The instance's etcd lease (rounded up to whole seconds): an instance gone this long "
     "leaves the fleet, with its health observations and the backends it registered.",
     [](config& c, std::size_t, const knob_value& v) {
         c.fleet.lease_ttl_ms = uint32_t(v.integer);
     },
     [](const config& c, std::size_t) { return int_value(c.fleet.lease_ttl_ms); }},
    {"fleet.eject_quorum", knob_type::integer, kTable, "2", 0, 1000, {}, 0, {},
     "Request mode: a backend is ejected on every instance while at least this many "
     "instances see it down (ejected by their own health checks), and back when fewer do; "
     "one instance's failures alone eject it nowhere. 0 = health stays local.",
     [](config& c, std::size_t, const knob_value& v) {
         c.fleet.eject_quorum = uint32_t(v.integer);
     },
     [](const config& c, std::size_t) { return int_value(c.fleet.eject_quorum); }},
    {"fleet.timeout_ms", knob_type::integer, kTable, "1000", 10, 60'000, {}, 0, {},
     "Each etcd call (connect included). etcd unreachable: the instance serves its last view "
     "and reconnects with backoff.",
     [](config& c, std::size_t, const knob_value& v) { c.fleet.timeout_ms = uint32_t(v.integer); },
     [](const config& c, std::size_t) { return int_value(c.fleet.timeout_ms); }},
    {"fleet.credentials", knob_type::string, kTable, "\"\"", 0, 0, {}, 0, {},
     "\"user:password\" qgate logs in to the fleet's backends with (empty: user qgate).",
     [](config& c, std::size_t, const knob_value& v) { c.fleet.credentials = v.text; },
     [](const config& c, std::size_t) { return text_value(c.fleet.credentials); }},
    {"fleet.conns", knob_type::integer, kTable, "4", 1, 256, {}, 0, {},
     "Request mode: pooled connections to each fleet backend (as backend.conns).",
     [](config& c, std::size_t, const knob_value& v) { c.fleet.conns = uint32_t(v.integer); },
     [](const config& c, std::size_t) { return int_value(c.fleet.conns); }},
};

}  // namespace

std::span<const knob> fleet_knobs() { return kFleetKnobs; }

}  // namespace qgate::ctl
