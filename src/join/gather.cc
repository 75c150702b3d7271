// The fan-out gather (DESIGN §6): collects N partial replies on the originating shard, decides
// the outcome (complete, failed on the first error, timed out) and keeps plain views of the
// bodies for the join. It owns only the decompressed copies of compressed partials (one
// allocation per compressed part); plain partials are referenced where they lie, so the
// caller keeps every delivered buffer alive until the joined reply is sent. One thread (the
// joining shard); time comes from the caller's clock (tests inject it).

#include <algorithm>
#include <cstring>

#include "qgate/join.h"
#include "qgate/qipc/compress.h"
#include "qgate/qipc/frame.h"
#include "qgate/qipc/walker.h"

namespace qgate::join {

namespace {
constexpr std::string_view kMalformed = "qgate: malformed reply from backend";
}  // namespace

bool gather::start(uint32_t parts, int64_t deadline_ms, uint64_t length_max,
                   qipc::inflate_limits inflate) {
    *this = gather{};  // releases any decompressed partials of the previous fan-out
    if (parts == 0 || parts > kPartsMax) return false;
    parts_ = parts;
    deadline_ms_ = deadline_ms;
    length_max_ = length_max;
    inflate_ = inflate;
    status_ = gather_status::waiting;
    return true;
}

gather_status gather::fail(uint32_t i, fail_reason r, std::string_view text) {
    status_ = r == fail_reason::timeout ? gather_status::timed_out : gather_status::failed;
    reason_ = r;
    failed_part_ = i;
    err_len_ = static_cast<uint16_t>(std::min(text.size(), err_.size()));
    std::memcpy(err_.data(), text.data(), err_len_);
    // First error wins: the other partials are discarded; nothing here refers to them now.
    for (uint32_t k = 0; k < parts_; ++k) {
        views_[k] = {};
        owned_[k].clear();
    }
    return status_;
}

/// Makes views_[i] the plain body of `msg`, decompressing it when needed.
bool gather::plain_body(uint32_t i, std::span<const uint8_t> msg, std::string_view& why) {
    qipc::frame_header h;
    if (!qipc::parse_header(msg, h, {length_max_, 6}) || msg.size() != h.length) {
        why = kMalformed;
        return false;
    }
    if (h.type != qipc::msg_type::response) {
        why = "qgate: backend sent a non-response message";
        return false;
    }
    if (!h.compressed) {
        views_[i] = {msg.subspan(qipc::kHeaderSize), h.little_endian};
        return true;
    }
    uint64_t ulen = 0;
    std::vector<uint8_t>& buf = owned_[i];
    const qipc::status st = qipc::inflate_length(msg, length_max_, inflate_, ulen);
    if (st.code == qipc::errc::inflate_limit) {
        ++inflate_refused_;
        why = "qgate: backend reply over the inflate limit";
        return false;
    }
    if (!st) {
        why = "qgate: bad compressed reply from backend";
        return false;
    }
    buf.resize(ulen);  // the one allocation per compressed partial
    if (!qipc::decompress(msg, buf)) {
        why = "qgate: bad compressed reply from backend";
        return false;
    }
    decompressed_bytes_ += ulen;
    views_[i] = {std::span<const uint8_t>(buf).subspan(qipc::kHeaderSize), h.little_endian};
    return true;
}

gather_status gather::deliver(uint32_t i, std::span<const uint8_t> msg) {
    const uint64_t bit = uint64_t{1} << (i % 64);
    if (status_ != gather_status::waiting || i >= parts_ || (arrived_mask_ & bit) != 0) {
        ++discarded_;
        return status_;
    }
    arrived_mask_ |= bit;
    ++arrived_;
    std::string_view why;
    if (!plain_body(i, msg, why)) return fail(i, fail_reason::bad_reply, why);
    // Only an error reply is walked here (its text is needed now). Other bodies are walked
    // once, by the join that reads them (raze validates each column as it gathers it), so a
    // 1 MB partial is not scanned twice.
    const part_view& p = views_[i];
    if (p.body.empty()) return fail(i, fail_reason::bad_reply, kMalformed);
    if (static_cast<int8_t>(p.body[0]) == qipc::qtype::kError) {
        qipc::object_view top;
        if (!qipc::walker(p.body, p.little_endian).validate(&top))
            return fail(i, fail_reason::bad_reply, kMalformed);
        return fail(i, fail_reason::q_error, qipc::symbol_text(top));
    }
    if (arrived_ == parts_) status_ = gather_status::complete;
    return status_;
}

gather_status gather::lost(uint32_t i, std::string_view why) {
    if (status_ != gather_status::waiting || i >= parts_) {
        ++discarded_;
        return status_;
    }
    return fail(i, fail_reason::backend_lost, why);
}

gather_status gather::tick(int64_t now_ms) {
    if (status_ == gather_status::waiting && deadline_ms_ >= 0 && now_ms >= deadline_ms_)
        return fail(0, fail_reason::timeout, kTimeoutText);
    return status_;
}

}  // namespace qgate::join
