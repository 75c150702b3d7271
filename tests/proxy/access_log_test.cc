// The access log (src/proxy/access_log.h): a record's line (time in UTC from the monotonic
// clock, every field, quoting that keeps a hostile user name or error text on one line, a cut
// line still ending in a newline), the status taken from an answer frame, and the logger
// thread: every record pushed into a shard's ring is written once stop() returns, a full ring
// refuses the record (the caller counts the drop), reopen() moves on to a new file
// (logrotate), slow_ms is in µs.

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

#include "proxy/access_log.h"

using namespace qgate;
using namespace qgate::proxy;

namespace {

access_record sample() {
    access_record r;
    r.end_ns = 5'000'000'000ULL;  // monotonic 5 s
    r.dur_us = 1234;
    r.bytes_in = 45;
    r.bytes_out = 120;
    r.client = 12;
    r.shard = 1;
    r.listener = 0;
    r.route = 2;
    r.backend = 1;
    std::memcpy(r.user, "alice", 5);
    r.user_len = 5;
    return r;
}

std::string line_of(const access_record& r, int64_t offset = 1'767'225'600'000'000'000LL -
                                                             5'000'000'000LL) {
    const std::vector<std::string> names{"rdb1", "rdb2"};
    char buf[512];
    const size_t n = format_access_line(r, offset, names, buf, sizeof buf);
    return std::string(buf, n);
}

std::vector<uint8_t> error_frame(const char* text) {
    std::vector<uint8_t> f(8, 0);
    f[0] = 1;
    f[1] = 2;
    f.push_back(0x80);
    for (const char* p = text; *p != '\0'; ++p) f.push_back(static_cast<uint8_t>(*p));
    f.push_back(0);
    return f;
}

std::string slurp(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::string temp_path(const char* tag) {
    return "/tmp/qgate-access-" + std::to_string(getpid()) + "-" + tag + ".log";
}

}  // namespace

TEST_CASE("access log: a record's line has every field, in UTC") {
    // 2026-01-01T00:00:00Z is 1767225600 s: end_ns (5 s monotonic) + offset lands there.
    CHECK(line_of(sample()) ==
          "2026-01-01T00:00:00.000000Z user=\"alice\" client=1.12 listener=0 route=2 "
          "backend=rdb2 us=1234 in=45 out=120 status=ok\n");
    access_record r = sample();
    r.route = kAccessNone;
    r.backend = kAccessNone;
    r.end_ns += 1'500'000;  // 1.5 ms later: microseconds shown
    r.status = access_status::timeout;
    std::memcpy(r.text, "qgate: timeout after 5ms", 24);
    r.text_len = 24;
    CHECK(line_of(r) ==
          "2026-01-01T00:00:00.001500Z user=\"alice\" client=1.12 listener=0 route=- "
          "backend=- us=1234 in=45 out=120 status=timeout err=\"qgate: timeout after 5ms\"\n");
}

TEST_CASE("access log: quotes, backslashes and control bytes stay on one line") {
    access_record r = sample();
    const char user[] = "a\"b\\c\nd";
    std::memcpy(r.user, user, sizeof user - 1);
    r.user_len = sizeof user - 1;
    const std::string l = line_of(r);
    CHECK(l.find("user=\"a\\\"b\\\\c\\x0ad\"") != std::string::npos);
    CHECK(l.find('\n') == l.size() - 1);
}

TEST_CASE("access log: a line longer than the buffer is cut and still ends in a newline") {
    const std::vector<std::string> names{std::string(300, 'b'), std::string(300, 'c')};
    char buf[64];
    const size_t n = format_access_line(sample(), 0, names, buf, sizeof buf);
    CHECK(n == sizeof buf);
    CHECK(buf[n - 1] == '\n');
}

TEST_CASE("access log: the status comes from the answer frame") {
    access_record r;
    const std::vector<uint8_t> ok{1, 2, 0, 0, 17, 0, 0, 0, 0xf9, 1, 0, 0, 0, 0, 0, 0, 0};
    classify_answer(r, ok.data(), ok.size());
    CHECK(r.status == access_status::ok);
    const struct {
        const char* text;
        access_status want;
    } cases[] = {
        {"type", access_status::error},
        {"qgate: backend rdb1 disconnected", access_status::error},
        {"qgate: timeout after 500ms", access_status::timeout},
        {"qgate: no route for f", access_status::refused},
        {"qgate: no backend available for group rdb", access_status::refused},
        {"qgate: busy", access_status::refused},
    };
    for (const auto& c : cases) {
        const std::vector<uint8_t> f = error_frame(c.text);
        classify_answer(r, f.data(), f.size());
        CHECK_MESSAGE(r.status == c.want, c.text);
        CHECK(std::string(r.text, r.text_len) == c.text);
    }
    std::vector<uint8_t> zipped = error_frame("type");
    zipped[2] = 1;  // compressed: its bytes are not a q error to read
    classify_answer(r, zipped.data(), zipped.size());
    CHECK(r.status == access_status::ok);
    const std::vector<uint8_t> long_err = error_frame(std::string(300, 'x').c_str());
    classify_answer(r, long_err.data(), long_err.size());
    CHECK(r.text_len == access_record::kTextMax);
}

TEST_CASE("access log: the logger writes every pushed record; a full ring refuses; reopen") {
    const std::string path = temp_path("a");
    const std::string rotated = path + ".1";
    std::remove(path.c_str());
    std::remove(rotated.c_str());
    access_log_conf c;
    c.path = path;
    c.slow_ms = 7;
    c.ring_entries = 64;
    access_log log(c, 2, {"rdb1", "rdb2"});
    CHECK(log.slow_us() == 7000);
    // Before the logger runs, a ring takes exactly its capacity, then refuses.
    int pushed = 0;
    for (int i = 0; i < 100; ++i) pushed += log.push(0, sample()) ? 1 : 0;
    CHECK(pushed == 64);
    CHECK(log.push(1, sample()));
    std::string err;
    REQUIRE(log.start(err));
    for (int i = 0; i < 500 && log.lines_written() < 65; ++i) usleep(10000);
    CHECK(log.lines_written() == 65);
    std::rename(path.c_str(), rotated.c_str());  // logrotate moves the file, then SIGHUP
    log.reopen();
    access_record r = sample();
    r.client = 99;
    CHECK(log.push(1, r));
    log.stop();
    const std::string before = slurp(rotated);
    const std::string after = slurp(path);
    CHECK(std::count(before.begin(), before.end(), '\n') == 65);
    CHECK(std::count(after.begin(), after.end(), '\n') == 1);
    CHECK(after.find("client=1.99 ") != std::string::npos);
    std::remove(path.c_str());
    std::remove(rotated.c_str());
}
