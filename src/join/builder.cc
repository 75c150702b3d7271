// Output assembly for joins: the frame header and new heads go into `meta`, everything else is
// referenced by iovec. Owns nothing beyond the join_output it fills; runs on the shard that
// joins (the client's), once per joined reply.

#include "builder.h"

#include "qgate/qipc/frame.h"

namespace qgate::join::detail {

builder::builder(join_output& out, uint64_t meta_max, uint64_t iov_max) : out_(out) {
    out_ = join_output{};
    out_.meta.resize(qipc::kHeaderSize + meta_max);  // one allocation; never grows (see header)
    out_.iov.reserve(iov_max + 1);
    out_.iov.push_back({out_.meta.data(), qipc::kHeaderSize});
}

uint8_t* builder::put(uint64_t n) {
    if (!ok_ || n > out_.meta.size() - meta_used_) {
        ok_ = false;
        return nullptr;
    }
    uint8_t* p = out_.meta.data() + meta_used_;
    if (last_is_meta_) {
        out_.iov.back().iov_len += n;  // follows the previous meta piece: extend it
    } else {
        out_.iov.push_back({p, n});
        last_is_meta_ = true;
    }
    meta_used_ += n;
    return p;
}

void builder::u8(uint8_t v) {
    if (uint8_t* p = put(1)) *p = v;
}

void builder::head(int8_t type, uint8_t attr, uint64_t count) {
    uint8_t* p = put(kHeadSize);
    if (p == nullptr) return;
    p[0] = static_cast<uint8_t>(type);
    p[1] = attr;
    qipc::store_u32(p + 2, static_cast<uint32_t>(count), true);
}

void builder::ref(std::span<const uint8_t> bytes) {
    if (bytes.empty()) return;
    if (out_.iov.size() == out_.iov.capacity()) {
        ok_ = false;  // the caller's iov bound was wrong: never reallocate (see header)
        return;
    }
    out_.iov.push_back({const_cast<uint8_t*>(bytes.data()), bytes.size()});
    out_.referenced_bytes += bytes.size();
    last_is_meta_ = false;
}

void builder::envelope(std::span<const std::span<const uint8_t>> items) {
    if (items.empty()) return;
    head(qipc::qtype::kList, 0, items.size() + 1);
    for (const auto& item : items) ref(item);
}

join_error builder::finish(qipc::msg_type type, uint64_t length_max, bool le) {
    if (!ok_) return join_error::bad_partial;
    uint64_t total = 0;
    for (const iovec& v : out_.iov) total += v.iov_len;
    if (total > length_max || total > kJoinLengthMax) return join_error::limit;
    out_.meta.resize(meta_used_);  // shrinking keeps the data pointer (no reallocation)
    qipc::frame_header h{le, type, false, total};
    qipc::write_header(h, out_.meta.data());
    out_.total_bytes = total;
    return join_error::ok;
}

}  // namespace qgate::join::detail
