// DESIGN: see fleet_hooks.h. Each hook reads the running generation's backend ids (the names
// the fleet speaks of) and touches only atomics and the admin model's drain, which the admin
// thread may call at the same time (it writes the same relaxed flags).
#include "proxy/fleet_hooks.h"

namespace qgate::proxy {

fleet_hooks make_fleet_hooks(const reloader& rl, const gen_holder& gens,
                             const upstream_table& ups, route_plane* plane,
                             gateway_model& model) {
    fleet_hooks h;
    h.generation = [&rl] { return rl.generation(); };
    h.set_drain = [&model](const std::string& name, bool drain) {
        ctl::backend_row row;
        std::string error;
        return model.set_drain(name, drain, row, error);
    };
    if (plane == nullptr) return h;  // no request mode: health stays per session
    h.local_health = [&gens, &ups, plane] {
        std::vector<std::pair<std::string, bool>> out;
        for (const uint32_t b : gens.current_view().ids) {
            const bool ejected = plane->state(b).ejected.load(std::memory_order_relaxed);
            out.emplace_back(ups.at(static_cast<int>(b)).name, ejected);
        }
        return out;
    };
    h.set_fleet_down = [&gens, &ups, plane](const std::set<std::string>& down) {
        for (const uint32_t b : gens.current_view().ids) {
            const bool is_down = down.contains(ups.at(static_cast<int>(b)).name);
            plane->state(b).fleet.store(is_down ? 2 : 1, std::memory_order_relaxed);
        }
    };
    return h;
}

}  // namespace qgate::proxy
