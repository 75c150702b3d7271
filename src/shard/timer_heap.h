// Per-shard timers: a binary min-heap of (deadline, owner slot, owner generation) with lazy
// cancellation. An owner keeps its current deadline itself; a popped entry whose owner was
// freed (generation changed) or re-timed (deadline differs) is simply dropped. Connect,
// handshake and drain timeouts are coarse (ms) and rare (a few per connection lifetime), so a
// heap beats a wheel on simplicity. Capacity is reserved at start; the heap never exceeds
// `capacity` live entries because each owner has at most one pending deadline and stale
// entries are dropped when the heap is full (compaction), not kept.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace qgate::shard {

struct timer_entry {
    uint64_t deadline_ms = 0;
    uint32_t slot = 0;
    uint32_t gen = 0;
};

class timer_heap {
  public:
    explicit timer_heap(size_t capacity) { heap_.reserve(capacity); }

    void add(uint64_t deadline_ms, uint32_t slot, uint32_t gen) {
        heap_.push_back({deadline_ms, slot, gen});
        std::push_heap(heap_.begin(), heap_.end(), later);
    }
    /// Earliest deadline, or UINT64_MAX when empty.
    uint64_t next() const { return heap_.empty() ? UINT64_MAX : heap_.front().deadline_ms; }
    /// Pops every entry due at `now_ms` and calls f(entry); f decides whether it is still live.
    template <typename F> uint32_t expire(uint64_t now_ms, F&& f) {
        uint32_t n = 0;
        while (!heap_.empty() && heap_.front().deadline_ms <= now_ms) {
            std::pop_heap(heap_.begin(), heap_.end(), later);
            timer_entry e = heap_.back();
            heap_.pop_back();
            f(e);
            ++n;
        }
        return n;
    }
    /// Removes entries `dead(entry)` says are stale (called when the heap grows large).
    template <typename F> void compact(F&& dead) {
        heap_.erase(std::remove_if(heap_.begin(), heap_.end(), dead), heap_.end());
        std::make_heap(heap_.begin(), heap_.end(), later);
    }
    size_t size() const { return heap_.size(); }

  private:
    static bool later(const timer_entry& a, const timer_entry& b) {
        return a.deadline_ms > b.deadline_ms;
    }
    std::vector<timer_entry> heap_;
};

}  // namespace qgate::shard
