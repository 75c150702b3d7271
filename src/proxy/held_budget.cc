// Request mode's budget of bytes held (held_budget.h: the rule and why it is safe without
// locks). Shard thread only, apart from the relaxed process-wide count.

#include "proxy/held_budget.h"

namespace qgate::proxy {

using shard::bump;
using shard::drop;

bool held_budget::take(uint64_t n) {
    if (n > credit_) {
        // Some credit for the next takes too; if the count cannot spare that, just what is due.
        const uint64_t due = n - credit_;
        if (grab(due + kChunk)) {
            credit_ += kChunk;
        } else if (!grab(due)) {
            return false;
        }
        credit_ += due;
    }
    credit_ -= n;
    bump(ctr_.request_bytes_held, n);
    return true;
}

void held_budget::give(uint64_t n) {
    if (n == 0) return;
    drop(ctr_.request_bytes_held, n);
    credit_ += n;
    if (credit_ <= 2 * kChunk) return;
    count_->fetch_sub(credit_ - kChunk, std::memory_order_relaxed);
    credit_ = kChunk;
}

// Adds `n` to the count unless that would pass max_. A compare-exchange, not an add and an
// undo: an add that overshoots for an instant would refuse another shard's take wrongly.
bool held_budget::grab(uint64_t n) {
    uint64_t now = count_->load(std::memory_order_relaxed);
    do {
        if (now > max_ || n > max_ - now) return false;
    } while (!count_->compare_exchange_weak(now, now + n, std::memory_order_relaxed));
    return true;
}

}  // namespace qgate::proxy
