// Request mode, the client's shard (kind: request client): each call is framed into a request
// slot (lent from its receive buffer or copied: request_lend.cc), classified, routed and handed
// to its backend's home shard; replies go back in the order the client sent its sync calls
// (request_clients.cc). Owner: the shard's thread. Lifetime: the handler and its slot pool
// live as long as the engine; a client's order list lives in its slot (rq_client).
#pragma once

#include "proxy/conn_handler.h"
#include "proxy/engine.h"
#include "qgate/qipc/compress.h"

namespace qgate::proxy {

/// Most output a parked compressed call is inflated by in one loop turn, and the size past
/// which a compressed call is parked at all (request_inflate.cc has the why and the cost).
inline constexpr uint64_t kInflateSliceBytes = uint64_t{1} << 20;

class request_clients final : public conn_handler {
  public:
    explicit request_clients(engine& e);
    engine& e_;

    void on_authenticated(session& ss) override { enter_request(ss); }
    void on_data(session& ss, role r, uint16_t bid, uint32_t n) override;
    void on_eof(session& ss, role r) override;
    void on_read_eof(session& ss, role r) override;
    void drop_partial(session& ss);
    void on_sent(session& ss, role r) override;
    bool on_close(session& ss) override;
    void on_slot_freed(session& ss) override { ss.rq = rq_client{}; }
    bool idle(const session& ss) const override;

    void enter_request(session& ss);
    void request_input(session& ss, int32_t bid, const uint8_t* p, uint32_t n);
    int64_t request_data(session& ss, int32_t bid, const uint8_t* p, uint32_t n);
    void request_unhold(session& ss);
    bool over_quota(const session& ss) const;
    void wait_for_slot(session& ss);
    void wake_slot_waiters();
    bool request_header(session& ss, const qipc::frame_header& h);
    void dispatch(session& ss, request& r);
    static void enlist(session& ss, request& r);
    void route_call(session& ss, request& r);
    void route_body(session& ss, request& r, const qipc::frame_header& h,
                    std::span<const uint8_t> body);
    bool inflate(session& ss, request& r, std::span<const uint8_t> msg,
                 std::span<const uint8_t>& body);
    void reject_malformed(session& ss, request& r);
    bool acl_refused(session& ss, request& r, const generation& gen,
                     const route::call_info& call, const route::route_rule* rule);
    void refresh_user_limit(session& ss);
    bool begin_user_call(session& ss, request& r);
    void end_user_call(const session& ss, request& r);
    bool refuse_inflate(session& ss, request& r);
    void release_scratch();
    void park_inflate(session& ss, request& r);
    void inflate_parked();
    void parked_step(session& ss, request& r);
    void unpark(request& r);
    session* parked_owner(const request& r) const;
    void refuse_reply(request& r);
    void backend_error(request& r, const char* what) const;
    void plain_reply(const session& ss, request& r);
    static void write_error(request& r, std::string_view text);
    void answer_error(session& ss, request& r, std::string_view text);
    void hold_generation(request& r);
    void flush_answers(session& ss);
    static void log_call(request& r);
    void log_answer(const session& ss, const request& r, const uint8_t* p, size_t n);
    bool client_quota_ok(const session& ss) const;
    void request_done(request& r);
    void request_sent(uint32_t index);
    void request_close(session& ss);
    void expire_requests(uint64_t now_ms);
    void compact_request_timers();
    request* alloc_request();
    void maybe_free_request(request& r);
    void submit(request& r);
    void stamp_user(request& r);
    void arrive_home(request& r);
    void post(uint32_t to, uint32_t kind, request& r);
    void flush_outbox();
    void take_requests(request* r);
    void init_lending();
    void request_body(session& ss, const uint8_t* p, uint32_t n);
    bool lend_call(session& ss, request& r, const uint8_t* body, uint32_t n);
    void copy_call(session& ss, request& r);
    bool start_call(session& ss, request& r, uint64_t len);
    bool call_room(session& ss, request& r, uint64_t end);
    bool hold_call(session& ss, request& r, uint64_t n);
    void refuse_call(session& ss, request& r);
    bool hold_reply(session& ss, request& r);
    void release_held(request& r);
    void let_call_go(request& r);
    void share_call(request& child, const request& parent);
    void drop_call(request& r);
    void buf_unref(uint16_t bid);

    request* slot_free_ = nullptr;
    shard::timer_heap rq_timers_;
    std::vector<route::pick_cursor> cursors_;  ///< per group
    std::vector<request_fifo> outbox_;         ///< per destination shard: slots to hand over
    std::vector<uint32_t> slot_waiters_;       ///< clients paused for want of a request slot
    uint32_t away_ = 0;                        ///< my slots held by other shards
    frame_buf scratch_;  ///< decompressed body of the call being classified
    /// Compressed calls past one slice, inflated a slice per turn, the head first; their slots
    /// hold hold::kInflate (request_inflate.cc).
    request_fifo parked_;
    frame_buf parked_out_;     ///< the head's output (from the shard's cache of big buffers)
    qipc::inflater inflater_;  ///< the head's decoder, once started
    bool parked_started_ = false;
    /// Per receive buffer: request slots whose lent call points into it, plus kInputGone once
    /// the input (request_input / held) let go of it. Origin shard only: no atomics.
    std::vector<uint32_t> buf_refs_;
    uint32_t bufs_lent_ = 0;  ///< buffers with at least one slot reference
    uint32_t lend_max_ = 0;   ///< lend only below this many buffers (kLendSharePct of the pool)
};

}  // namespace qgate::proxy
