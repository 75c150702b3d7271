// One frame reader for the connections that read q frames straight into memory of their own
// instead of the shard's provided buffers (recv_into): a pool link's replies land in the
// buffer its request slot takes, a feed's or publisher's updates in the refcounted buffer they
// are published from. The reader owns the mechanics: one recv_into armed at a time, at the
// target its sink names; the completion (short reads, EOF and errors, a closing socket whose
// memory may only be released once the read is over); reading on at once with recv_now while
// a burst is queued; and, at teardown, cancelling every read still armed. The sink owns what
// the bytes mean (frame_sink: where the next bytes go, what to do with the ones that came).
//
// Sinks: pool_links (pool_rx.cc: frame_buf swapped into the slot, unwanted frames skipped in
// chunks) and ps_reader (ps_reader.cc: header into the frame cut, body into the update
// buffer). Owner: the engine (one per shard). Thread: the shard's.
#pragma once

#include <cstdint>

#include "io/io_types.h"

namespace qgate::proxy {

class engine;
struct session;
struct sock;
enum class role : uint8_t;

/// Where the next read goes: `len` bytes at `at`; `all`: MSG_WAITALL (the epoll backend may
/// still complete short).
struct read_target {
    uint8_t* at;
    uint32_t len;
    bool all;
};

class frame_sink {
  public:
    /// The connection still reads frames (not closed, link not failed).
    virtual bool reading(const session& ss) const = 0;
    /// Where the next bytes go. Called once per read, right before it is submitted.
    virtual read_target target(session& ss) = 0;
    /// `n` bytes landed where target() aimed (`now`: by recv_now, in the same turn).
    virtual void took(session& ss, uint32_t n, bool now) = 0;
    /// recv_now reads allowed after an armed read brought data (0: none).
    virtual uint32_t pull_max() const = 0;

    virtual ~frame_sink() = default;
};

class frame_reader {
  public:
    explicit frame_reader(engine& e) : e_(e) {}
    /// From now on `r` of `ss` reads by recv_into (sock::into). A multishot recv still armed
    /// (the one that read a client's handshake) is cancelled first; its final completion arms
    /// the first read (engine::arm_recv -> the kind's arm_read -> arm).
    void start(session& ss, role r);
    /// Arms the one read, unless one is in flight or the sink stopped reading.
    void arm(session& ss, role r, frame_sink& s);
    /// The read's only completion (no kFlagMore).
    void on_read(session& ss, role r, const io::completion& c, frame_sink& s);
    /// Teardown (~engine): every read still armed is cancelled and its completion awaited.
    void settle();

  private:
    void pull(session& ss, role r, frame_sink& s);
    void arm_tls(session& ss, role r, sock& k);
    engine& e_;
};

}  // namespace qgate::proxy
