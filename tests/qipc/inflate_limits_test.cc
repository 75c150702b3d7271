// inflate_length (compress.h): the limits on what one compressed message may inflate to, for
// compression bombs. A message within them is sized exactly as uncompressed_length sizes it;
// one past either limit is refused (inflate_limit at 8) before anything is allocated, and a
// malformed one keeps its own error, so callers count the two apart.

#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "qgate/qipc/compress.h"
#include "qgate/qipc/frame.h"

using namespace qgate::qipc;

namespace {

using bytes = std::vector<uint8_t>;

// A compressed async message whose body is a byte vector of `n` copies of one byte: the
// format's best ratio (~121x), a compression bomb in miniature.
bytes bomb(uint32_t n) {
    bytes msg(kHeaderSize);
    bytes body = {4, 0};
    for (int i = 0; i < 4; ++i) body.push_back(uint8_t(n >> (8 * i)));
    body.resize(body.size() + n, 'x');
    write_header(frame_header{true, msg_type::async, false, kHeaderSize + body.size()},
                 msg.data());
    msg.insert(msg.end(), body.begin(), body.end());
    bytes out(msg.size() / 2);
    out.resize(compress(msg, out));
    REQUIRE(!out.empty());
    return out;
}

uint64_t declared_plain(const bytes& m) { return load_u32(m.data() + 8, true); }

}  // namespace

TEST_CASE("inflate_length: within both limits, the declared length; past bytes_max, refused") {
    const bytes m = bomb(1 << 20);
    const uint64_t plain = declared_plain(m);
    uint64_t ulen = 0;
    REQUIRE(inflate_length(m, uint64_t{1} << 32, {plain, 0}, ulen).ok());
    CHECK(ulen == plain);
    bytes out(ulen);
    CHECK(decompress(m, out).ok());  // what it sized is what decompress needs

    ulen = 7;
    const status st = inflate_length(m, uint64_t{1} << 32, {plain - 1, 0}, ulen);
    CHECK(st.code == errc::inflate_limit);
    CHECK(st.offset == 8);
    CHECK(ulen == 7);  // untouched on refusal
    CHECK(std::string(errc_name(st.code)) == "inflate_limit");
}

TEST_CASE("inflate_length: the ratio bound, exact at its edge; 0 means none") {
    const bytes m = bomb(1 << 20);
    const uint64_t plain = declared_plain(m);
    const uint64_t packed = m.size();
    const uint64_t ratio = plain / packed;  // ~120: the bomb sits at the format's maximum
    CHECK(ratio >= 120);
    uint64_t ulen = 0;
    CHECK(inflate_length(m, uint64_t{1} << 32, {UINT64_MAX, ratio + 1}, ulen).ok());
    const status st = inflate_length(m, uint64_t{1} << 32, {UINT64_MAX, ratio}, ulen);
    CHECK(st.code == errc::inflate_limit);  // plain > ratio x packed
    CHECK(st.offset == 8);
    CHECK(inflate_length(m, uint64_t{1} << 32, {UINT64_MAX, 0}, ulen).ok());
    // A bound of 1: anything that inflates at all is refused, however small.
    const bytes small = bomb(3000);
    CHECK(inflate_length(small, uint64_t{1} << 32, {UINT64_MAX, 1}, ulen).code ==
          errc::inflate_limit);
}

TEST_CASE("inflate_length: a malformed message keeps its own error, not inflate_limit") {
    bytes m = bomb(1 << 16);
    uint64_t ulen = 0;
    const inflate_limits tight{16, 1};  // would refuse it, were it well formed
    m[0] = 2;
    CHECK(inflate_length(m, uint64_t{1} << 32, tight, ulen).code == errc::bad_endian);
    m = bomb(1 << 16);
    store_u32(m.data() + 8, 9, true);  // below the smallest message
    CHECK(inflate_length(m, uint64_t{1} << 32, tight, ulen).code == errc::bad_uncompressed_len);
    m = bomb(1 << 16);
    // Over the caller's length_max: malformed for it (as uncompressed_length says), not refused.
    CHECK(inflate_length(m, 1000, {UINT64_MAX, 0}, ulen).code == errc::bad_uncompressed_len);
    // A compressed length with byte 3 set (up to 2^40) cannot overflow the ratio product.
    m[3] = 0xff;
    CHECK(inflate_length(m, uint64_t{1} << 32, {UINT64_MAX, uint64_t{1} << 30}, ulen).ok());
}
