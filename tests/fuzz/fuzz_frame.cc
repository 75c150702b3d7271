// Fuzz target: frame header parse and handshake parse, the first code to see a peer's bytes.
//
// Invariants checked beyond "no crash, no sanitizer report":
//   * an accepted header is canonical: write_header() gives back exactly the 8 input bytes, and
//     its length respects the limits it was parsed under;
//   * a parsed handshake ends on the first NUL, lies inside the input and the bound, and its
//     user/password views point into the input.

#include <cstdint>
#include <cstring>
#include <span>

#include "fuzz_check.h"
#include "qgate/qipc/frame.h"
#include "qgate/qipc/handshake.h"

using namespace qgate::qipc;

namespace {

void check_header(std::span<const uint8_t> in, const header_limits& lim) {
    frame_header h;
    const status st = parse_header(in, h, lim);
    if (!st) {
        FUZZ_CHECK(st.offset <= (in.size() < kHeaderSize ? in.size() : kHeaderSize));
        return;
    }
    FUZZ_CHECK(in.size() >= kHeaderSize);
    FUZZ_CHECK(h.length <= lim.length_max);
    FUZZ_CHECK(h.length >= (h.compressed ? kMinCompressedLength : kMinPlainLength));
    uint8_t again[kHeaderSize];
    write_header(h, again);
    FUZZ_CHECK(std::memcmp(again, in.data(), kHeaderSize) == 0);
}

bool inside(std::string_view v, std::span<const uint8_t> in) {
    const auto* p = reinterpret_cast<const uint8_t*>(v.data());
    return v.empty() || (p >= in.data() && p + v.size() <= in.data() + in.size());
}

void check_handshake(std::span<const uint8_t> in, std::size_t max) {
    handshake hs;
    const status st = parse_handshake(in, hs, max);
    if (!st) {
        FUZZ_CHECK(st.code == errc::truncated || st.code == errc::handshake_too_long ||
                   st.code == errc::bad_handshake);
        return;
    }
    FUZZ_CHECK(hs.length >= 1 && hs.length <= in.size() && hs.length <= max);
    FUZZ_CHECK(in[hs.length - 1] == 0);
    FUZZ_CHECK(std::memchr(in.data(), 0, hs.length - 1) == nullptr);
    FUZZ_CHECK(hs.capability <= kMaxCapability);
    FUZZ_CHECK(inside(hs.user, in) && inside(hs.password, in));
    FUZZ_CHECK(hs.user.size() + hs.password.size() < hs.length);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::span<const uint8_t> in(data, size);
    check_header(in, header_limits{});
    check_header(in, header_limits{uint64_t{1} << 20, 3});
    check_header(in, header_limits{kMaxLength40, 5});
    check_handshake(in, kHandshakeMax);
    check_handshake(in, 16);
    return 0;
}
