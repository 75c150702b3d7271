// Join selection, the reducer request, and what happens to a joined reply after it is built:
// compression when q would compress it (the one path that copies: the compressor needs the
// message contiguous) and flattening for tests. Runs on the joining shard.

#include <cstring>

#include "builder.h"
#include "qgate/qipc/compress.h"
#include "qgate/qipc/walker.h"

namespace qgate::join {

namespace qt = qipc::qtype;

join_kind join_kind_of(std::string_view name) {
    if (name == "raze") return join_kind::raze;
    if (name == "list") return join_kind::list;
    if (name == "first") return join_kind::first;
    return join_kind::custom;
}

join_kind join_kind_of(const route::arg_view& join) {
    if (join.is_text) {
        std::string_view t = join.text;
        if (!t.empty() && t.front() == '`') t.remove_prefix(1);
        return (t == "raze" || t == "first") ? join_kind_of(t) : join_kind::custom;
    }
    const qipc::object_view& o = join.object;
    if (o.bytes.empty()) return join_kind::raze;  // syncexec / asyncexec: TorQ razes
    static constexpr uint8_t kRazePrimitive[] = {0x6b, 0x66, 0x0c};  // ,/
    if (o.bytes.size() == 3 && std::memcmp(o.bytes.data(), kRazePrimitive, 3) == 0)
        return join_kind::raze;
    const std::string_view s = qipc::symbol_text(o);
    if (o.type == -qt::kSymbol && (s == "raze" || s == "first")) return join_kind_of(s);
    return join_kind::custom;
}

const char* join_error_text(join_error e) {
    switch (e) {
    case join_error::ok: return "ok";
    case join_error::mismatch: return "mismatch";
    case join_error::type: return "type";
    case join_error::limit: return "limit";
    case join_error::big_endian: return "qgate: cannot join big-endian replies";
    case join_error::bad_partial: return "qgate: malformed reply from backend";
    case join_error::too_many: return "qgate: too many parts to join";
    case join_error::no_parts: return "qgate: nothing to join";
    }
    return "qgate: join failed";
}

join_error reducer_request(std::span<const uint8_t> join, std::span<const part_view> parts,
                           join_output& out) {
    const std::span<const uint8_t> env[] = {join};
    join_options opt;
    opt.type = qipc::msg_type::sync;
    opt.envelope = env;
    return list(parts, opt, out);
}

bool q_would_compress(uint64_t total_bytes, bool peer_local) {
    return !peer_local && total_bytes > qipc::kCompressThreshold;
}

std::vector<uint8_t> flatten(const join_output& out) {
    std::vector<uint8_t> msg(out.total_bytes);
    uint64_t at = 0;
    for (const iovec& v : out.iov) {
        if (v.iov_len > 0) std::memcpy(msg.data() + at, v.iov_base, v.iov_len);
        at += v.iov_len;
    }
    return msg;
}

bool compress_if_q_would(join_output& out, bool peer_local) {
    if (out.compressed || !q_would_compress(out.total_bytes, peer_local)) return false;
    const std::vector<uint8_t> plain = flatten(out);  // the documented copy
    out.column_bytes_copied += out.referenced_bytes;
    std::vector<uint8_t> packed(plain.size() / 2);
    const uint64_t n = qipc::compress(plain, packed);
    if (n == 0) return false;  // q would send it uncompressed: keep the gathered form
    packed.resize(n);
    out.owned = std::move(packed);
    out.iov.assign(1, iovec{out.owned.data(), n});
    out.total_bytes = n;
    out.compressed = true;
    return true;
}

}  // namespace qgate::join
