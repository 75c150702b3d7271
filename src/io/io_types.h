// Completion records and user_data encoding shared by every io backend and by the code that
// consumes completions. Dependency-free (types only).
//
// A completion is shaped exactly like an io_uring CQE (user_data, res, flags with the buffer id
// in the upper 16 bits), and the epoll backend synthesises the same records. So the connection
// state machine has one completion path, and a test can drive it with fabricated records
// (ENOBUFS, short sends, a missing F_MORE, ECANCELED) without any kernel involved.
#pragma once

#include <cstdint>

namespace qgate::io {

/// What a submitted operation was; stored in the top byte of user_data.
enum class op : uint8_t {
    none = 0,
    accept,   ///< multishot accept; res = new fd
    recv,     ///< multishot recv into a provided buffer; res = bytes, flags carry the buffer id
    read,     ///< single-shot recv into the caller's memory (recv_into); res = bytes, 0 = EOF
    send,     ///< sendmsg; res = bytes written
    connect,  ///< res = 0 or -errno
    cancel,   ///< result of a cancel request (ignored by consumers)
    wake,     ///< a peer shard woke us (MSG_RING / eventfd)
    notify,   ///< an outside thread poked us (eventfd)
    count_,   ///< sentinel
};

inline constexpr uint32_t kFlagMore = 1u << 1;    ///< == IORING_CQE_F_MORE
inline constexpr uint32_t kFlagBuffer = 1u << 0;  ///< == IORING_CQE_F_BUFFER
inline constexpr uint32_t kBufferShift = 16;      ///< == IORING_CQE_BUFFER_SHIFT

struct completion {
    uint64_t user_data = 0;
    int32_t res = 0;
    uint32_t flags = 0;

    bool more() const { return (flags & kFlagMore) != 0; }
    bool has_buffer() const { return (flags & kFlagBuffer) != 0; }
    uint16_t buffer_id() const { return static_cast<uint16_t>(flags >> kBufferShift); }
};

/// user_data layout: op (8 bits) | generation (24 bits) | slot (32 bits). The generation lets a
/// consumer drop completions for a slot that has since been reused.
constexpr uint64_t pack_ud(op o, uint32_t gen, uint32_t slot) {
    return uint64_t{static_cast<uint8_t>(o)} << 56 | uint64_t{gen & 0xffffffu} << 32 | slot;
}
constexpr op ud_op(uint64_t ud) { return static_cast<op>(ud >> 56); }
constexpr uint32_t ud_gen(uint64_t ud) { return static_cast<uint32_t>(ud >> 32) & 0xffffffu; }
constexpr uint32_t ud_slot(uint64_t ud) { return static_cast<uint32_t>(ud); }

/// Plain per-backend statistics, owned by the backend's thread; the shard copies them into its
/// relaxed-atomic counters after each wait.
struct io_stats {
    uint64_t enters = 0;          ///< io_uring_enter / epoll_wait calls
    uint64_t cqes = 0;            ///< completions delivered
    uint64_t cq_overflow = 0;     ///< times the CQ overflowed or submit said EBUSY
    uint64_t sq_full = 0;         ///< get_sqe found no slot and had to submit early
};

}  // namespace qgate::io
