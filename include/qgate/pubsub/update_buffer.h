// An immutable, reference-counted message buffer: one encoded update (header included) shared
// by every shard and subscriber that sends it. Single allocation (control block + bytes), an
// atomic count, released by whoever drops the last reference — possibly another shard.
// Hot-path friendly: no exceptions (allocation failure is an empty handle), no locks.
#pragma once

#include <atomic>
#include <cstdint>
#include <span>
#include <utility>

namespace qgate::pubsub {

namespace detail {
/// Control block; for owned buffers the bytes follow it in the same allocation.
struct buffer_block {
    using release_fn = void (*)(void* ctx, const uint8_t* data, uint64_t size);
    std::atomic<uint32_t> refs{1};
    uint64_t size = 0;
    const uint8_t* data = nullptr;
    release_fn release = nullptr;  ///< adopted bytes: called when the last reference goes
    void* ctx = nullptr;
};
void destroy(buffer_block* b);
}  // namespace detail

/// A shared reference to immutable bytes. Copying adds a reference (relaxed increment);
/// destruction drops one (acq_rel) and frees on the last. Safe to pass between shards; the
/// bytes never change once a reference exists.
class update_ref {
  public:
    using release_fn = detail::buffer_block::release_fn;

    update_ref() = default;
    update_ref(const update_ref& o) noexcept : b_(o.b_) { retain(); }
    update_ref(update_ref&& o) noexcept : b_(std::exchange(o.b_, nullptr)) {}
    update_ref& operator=(const update_ref& o) noexcept {
        update_ref(o).swap(*this);
        return *this;
    }
    update_ref& operator=(update_ref&& o) noexcept {
        update_ref(std::move(o)).swap(*this);
        return *this;
    }
    ~update_ref() { reset(); }

    /// A copy of `bytes` in one allocation (empty handle when memory is short).
    static update_ref copy_of(std::span<const uint8_t> bytes) noexcept;
    /// Shares bytes owned elsewhere (e.g. the engine's receive buffer: the unfiltered case
    /// sends the received bytes themselves). `release(ctx, data, size)` runs once, on the
    /// thread that drops the last reference. One small allocation for the control block.
    static update_ref adopt(std::span<const uint8_t> bytes, release_fn release,
                            void* ctx) noexcept;

    std::span<const uint8_t> bytes() const {
        return b_ ? std::span<const uint8_t>(b_->data, b_->size) : std::span<const uint8_t>{};
    }
    uint64_t size() const { return b_ ? b_->size : 0; }
    /// Current references (for tests and stats; racy by nature when shared).
    uint32_t use_count() const { return b_ ? b_->refs.load(std::memory_order_relaxed) : 0; }
    explicit operator bool() const { return b_ != nullptr; }
    bool same_as(const update_ref& o) const { return b_ == o.b_; }
    void reset() noexcept {
        if (b_ && b_->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) detail::destroy(b_);
        b_ = nullptr;
    }
    void swap(update_ref& o) noexcept { std::swap(b_, o.b_); }

  private:
    friend class update_builder;
    explicit update_ref(detail::buffer_block* b) : b_(b) {}
    void retain() const {
        if (b_) b_->refs.fetch_add(1, std::memory_order_relaxed);
    }
    detail::buffer_block* b_ = nullptr;
};

/// Sole owner of a fresh buffer while it is being written; freeze() turns it into the first
/// shared reference, after which the bytes are immutable.
class update_builder {
  public:
    /// Allocates `size` bytes (check ok(): false when memory is short).
    explicit update_builder(uint64_t size) noexcept;
    update_builder(const update_builder&) = delete;
    update_builder& operator=(const update_builder&) = delete;
    ~update_builder();

    bool ok() const { return b_ != nullptr; }
    std::span<uint8_t> data() const;
    /// Ends the buffer at `size` bytes (no larger than now; nothing moves): for a buffer
    /// allocated with room to spare, e.g. a receive that may read a few bytes past the message.
    void shrink(uint64_t size) noexcept;
    update_ref freeze() && noexcept { return update_ref(std::exchange(b_, nullptr)); }

  private:
    detail::buffer_block* b_ = nullptr;
};

}  // namespace qgate::pubsub
