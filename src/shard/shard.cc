// The shard event loop.
//
// Design note. One thread per shard runs:
//     drain inbound mailboxes -> hooks.on_turn (timers, batched sends) -> flush outbound
//     mailboxes (wake sleeping peers) -> backend.wait (submit + reap, one enter) -> dispatch.
// The backend is created on this thread (SINGLE_ISSUER rings must be), and so are the hooks,
// so every pool and table they allocate is first-touched by the CPU that uses it. An idle
// shard blocks in the kernel (no busy polling, G8): before blocking it runs the mailbox
// sleep handshake, so a peer's message either is seen now or wakes it (MSG_RING / eventfd).
// Counters owned by the backend are copied into the shard's atomics once per turn.

#include "shard/shard.h"

#include <unistd.h>

#include <cstdint>
#include <ctime>

#include "qgate/log.h"

namespace qgate::shard {

namespace {
constexpr int kCompletionBatch = 256;
}

shard::shard(uint32_t id, mailbox_mesh& mesh, io::backend_kind kind, io::backend_options opts)
    : id_(id), mesh_(mesh), kind_(kind), opts_(opts) {}

shard::~shard() { join(); }

uint64_t shard::now_ms() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000 + static_cast<uint64_t>(ts.tv_nsec) / 1000000;
}

bool shard::start(hooks_factory factory, std::string& error) {
    thread_ = std::thread([this, f = std::move(factory)] { run(f); });
    while (started_.load(std::memory_order_acquire) == 0) std::this_thread::yield();
    if (started_.load(std::memory_order_acquire) < 0) {
        error = start_error_;
        join();
        return false;
    }
    return true;
}

void shard::join() {
    if (thread_.joinable()) thread_.join();
}

void shard::notify() {
    if (started_.load(std::memory_order_acquire) > 0) backend_->notify();
}

void shard::run(const hooks_factory& factory) {
    std::string err;
    backend_ = kind_ == io::backend_kind::uring ? io::make_uring_backend(opts_, err)
                                                : io::make_epoll_backend(opts_, err);
    if (!backend_) {
        start_error_ = "shard " + std::to_string(id_) + ": " + err;
        started_.store(-1, std::memory_order_release);
        return;
    }
    hooks_ = factory(*this);
    started_.store(1, std::memory_order_release);
    loop();
    hooks_.reset();
    if (exit_fd_ >= 0) {
        const uint64_t one = 1;
        const ssize_t r = ::write(exit_fd_, &one, sizeof one);
        (void)r;  // an eventfd write of 1 fails only at a counter near 2^64
    }
}

bool shard::send(uint32_t to, const xmsg& m) {
    if (!mesh_.queue(id_, to).push(m)) {
        bump(counters_.xshard_full);
        return false;
    }
    bump(counters_.xshard_msgs);
    dirty_peers_ |= uint64_t{1} << to;
    return true;
}

void shard::flush_outbound() {
    while (dirty_peers_ != 0) {
        const uint32_t to = static_cast<uint32_t>(__builtin_ctzll(dirty_peers_));
        dirty_peers_ &= dirty_peers_ - 1;
        if (mesh_.flush(id_, to)) {
            bump(counters_.xshard_wakes);
            backend_->wake_peer(peers_[to]->backend());
        }
    }
}

void shard::loop() {
    io::completion cq[kCompletionBatch];
    while (!hooks_->finished()) {
        mesh_.drain(id_, [&](uint32_t from, const xmsg& m) { hooks_->on_message(from, m); });
        const uint64_t now = now_ms();
        hooks_->on_turn(now);
        flush_outbound();
        if (hooks_->finished()) break;
        const int budget = hooks_->sleep_budget_ms(now);
        const bool may_sleep = budget != 0 && mesh_.prepare_sleep(id_);
        const int n = backend_->wait(cq, kCompletionBatch, may_sleep ? budget : 0);
        if (may_sleep) mesh_.woke(id_);
        for (int i = 0; i < n; ++i) {
            const io::op o = io::ud_op(cq[i].user_data);
            if (o == io::op::wake) continue;  // mailboxes are drained at the top of the loop
            if (o == io::op::notify) {
                hooks_->on_notify();
                continue;
            }
            hooks_->on_completion(cq[i]);
        }
        const io::io_stats& s = backend_->stats();
        set(counters_.enters, s.enters);
        set(counters_.cqes, s.cqes);
        set(counters_.cq_overflow, s.cq_overflow);
        set(counters_.sq_full, s.sq_full);
        const uint64_t held = backend_->pool().held();
        set(counters_.bufs_held, held);
        if (held > counters_.bufs_held_peak.load(std::memory_order_relaxed)) {
            set(counters_.bufs_held_peak, held);
        }
    }
    // A drain broadcast may still sit in the mailboxes with its wake (an MSG_RING SQE) not yet
    // submitted: publish and submit once more before the ring goes away.
    flush_outbound();
    backend_->wait(cq, kCompletionBatch, 0);
}

}  // namespace qgate::shard
