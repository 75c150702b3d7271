// Per-subscriber backlog (backlog.h). Design note: owned by the subscriber's shard, touched
// only there. A fixed ring of shared references: push and pop move a reference, never copy
// bytes and never allocate. Conflation (only when full, under the conflate policy) runs in
// three steps, each stopping as soon as the new update fits:
//   1. drop queued updates of the new update's table (the new one supersedes them);
//   2. keep only the newest queued update of every other table;
//   3. drop the oldest (more distinct tables than the ring holds, or bytes still over).
// Step 2 is O(queued × tables) and runs only on overflow. Surviving updates keep their order,
// so a conflating subscriber still sees each table's updates in publication order.

#include "qgate/pubsub/backlog.h"

#include <algorithm>

namespace qgate::pubsub {

backlog::backlog(backlog_limits lim) : lim_(lim), ring_(std::max<uint32_t>(1, lim.updates_max)) {}

bool backlog::fits(uint64_t size) const {
    if (count_ >= ring_.size()) return false;
    return count_ == 0 || bytes_ + size <= lim_.bytes_max;  // one update is always accepted
}

template <class Keep>
void backlog::compact(Keep keep) {
    uint32_t kept = 0;
    for (uint32_t i = 0; i < count_; ++i) {
        if (keep(i)) {
            if (kept != i) at(kept) = std::move(at(i));
            ++kept;
        } else {
            bytes_ -= at(i).u.size();
            at(i).u.reset();
            ++stats_.conflated;
        }
    }
    for (uint32_t i = kept; i < count_; ++i) at(i).u.reset();
    count_ = kept;
}

void backlog::conflate(uint32_t table, uint64_t size) {
    compact([&](uint32_t i) { return at(i).table != table; });
    if (fits(size)) return;
    compact([&](uint32_t i) {
        for (uint32_t j = i + 1; j < count_; ++j) {
            if (at(j).table == at(i).table) return false;  // a newer one of its table is queued
        }
        return true;
    });
    while (!fits(size) && count_ > 0) {
        bytes_ -= at(0).u.size();
        at(0).u.reset();
        head_ = (head_ + 1) % static_cast<uint32_t>(ring_.size());
        --count_;
        ++stats_.conflated;
    }
}

void backlog::append(uint32_t table, update_ref u) {
    bytes_ += u.size();
    entry& e = at(count_);
    e.table = table;
    e.u = std::move(u);
    ++count_;
    ++stats_.pushed;
    stats_.bytes_high = std::max(stats_.bytes_high, bytes_);
    stats_.updates_high = std::max(stats_.updates_high, count_);
}

push_result backlog::push(uint32_t table, update_ref u) {
    if (fits(u.size())) {
        append(table, std::move(u));
        return push_result::queued;
    }
    ++stats_.overflows;
    if (lim_.policy == slow_policy::disconnect) {
        clear();
        return push_result::disconnect;
    }
    conflate(table, u.size());
    append(table, std::move(u));
    return push_result::conflated;
}

bool backlog::pop(update_ref& out) {
    if (count_ == 0) return false;
    entry& e = at(0);
    bytes_ -= e.u.size();
    out = std::move(e.u);
    e.u.reset();
    head_ = (head_ + 1) % static_cast<uint32_t>(ring_.size());
    --count_;
    ++stats_.popped;
    return true;
}

void backlog::clear() {
    for (uint32_t i = 0; i < count_; ++i) at(i).u.reset();
    head_ = 0;
    count_ = 0;
    bytes_ = 0;
}

}  // namespace qgate::pubsub
