// DESIGN: see admin_clients.h. Linear scans on purpose: the table holds at most
// admin.clients_max (64 by default) entries and is walked once per poll() wake-up.
#include "ctl/admin_clients.h"

#include <algorithm>
#include <cstdint>

namespace qgate::ctl {

uint64_t admin_deadline(const admin_client& c, const admin_conf& lim) {
    if (!c.ready) return c.accepted_ms + lim.handshake_timeout_ms;
    if (lim.idle_timeout_ms == 0) return kNoDeadline;
    return c.active_ms + lim.idle_timeout_ms;
}

std::size_t admin_victim(const std::vector<admin_client>& clients) {
    std::size_t best = clients.size();
    for (std::size_t i = 0; i < clients.size(); ++i) {
        if (clients[i].ready) continue;
        if (best == clients.size() || clients[i].accepted_ms < clients[best].accepted_ms) best = i;
    }
    if (best != clients.size()) return best;
    best = 0;
    for (std::size_t i = 1; i < clients.size(); ++i) {
        if (clients[i].active_ms < clients[best].active_ms) best = i;
    }
    return best;
}

int admin_poll_timeout(const std::vector<admin_client>& clients, const admin_conf& lim,
                       uint64_t now_ms) {
    uint64_t first = kNoDeadline;
    for (const admin_client& c : clients) first = std::min(first, admin_deadline(c, lim));
    if (first == kNoDeadline) return -1;
    if (first <= now_ms) return 0;
    return static_cast<int>(std::min<uint64_t>(first - now_ms, INT32_MAX));
}

}  // namespace qgate::ctl
