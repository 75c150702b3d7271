// The cut-through framer (src/net/framer.h): counts by message type, headers and bodies split
// at every byte across receive buffers, the boundary flag, and the first malformed header
// stopping the stream with parse_header's status.

#include <doctest/doctest.h>

#include <cstdint>
#include <vector>

#include "net/framer.h"

using namespace qgate;
using net::frame_counts;
using net::framer;
using qipc::errc;
using qipc::msg_type;

namespace {

// A frame of `body_len` body bytes (all 0xEE: the framer must never look at them).
void append_frame(std::vector<uint8_t>& out, msg_type type, uint64_t body_len) {
    qipc::frame_header h;
    h.type = type;
    h.length = qipc::kHeaderSize + body_len;
    const size_t at = out.size();
    out.resize(at + qipc::kHeaderSize);
    qipc::write_header(h, out.data() + at);
    out.insert(out.end(), body_len, 0xEE);
}

std::vector<uint8_t> three_frames() {
    std::vector<uint8_t> s;
    append_frame(s, msg_type::sync, 5);
    append_frame(s, msg_type::async, 300);
    append_frame(s, msg_type::response, 2);
    return s;
}

}  // namespace

TEST_CASE("framer: whole frames in one buffer are counted by type") {
    const std::vector<uint8_t> s = three_frames();
    framer f;
    frame_counts c;
    CHECK(f.at_boundary());
    REQUIRE(f.feed(s.data(), s.size(), {}, c));
    CHECK(c.frames == 3);
    CHECK(c.sync == 1);
    CHECK(c.async == 1);
    CHECK(c.response == 1);
    CHECK(f.at_boundary());
    CHECK(f.body_left() == 0);
}

TEST_CASE("framer: any split into buffers counts the same, boundary only between frames") {
    const std::vector<uint8_t> s = three_frames();
    const size_t first_end = qipc::kHeaderSize + 5;
    for (size_t chunk = 1; chunk <= 17; ++chunk) {
        CAPTURE(chunk);
        framer f;
        frame_counts c;
        for (size_t at = 0; at < s.size(); at += chunk) {
            const size_t n = at + chunk < s.size() ? chunk : s.size() - at;
            REQUIRE(f.feed(s.data() + at, n, {}, c));
            const size_t fed = at + n;
            // Mid-header or mid-body of the first frame is not a boundary; its end is.
            if (fed < first_end) CHECK_FALSE(f.at_boundary());
            if (fed == first_end) CHECK(f.at_boundary());
        }
        CHECK(c.frames == 3);
        CHECK(c.sync == 1);
        CHECK(c.async == 1);
        CHECK(c.response == 1);
        CHECK(f.at_boundary());
    }
}

TEST_CASE("framer: body_left counts the bytes still to skip") {
    std::vector<uint8_t> s;
    append_frame(s, msg_type::sync, 100);
    framer f;
    frame_counts c;
    REQUIRE(f.feed(s.data(), qipc::kHeaderSize + 30, {}, c));
    CHECK(c.frames == 1);
    CHECK(f.body_left() == 70);
    CHECK_FALSE(f.at_boundary());
    REQUIRE(f.feed(s.data() + qipc::kHeaderSize + 30, 70, {}, c));
    CHECK(f.body_left() == 0);
    CHECK(f.at_boundary());
}

TEST_CASE("framer: a malformed header returns parse_header's status") {
    std::vector<uint8_t> s;
    append_frame(s, msg_type::sync, 2);
    std::vector<uint8_t> bad(s);
    append_frame(bad, msg_type::async, 2);
    bad[s.size()] = 7;  // endian byte of the second header
    framer f;
    frame_counts c;
    const qipc::status st = f.feed(bad.data(), bad.size(), {}, c);
    CHECK(st.code == errc::bad_endian);
    CHECK(st.offset == 0);  // within the header
    CHECK(c.frames == 1);   // the good first frame was counted

    // The same header split across buffers is caught once its last byte arrives.
    framer g;
    frame_counts d;
    REQUIRE(g.feed(bad.data(), s.size() + 3, {}, d));
    CHECK(g.feed(bad.data() + s.size() + 3, 5, {}, d).code == errc::bad_endian);
}

TEST_CASE("framer: the header limits are applied") {
    std::vector<uint8_t> s;
    append_frame(s, msg_type::sync, 100);
    framer f;
    frame_counts c;
    const qipc::header_limits lim{.length_max = 50};
    CHECK(f.feed(s.data(), s.size(), lim, c).code == errc::length_too_large);
    CHECK(c.frames == 0);
    framer g;
    CHECK(g.feed(s.data(), s.size(), {.length_max = qipc::kHeaderSize + 100}, c));
}
