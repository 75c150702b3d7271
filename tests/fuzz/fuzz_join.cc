// Fuzz target: the join layer over hostile partial replies. Parts go through the gather (as
// whole messages: a fresh response header around each body, or the raw bytes when flagged, so
// header and compressed paths are reached too) and, when the gather completes, through raze /
// list / first / the reducer request, with or without a postback envelope.
//
// Input layout: byte 0: bits 0..1 = parts - 1 (1..4), bits 2..3 = join (raze, list, first,
// reducer), bit 4 = envelope, bit 5 = parts are raw messages. Then per part a little-endian
// u16 length and that many bytes. Invariants beyond "no crash, no sanitizer report":
//   * a join that succeeds emits exactly total_bytes, and the flattened message decodes
//     (header and one valid object): the engine sends it without re-validating;
//   * every iovec lies inside the output's meta buffer, a part's body or the envelope;
//   * no partial byte is copied (column_bytes_copied == 0), except by raze's mixed shape.

#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "fuzz_check.h"
#include "qgate/join.h"
#include "qgate/qipc/value.h"

using namespace qgate;

namespace {

bool inside(const iovec& v, std::span<const uint8_t> s) {
    const auto* p = static_cast<const uint8_t*>(v.iov_base);
    return p >= s.data() && p + v.iov_len <= s.data() + s.size();
}

bool iov_inside(const iovec& v, const join::join_output& out, const join::gather& g,
                std::span<const uint8_t> env) {
    if (inside(v, out.meta) || inside(v, env)) return true;
    for (const join::part_view& p : g.bodies())
        if (inside(v, p.body)) return true;
    return false;
}

void check_output(const join::join_output& out, const join::gather& g,
                  std::span<const uint8_t> env) {
    uint64_t total = 0;
    for (const iovec& v : out.iov) {
        FUZZ_CHECK(iov_inside(v, out, g, env));
        total += v.iov_len;
    }
    FUZZ_CHECK(total == out.total_bytes);
    FUZZ_CHECK(out.column_bytes_copied == 0 || out.shape == join::raze_shape::mixed);
    const std::vector<uint8_t> m = join::flatten(out);
    qipc::frame_header h;
    qipc::value v;
    FUZZ_CHECK(qipc::decode_message(m, h, v).ok());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 1) return 0;
    const uint8_t flags = data[0];
    const uint32_t n = 1 + (flags & 3);
    std::vector<std::vector<uint8_t>> msgs;
    size_t at = 1;
    for (uint32_t i = 0; i < n && at + 2 <= size; ++i) {
        const size_t len = std::min<size_t>(data[at] | data[at + 1] << 8, size - at - 2);
        const uint8_t* p = data + at + 2;
        at += 2 + len;
        std::vector<uint8_t> m((flags & 32) ? 0 : 8);
        m.insert(m.end(), p, p + len);
        if (!(flags & 32))
            qipc::write_header({true, qipc::msg_type::response, false, m.size()}, m.data());
        msgs.push_back(std::move(m));
    }
    if (msgs.size() != n) return 0;
    join::gather g;
    FUZZ_CHECK(g.start(n));
    for (uint32_t i = 0; i < n; ++i) g.deliver(i, msgs[i]);
    if (g.status() != join::gather_status::complete) return 0;
    static const uint8_t kEnv[] = {0xf5, 'p', 'b', 0};  // `pb
    const std::span<const uint8_t> env[] = {kEnv};
    join::join_options opt;
    if (flags & 16) opt.envelope = env;
    join::join_output out;
    const uint32_t kind = (flags >> 2) & 3;
    const join::join_error e = kind == 3
        ? join::reducer_request(kEnv, g.bodies(), out)
        : join::run_join(static_cast<join::join_kind>(kind), g.bodies(), opt, out);
    if (e == join::join_error::ok) check_output(out, g, kEnv);
    return 0;
}
