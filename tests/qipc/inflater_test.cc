// The resumable decoder (qipc::inflater): stepped with any budgets, it gives the bytes and the
// error (errc and offset) of one-shot decompress() on q's own compressed vectors, on random
// messages compressed by qipc::compress, and on corrupted ones; and each step stays within its
// budget plus one match.

#include <doctest/doctest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "qgate/qipc/compress.h"
#include "qgate/qipc/frame.h"
#include "qipc_test_util.h"

using namespace qgate::qipc;

namespace {

using bytes = std::vector<uint8_t>;

constexpr uint64_t kMatchOutMax = 257;  // most one item writes

struct outcome {
    status st;
    bytes out;
};

outcome one_shot(const bytes& msg, uint64_t ulen) {
    outcome o{{}, bytes(ulen, 0xee)};
    o.st = decompress(msg, o.out);
    return o;
}

// Inflates with a budget drawn per step from [1, budget_max]; checks every step's bounds.
outcome stepped(const bytes& msg, uint64_t ulen, std::mt19937_64& rng, uint64_t budget_max) {
    outcome o{{}, bytes(ulen, 0xee)};
    inflater f;
    o.st = f.start(msg, o.out);
    for (uint64_t steps = 0; o.st && !f.done(); ++steps) {
        REQUIRE(steps <= ulen);  // every step writes at least one byte
        const uint64_t budget = 1 + rng() % budget_max;
        const uint64_t before = f.written();
        o.st = f.step(budget);
        if (!o.st) break;
        CHECK(f.written() > before);
        CHECK(f.written() - before <= budget + kMatchOutMax - 1);
    }
    if (!o.st) CHECK(f.step(1).code == o.st.code);  // a failure sticks
    return o;
}

// One-shot and stepped (several budget ranges) agree on the status and, on success, the output.
void check_same(const bytes& msg, std::mt19937_64& rng, uint64_t length_max = UINT32_MAX) {
    uint64_t ulen = 0;
    if (!uncompressed_length(msg, length_max, ulen)) return;
    const outcome want = one_shot(msg, ulen);
    for (const uint64_t budget_max : {uint64_t{1}, uint64_t{64}, uint64_t{4096}, ulen}) {
        INFO("budget_max " << budget_max << " ulen " << ulen);
        const outcome got = stepped(msg, ulen, rng, budget_max);
        CHECK(got.st.code == want.st.code);
        CHECK(got.st.offset == want.st.offset);
        if (want.st) CHECK(got.out == want.out);
    }
}

bytes plain_message(const bytes& body, bool le) {
    bytes msg(kHeaderSize);
    write_header(frame_header{le, msg_type::sync, false, kHeaderSize + body.size()}, msg.data());
    msg.insert(msg.end(), body.begin(), body.end());
    return msg;
}

bytes compress_vec(const bytes& msg) {
    bytes out(msg.size() / 2);
    out.resize(compress(msg, out));
    return out;
}

// Bodies that compress: short-period runs, q-like small longs, and sparse noise over a pattern.
bytes make_body(std::mt19937_64& rng, size_t n) {
    bytes b(n);
    const int kind = int(rng() % 3);
    const size_t period = 1 + rng() % 40;
    for (size_t i = 0; i < n; ++i) {
        if (kind == 0) b[i] = uint8_t(i % period * 37);
        if (kind == 1) b[i] = i % 8 == 0 ? uint8_t(rng() % 50) : 0;
        if (kind == 2) b[i] = rng() % 9 == 0 ? uint8_t(rng()) : uint8_t(i % period);
    }
    return b;
}

std::vector<bytes> q_vectors() {
    std::vector<bytes> out;
    for (const auto& v : test::read_qpython("qpython-QCompressedExpressions3.out")) {
        bytes m = {1, 0, 1, 0, 0, 0, 0, 0};
        store_u32(m.data() + 4, uint32_t(kHeaderSize + v.bytes.size()), true);
        m.insert(m.end(), v.bytes.begin(), v.bytes.end());
        out.push_back(m);
    }
    for (const std::string& line : test::read_lines("javakdb-compress-cases.tsv")) {
        if (line.empty() || line[0] == '#' || line.ends_with("\t-")) continue;
        out.push_back(test::hex(line.substr(line.rfind('\t') + 1)));
    }
    return out;
}

}  // namespace

TEST_CASE("inflater: q's compressed vectors, any budgets, byte-identical to decompress") {
    std::mt19937_64 rng(17);
    const std::vector<bytes> vs = q_vectors();
    CHECK(vs.size() == 3 + 6);  // qPython's 3 and javakdb's compressed cases
    for (const bytes& m : vs) {
        uint64_t ulen = 0;
        REQUIRE(uncompressed_length(m, UINT32_MAX, ulen).ok());
        REQUIRE(one_shot(m, ulen).st.ok());
        check_same(m, rng);
    }
}

TEST_CASE("inflater: random messages compressed by qipc::compress, random budgets") {
    std::mt19937_64 rng(20261207);
    int packed_n = 0;
    for (int iter = 0; iter < 150; ++iter) {
        const size_t n = 2001 + rng() % (iter < 120 ? 20000 : 400000);
        const bytes msg = plain_message(make_body(rng, n), iter % 4 != 0);
        const bytes packed = compress_vec(msg);
        if (packed.empty()) continue;
        ++packed_n;
        INFO("iter " << iter << " size " << msg.size());
        const outcome got = stepped(packed, msg.size(), rng, 1 + rng() % msg.size());
        REQUIRE(got.st.ok());
        CHECK(got.out == msg);
        check_same(packed, rng);
    }
    CHECK(packed_n > 100);
}

TEST_CASE("inflater: corrupted and truncated messages fail with decompress's errc and offset") {
    std::mt19937_64 rng(5);
    const std::vector<bytes> vs = q_vectors();
    int failed = 0;
    for (int iter = 0; iter < 3000; ++iter) {
        bytes m = vs[rng() % vs.size()];
        const int how = int(rng() % 4);
        if (how == 0) m[12 + rng() % (m.size() - 12)] = uint8_t(rng());  // a stream byte
        if (how == 1) m.resize(12 + rng() % (m.size() - 12));             // cut short
        if (how == 2) store_u32(m.data() + 8, uint32_t(10 + rng() % 20000), true);  // ulen lies
        if (how == 3) store_u32(m.data() + 4, uint32_t(13 + rng() % m.size()), true);  // clen lies
        uint64_t ulen = 0;
        if (!uncompressed_length(m, UINT32_MAX, ulen)) continue;
        failed += one_shot(m, ulen).st.ok() ? 0 : 1;
        INFO("iter " << iter << " how " << how);
        check_same(m, rng);
    }
    CHECK(failed > 1000);
}

TEST_CASE("inflater: header errors come from start, and step after them repeats them") {
    bytes m = q_vectors().at(0);
    uint64_t ulen = 0;
    REQUIRE(uncompressed_length(m, UINT32_MAX, ulen).ok());
    bytes out(ulen + 1);
    inflater f;
    const status st = f.start(m, out);  // out sized wrongly: a caller bug
    CHECK(st.code == errc::no_space);
    CHECK(f.step(UINT64_MAX).code == errc::no_space);
    CHECK_FALSE(f.done());
    m[2] = 0;
    inflater g;
    out.resize(ulen);
    CHECK(g.start(m, out).code == errc::bad_compressed_flag);
}
