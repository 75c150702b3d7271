// Request mode's access log records (access_log.h): the call's start and size when it is read
// whole (dispatch), its route and backend as it is routed, and the record pushed into the
// shard's ring when its answer is queued for the client (flush_answers). Only while the log
// is on (engine_options::alog); no allocation, no syscall (the clock is the vDSO's).
// Thread: the client's shard.

#include <cstring>

#include "proxy/access_log.h"
#include "proxy/kinds.h"

namespace qgate::proxy {

using shard::bump;

void request_clients::log_call(request& r) {
    r.log_t0_ns = access_clock_ns();
    r.log_in = static_cast<uint32_t>(r.call().size());
    r.log_backend = kAccessNone;
    r.log_route = kAccessNone;
}

// `p`/`n`: the answer frame (nullptr for a fan-out's joined reply, built as it is sent: its
// size is not known here, and out=0 says so).
void request_clients::log_answer(const session& ss, const request& r, const uint8_t* p,
                                 size_t n) {
    access_log& log = *e_.opt_.alog;
    const uint64_t end = access_clock_ns();
    const uint64_t us = (end - r.log_t0_ns) / 1000;
    if (us < log.slow_us()) return;
    access_record rec;
    rec.end_ns = end;
    rec.dur_us = us > UINT32_MAX ? UINT32_MAX : static_cast<uint32_t>(us);
    rec.bytes_in = r.log_in;
    rec.bytes_out = static_cast<uint32_t>(n);
    rec.client = ss.index;
    rec.shard = static_cast<uint16_t>(e_.me_);
    rec.listener = static_cast<uint16_t>(ss.listener);
    rec.backend = r.fan != nullptr ? kAccessNone : r.log_backend;
    rec.route = r.log_route;
    const size_t ulen = ss.user.size() < access_record::kUserMax ? ss.user.size()
                                                                  : access_record::kUserMax;
    std::memcpy(rec.user, ss.user.data(), ulen);
    rec.user_len = static_cast<uint8_t>(ulen);
    if (p != nullptr) classify_answer(rec, p, n);
    if (log.push(e_.me_, rec)) {
        bump(e_.ctr_.access_log_records);
    } else {
        bump(e_.ctr_.access_log_dropped);
    }
}

}  // namespace qgate::proxy
