#pragma once
// A bound for the busy-wait loops of the cross-thread stress tests (mailbox, pub/sub lanes):
// a lost message or wake must fail the test, not hang the suite. A loop goes on while
// go_on() is true: at most kSpinMax rounds and until the deadline, whichever comes first.
// The runs take well under a second; the 10 s budget leaves room for a loaded 2-core box.
// The clock is read every 1024 rounds only.
#include <chrono>
#include <cstdint>

namespace qgate::test {

constexpr uint64_t kSpinMax = uint64_t{1} << 28;
constexpr auto kSpinBudget = std::chrono::seconds(10);

struct spin_bound {
    std::chrono::steady_clock::time_point deadline;
    uint64_t rounds = 0;
    bool go_on() {
        ++rounds;
        if (rounds >= kSpinMax) return false;
        return rounds % 1024 != 0 || std::chrono::steady_clock::now() < deadline;
    }
};

}  // namespace qgate::test
