// DESIGN: see fleet_hooks.h. Each hook reads the running generation's backend ids (the names
// the fleet speaks of) and writes only relaxed atomics: the drain flags the admin model's
// .qgate.drain writes (the same two cells), never through the model itself, whose per-shard
// command slots belong to the admin thread alone.
#include "proxy/fleet_hooks.h"

#include "qgate/log.h"

namespace qgate::proxy {

fleet_hooks make_fleet_hooks(const reloader& rl, const gen_holder& gens, upstream_table& ups,
                             route_plane* plane) {
    fleet_hooks h;
    h.generation = [&rl] { return rl.generation(); };
    // As gateway_model::set_drain, by name in the current generation.
    h.set_drain = [&gens, &ups, plane](const std::string& name, bool drain) {
        const gen_holder::view v = gens.current_view();
        if (v.cfg == nullptr) return false;
        for (std::size_t i = 0; i < v.cfg->backends.size() && i < v.ids.size(); ++i) {
            if (v.cfg->backends[i].name != name) continue;
            const uint32_t b = v.ids[i];
            ups.set_drained(static_cast<int>(b), drain);
            if (plane != nullptr) plane->state(b).drained.store(drain, std::memory_order_relaxed);
            QGATE_LOG_INFO("fleet: backend %s %s", name.c_str(),
                           drain ? "draining (no new calls or sessions)" : "enabled");
            return true;
        }
        return false;
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
