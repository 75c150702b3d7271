// The reloader as a backend_sink (qgate/backend_sink.h): backends that register themselves or
// are found through TorQ discovery join the file's configuration as one more reload would
// add them. Control threads only (the registration and discovery threads); serialised with
// SIGHUP and .qgate.reload[] by the reloader's mutex.
//
// Design note: an owner's list is replaced whole and compared with what it had before, so a
// discovery refresh that finds nothing new builds no generation. An address that does not
// resolve is refused here, per backend, rather than failing the whole set in apply. Names:
// the file's [[backend]]s (and process.csv rows) come first, then the owners in name order,
// each taking the names still free; a clash is refused to the late owner and logged.

#include <algorithm>
#include <set>

#include "net/socket_util.h"
#include "proxy/reloader.h"
#include "qgate/log.h"
#include "qgate/reload.h"

namespace qgate::proxy {

namespace {

bool same_list(const std::vector<backend_conf>& a, const std::vector<backend_conf>& b) {
    return a.size() == b.size() &&
           std::equal(a.begin(), a.end(), b.begin(),
                      [](const backend_conf& x, const backend_conf& y) {
                          return ctl::same_backend(x, y) && x.source == y.source;
                      });
}

// Entries whose address resolves; the others are refused with the reason.
std::vector<backend_conf> resolvable(std::vector<backend_conf> list,
                                     std::vector<std::string>& refused) {
    std::vector<backend_conf> ok;
    for (backend_conf& b : list) {
        net::sock_addr a;
        std::string why;
        if (b.name.empty() || b.group.empty() || b.addr.port == 0) {
            refused.push_back(b.name + ": needs a name, a group and a non-zero port");
        } else if (!net::resolve(b.addr, a, why)) {
            refused.push_back(b.name + ": " + why);
        } else {
            ok.push_back(std::move(b));
        }
    }
    return ok;
}

}  // namespace

config_ptr reloader::merged(const config& file, const std::string& owner,
                            std::vector<std::string>* refused) const {
    auto out = std::make_shared<config>(file);
    std::set<std::string> names;
    for (const backend_conf& b : file.backends) names.insert(b.name);
    for (const auto& [who, list] : runtime_) {
        for (const backend_conf& b : list) {
            if (names.insert(b.name).second) {
                out->backends.push_back(b);
                continue;
            }
            if (who == owner && refused != nullptr) {
                refused->push_back(b.name + ": the name is taken by another backend");
            }
            QGATE_LOG_DEBUG("runtime backend %s of %s left out: the name is taken",
                            b.name.c_str(), who.c_str());
        }
    }
    return out;
}

sink_result reloader::set_backends(const std::string& owner, std::vector<backend_conf> list) {
    const std::lock_guard<std::mutex> lock(mu_);
    sink_result r;
    std::vector<backend_conf> ok = resolvable(std::move(list), r.refused);
    const auto it = runtime_.find(owner);
    std::vector<backend_conf> before;
    if (it != runtime_.end()) before = it->second;
    r.generation = generation_.load(std::memory_order_relaxed);
    if (same_list(before, ok)) {
        for (const backend_conf& b : ok) r.accepted.push_back(b.name);
        return r;  // nothing changed: no new generation
    }
    if (ok.empty()) {
        runtime_.erase(owner);
    } else {
        runtime_[owner] = ok;
    }
    reload_result res;
    std::vector<std::string> clashes;
    if (!apply(merged(*file_, owner, &clashes), res)) {
        if (before.empty()) {
            runtime_.erase(owner);
        } else {
            runtime_[owner] = std::move(before);
        }
        for (const backend_conf& b : ok) r.refused.push_back(b.name + ": " + res.error);
        QGATE_LOG_WARN("backends of %s refused: %s", owner.c_str(), res.error.c_str());
        return r;
    }
    for (const backend_conf& b : ok) {
        const bool clash = std::any_of(clashes.begin(), clashes.end(), [&b](const auto& c) {
            return c.compare(0, b.name.size() + 1, b.name + ":") == 0;
        });
        if (!clash) r.accepted.push_back(b.name);
    }
    r.refused.insert(r.refused.end(), clashes.begin(), clashes.end());
    r.generation = res.generation;
    wait_adopted(res.generation);
    QGATE_LOG_INFO("backends of %s: %zu now (generation %llu)", owner.c_str(),
                   r.accepted.size(), static_cast<unsigned long long>(res.generation));
    for (const std::string& why : r.refused) {
        QGATE_LOG_WARN("backend of %s refused: %s", owner.c_str(), why.c_str());
    }
    tick_locked();
    return r;
}

}  // namespace qgate::proxy
