// The admin endpoint's anti-lock-out rules over an injected clock: deadlines, the client a
// newcomer displaces at the cap, and how long poll() may sleep.
#include <doctest/doctest.h>

#include "ctl/admin_clients.h"

using namespace qgate;
using namespace qgate::ctl;

namespace {

admin_client at(bool ready, uint64_t accepted_ms, uint64_t active_ms) {
    admin_client c;
    c.ready = ready;
    c.accepted_ms = accepted_ms;
    c.active_ms = active_ms;
    return c;
}

admin_conf limits(uint32_t handshake_ms, uint32_t idle_ms) {
    admin_conf l;
    l.handshake_timeout_ms = handshake_ms;
    l.idle_timeout_ms = idle_ms;
    return l;
}

}  // namespace

TEST_CASE("admin deadline: the handshake runs from accept, bytes do not extend it") {
    const admin_conf lim = limits(500, 10000);
    CHECK(admin_deadline(at(false, 1000, 1400), lim) == 1500);  // trickled a byte at 1400
    CHECK(admin_deadline(at(true, 1000, 1400), lim) == 11400);  // idle from the last byte
    CHECK(admin_deadline(at(true, 1000, 1400), limits(500, 0)) == kNoDeadline);
}

TEST_CASE("admin victim: the oldest client in its handshake, else the longest idle") {
    std::vector<admin_client> cs = {at(true, 10, 10), at(false, 30, 90), at(false, 20, 95),
                                    at(true, 40, 50)};
    CHECK(admin_victim(cs) == 2);  // accepted at 20: the oldest unauthenticated
    cs[2].ready = true;
    CHECK(admin_victim(cs) == 1);  // the only one left in its handshake
    cs[1].ready = true;
    CHECK(admin_victim(cs) == 0);  // all authenticated: silent since 10
    cs[0].active_ms = 100;
    CHECK(admin_victim(cs) == 3);  // now silent since 50
}

TEST_CASE("admin poll timeout: until the earliest deadline, 0 when past, -1 when none") {
    const admin_conf lim = limits(500, 0);
    std::vector<admin_client> cs;
    CHECK(admin_poll_timeout(cs, lim, 1000) == -1);
    cs.push_back(at(true, 0, 0));
    CHECK(admin_poll_timeout(cs, lim, 1000) == -1);  // authenticated, no idle timeout
    cs.push_back(at(false, 900, 900));
    cs.push_back(at(false, 700, 999));
    CHECK(admin_poll_timeout(cs, lim, 1000) == 200);  // 700 + 500
    CHECK(admin_poll_timeout(cs, lim, 1200) == 0);
    CHECK(admin_poll_timeout(cs, lim, 5000) == 0);
    CHECK(admin_poll_timeout(cs, limits(500, 100), 1000) == 0);  // idle since 0, past 100
}
