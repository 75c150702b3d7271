// The mailbox mesh; see mailbox.h for the wake protocol. Queues are built once at start
// (control plane); push/flush/drain are called only by their producer / consumer shard.

#include "shard/mailbox.h"

namespace qgate::shard {

mailbox_mesh::mailbox_mesh(uint32_t shards) : n_(shards), flags_(new flag[shards]) {
    queues_.reserve(size_t{shards} * shards);
    for (uint32_t i = 0; i < shards * shards; ++i)
        queues_.push_back(std::make_unique<mailbox_ring>(kMailboxCapacity, kMailboxBatch));
}

bool mailbox_mesh::flush(uint32_t from, uint32_t to) {
    // push() publishes by itself every kMailboxBatch messages without looking at the peer,
    // and the peer may have gone to sleep after such a publication: so the question is not
    // "did this flush publish" but "was anything published since the last wake check".
    mailbox_ring& q = queue(from, to);
    q.publish();
    if (!q.take_unsignalled()) return false;
    std::atomic_thread_fence(std::memory_order_seq_cst);
    // Cheap check first: most of the time the peer is awake and we skip the RMW.
    if (!flags_[to].sleeping.load(std::memory_order_relaxed)) return false;
    return flags_[to].sleeping.exchange(false, std::memory_order_seq_cst);
}

bool mailbox_mesh::prepare_sleep(uint32_t me) {
    flags_[me].sleeping.store(true, std::memory_order_seq_cst);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    for (uint32_t from = 0; from < n_; ++from) {
        if (from != me && queue(from, me).has_published()) {
            flags_[me].sleeping.store(false, std::memory_order_relaxed);
            return false;
        }
    }
    return true;
}

}  // namespace qgate::shard
