// Randomly mutated and truncated partials (deterministic seed): whatever the bytes, every
// built-in join either fails with a join_error or emits a message that decodes. This is the
// property the engine relies on when it sends a joined reply without re-validating it.

#include <doctest/doctest.h>

#include <random>

#include "join_test_util.h"

namespace qgate::join {
namespace {

using namespace test;

std::vector<std::vector<msg>> bases() {
    const auto t = [](std::vector<std::string> s, std::initializer_list<int64_t> n) {
        return value::table({"sym", "n", "note"},
                            {value::symbols(std::move(s)), longs(n),
                             value::list({value::string("ab"), value::string("c")})});
    };
    return {{reply(t({"a", "bb"}, {1, 2})), reply(t({"ccc", "d"}, {3, 4}))},
            {reply(value::symbols({"x", "yy"})), reply(value::symbol("z")), reply(longs({1}))},
            {reply(value::list({longs({1}), value::symbol("s")})), reply(value::list({}))}};
}

void mutate(std::mt19937_64& rng, msg& m) {
    const uint64_t body = m.size() - 8;
    if (rng() % 4 == 0) {
        m.resize(8 + rng() % body);  // truncate the body (the views follow the vector)
        return;
    }
    for (uint64_t k = 1 + rng() % 3; k > 0; --k) {
        const uint64_t at = 8 + rng() % body;
        m[at] = (rng() % 2 == 0) ? static_cast<uint8_t>(rng()) : static_cast<uint8_t>(m[at] ^ 1);
    }
}

TEST_CASE("mutated partials: a join fails or its output decodes") {
    std::mt19937_64 rng(20261130);
    const auto base = bases();
    uint64_t ok = 0, failed = 0;
    for (int iter = 0; iter < 4000; ++iter) {
        std::vector<msg> parts = base[iter % base.size()];
        mutate(rng, parts[rng() % parts.size()]);
        for (join_kind kind : {join_kind::raze, join_kind::list, join_kind::first}) {
            join_output out;
            if (run_join(kind, views(parts), {}, out) != join_error::ok) {
                ++failed;
                continue;
            }
            ++ok;
            const msg m = flatten(out);
            qipc::frame_header h;
            value v;
            const qipc::status st = qipc::decode_message(m, h, v);
            if (!st.ok()) FAIL("iteration " << iter << " join " << int(kind) << ": "
                                            << qipc::errc_name(st.code) << " at " << st.offset);
        }
    }
    CHECK(ok > 1000);  // both outcomes are exercised
    CHECK(failed > 1000);
}

}  // namespace
}  // namespace qgate::join
