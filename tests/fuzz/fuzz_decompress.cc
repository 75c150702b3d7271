// Fuzz target: the decompressor on hostile input, and the compressor's round trip.
//
// Each input is used three ways:
//   1. as a whole compressed message: uncompressed_length (64 KiB cap), then decompress;
//   2. as a raw stream behind a synthetic, consistent header (bytes 0..1 pick the uncompressed
//      length), so the fuzzer explores the stream rather than fighting the header;
//   3. as the body of a plain message (tiled past q's 2000-byte threshold when short): compress
//      must give a result of at most half the size that decompresses to the identical message.
// In 1 and 2 the fast decoder is checked against test::reference_decompress
// (tests/qipc/reference_decompress.h), a direct transcription of the reference pseudo-code
// (4.4) with a bounds check on every access: both must agree on success and, when they
// succeed, on every output byte. The resumable decoder (inflater) is run on the same message
// with a slice budget the input chooses (its last two bytes, 1 .. 65536) and must give
// decompress()'s status, offset and output exactly.

#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "../qipc/reference_decompress.h"
#include "fuzz_check.h"
#include "qgate/qipc/compress.h"
#include "qgate/qipc/frame.h"

using namespace qgate::qipc;

namespace {

// Every output is allocated, filled and decoded twice (fast and reference) per execution, so the
// cap sets the speed: at 1 MiB a run cost ~1 ms and 10 M executions took hours. The decoder's
// state does not grow with the output (a 256-entry table, 8-item groups), so 64 KiB explores
// the same paths.
constexpr uint64_t kUlenCap = uint64_t{1} << 16;

// inflater::step in slices of `budget` gives what one-shot decompress gave (`want`, `plain`).
void check_stepped(std::span<const uint8_t> msg, uint64_t budget, status want,
                   const std::vector<uint8_t>& plain) {
    std::vector<uint8_t> out(plain.size(), 0xaa);
    inflater f;
    status st = f.start(msg, out);
    for (uint64_t steps = 0; st && !f.done(); ++steps) {
        FUZZ_CHECK(steps <= plain.size());
        const uint64_t before = f.written();
        st = f.step(budget);
        FUZZ_CHECK(!st || (f.written() > before && f.written() - before < budget + 257));
    }
    FUZZ_CHECK(st.code == want.code && st.offset == want.offset);
    if (st) FUZZ_CHECK(std::memcmp(out.data(), plain.data(), plain.size()) == 0);
}

void check_message(std::span<const uint8_t> msg, uint64_t budget) {
    uint64_t ulen = 0;
    if (!uncompressed_length(msg, kUlenCap, ulen)) return;
    FUZZ_CHECK(ulen >= kMinPlainLength && ulen <= kUlenCap);
    std::vector<uint8_t> out(ulen, 0xaa);
    const status st = decompress(msg, out);
    check_stepped(msg, budget, st, out);
    if (msg[1] > 2 || msg[2] != 1) {  // not a compressed message: refused before the stream
        FUZZ_CHECK(!st.ok());
        return;
    }
    const bool le = msg[0] == 1;
    const uint64_t end = uint64_t{load_u32(msg.data() + 4, le)} | uint64_t{msg[3]} << 32;
    if (end > msg.size()) {
        FUZZ_CHECK(st.code == errc::truncated);
        return;
    }
    std::vector<uint8_t> ref(ulen, 0);
    const bool ref_ok = test::reference_decompress(msg, end, ref);
    FUZZ_CHECK(ref_ok == st.ok());
    if (!st) return;
    FUZZ_CHECK(std::memcmp(out.data() + 8, ref.data() + 8, ulen - 8) == 0);
    frame_header h;
    FUZZ_CHECK(parse_header(out, h).ok() && h.length == ulen && !h.compressed);
}

void check_stream(const uint8_t* data, size_t size, uint64_t budget) {
    if (size < 3) return;
    const uint32_t ulen = kMinPlainLength + (uint32_t(data[0]) | uint32_t(data[1]) << 8);
    std::vector<uint8_t> msg = {1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    msg.insert(msg.end(), data + 2, data + size);
    store_u32(msg.data() + 4, uint32_t(msg.size()), true);
    store_u32(msg.data() + 8, ulen, true);
    check_message(msg, budget);
}

void check_round_trip(const uint8_t* data, size_t size) {
    if (size == 0) return;
    const bool le = (data[0] & 1) != 0;
    const size_t body_len = size > kCompressThreshold ? size : kCompressThreshold + 1 + data[0];
    std::vector<uint8_t> msg(kHeaderSize + body_len);
    for (size_t i = 0; i < body_len; ++i) msg[kHeaderSize + i] = data[i % size];
    write_header(frame_header{le, msg_type::sync, false, msg.size()}, msg.data());

    std::vector<uint8_t> packed(msg.size() / 2);
    const uint64_t n = compress(msg, packed);
    if (n == 0) return;
    // At most half: q checks the limit only at group starts, so a last group of 8 matches may
    // end exactly at size / 2 (tests/qipc/compress_test.cc has such a message).
    FUZZ_CHECK(n <= msg.size() / 2 && n >= kMinCompressedLength);
    packed.resize(n);
    uint64_t ulen = 0;
    FUZZ_CHECK(uncompressed_length(packed, msg.size(), ulen).ok() && ulen == msg.size());
    std::vector<uint8_t> back(ulen);
    FUZZ_CHECK(decompress(packed, back).ok());
    FUZZ_CHECK(back == msg);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const uint64_t budget =
        size < 2 ? 1 : 1 + (uint64_t{data[size - 1]} | uint64_t{data[size - 2]} << 8);
    check_message(std::span<const uint8_t>(data, size), budget);
    check_stream(data, size, budget);
    check_round_trip(data, size);
    return 0;
}
