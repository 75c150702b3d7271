// The byte buffer a backend's reply frame lives in: request::rep, and the receive buffer `rx`
// of a pooled upstream connection, which trade places by pointer when a reply is complete
// (pool_rx.cc). Types only, dependency-free.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>
#include <vector>

namespace qgate::proxy {

/// An allocator that default-initialises: resize() leaves new bytes as they are instead of
/// zero-filling them. A reply buffer is sized to the frame and then filled by recv (or by a
/// writer); value-initialisation would memset every frame first, which costs as much as the
/// copy the zero-copy hand-off removes.
template <typename T, typename A = std::allocator<T>>
struct default_init_allocator : A {
    using traits = std::allocator_traits<A>;
    template <typename U> struct rebind {
        using other = default_init_allocator<U, typename traits::template rebind_alloc<U>>;
    };
    using A::A;

    template <typename U>
    void construct(U* p) noexcept(std::is_nothrow_default_constructible_v<U>) {
        ::new (static_cast<void*>(p)) U;
    }
    template <typename U, typename... Args> void construct(U* p, Args&&... args) {
        traits::construct(static_cast<A&>(*this), p, std::forward<Args>(args)...);
    }
};

/// A reply frame's bytes, header included (capacity reused: see kKeepBytesMax).
using frame_buf = std::vector<uint8_t, default_init_allocator<uint8_t>>;

/// A request slot keeps its buffers' capacity (no allocation per call) unless one grew past
/// this for a rare large message: then it goes to its shard's bounded cache of big buffers
/// (big_bufs.h) when the slot is freed, so big messages do not pin memory per slot, yet reuse
/// their buffers. Since the reply buffer circulates (the slot's old buffer becomes the pool
/// connection's receive buffer), this also bounds what a connection keeps.
inline constexpr size_t kKeepBytesMax = size_t{1} << 20;

}  // namespace qgate::proxy
