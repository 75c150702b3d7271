// The cross-shard messages: what one shard can tell another through the mailbox (mailbox.h).
// Each message is a small struct; `xmsg` is their std::variant, so a message's kind is its
// type, not a hand-picked number, and the receiver dispatches with std::visit over overloaded
// lambdas (engine::on_message), which fails to compile when a kind is left unhandled.
//
// Why the shard layer names proxy messages. The set is closed and small, and one variant over
// all of it is what makes dispatch checked. requests_msg carries a pointer to proxy's request
// slot, so this header forward-declares proxy::request: the shard layer moves that pointer
// and never dereferences it, and nothing in src/shard includes a proxy header. The
// alternative, templating the mesh and the shard loop on the message type, would turn
// shard.cc into a header to keep the layer ignorant of four names.
//
// Size. A message is a slot of the mailbox ring (128 per ordered pair of shards): it stays at
// 16 bytes, as the untyped {kind, arg, data} it replaces, so four fit in a cache line.
#pragma once

#include <cstdint>
#include <type_traits>
#include <variant>

namespace qgate::proxy {
struct request;
}  // namespace qgate::proxy

namespace qgate::shard {

/// Stop accepting and drain (broadcast by shard 0 on SIGTERM/SIGINT); once draining, a wake
/// to look at finished() again (the last request client of the process is gone).
struct drain_msg {};

/// Tests and liveness: `seq` is the sender's to use.
struct ping_msg {
    uint64_t seq = 0;
};

/// Request mode: a chain of request slots (linked by `request::qnext`, ended by nullptr)
/// handed to the receiving shard; each slot says what it is (`request::post_kind`). One
/// message per destination per turn however many slots, so the mailbox stays far from full
/// under load and the receiver takes a whole batch with one acquire.
struct requests_msg {
    proxy::request* head = nullptr;
};

/// Pub/sub: "your lanes from me have messages" (the lanes are spsc_ring<ps_msg>s of their
/// own; this only wakes and tells the peer to drain them).
struct pubsub_wake_msg {};

using xmsg = std::variant<drain_msg, ping_msg, requests_msg, pubsub_wake_msg>;

static_assert(sizeof(xmsg) <= 16, "a mailbox slot stays 16 bytes (four per cache line)");
static_assert(std::is_trivially_copyable_v<xmsg>, "a push is a plain copy of the slot");

/// Overload set for std::visit: one lambda per message type.
template <typename... F> struct overloaded : F... {
    using F::operator()...;
};
/// Spelled out: clang before 17 (clang-tidy, the fuzz build) has no CTAD for aggregates.
template <typename... F> overloaded(F...) -> overloaded<F...>;

}  // namespace qgate::shard
