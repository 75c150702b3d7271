// The q -u style users file and authentication against it.
#include <doctest/doctest.h>

#include "qgate/auth.h"
#include "temp_dir.h"

using namespace qgate;
using namespace qgate::ctl;

namespace {

// Digests of "secret".
constexpr const char* kMd5 = "5ebe2294ecd0e0f08eab7690d2a6ee69";
constexpr const char* kSha1 = "e5e9fa1ba31ecd1ae84f75caaa474f3a663f05f4";
constexpr const char* kSha256 = "2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b";

config users_config(const test::temp_dir& dir, const std::string& text) {
    config cfg;
    std::string error;
    const std::string path = dir.write("users.txt", text);
    REQUIRE_MESSAGE(load_users(path, cfg.users, error), error);
    return cfg;
}

std::string error_of(const std::string& text) {
    test::temp_dir dir;
    std::vector<user_entry> users;
    std::string error;
    const std::string path = dir.write("u.txt", text);
    if (load_users(path, users, error)) return "(ok)";
    return error.substr(path.size());
}

}  // namespace

TEST_CASE("users file: a third field 'admin' is the admin role; the password stays q's") {
    test::temp_dir dir;
    const config cfg = users_config(
        dir, std::string("ops:secret:admin\nalice:secret\ncolon:a:b\nmd5:") + kMd5 +
                 ":admin\nnotrole:pw:Admin\n");
    REQUIRE(cfg.users.size() == 5);
    const bool roles[] = {true, false, false, true, false};
    for (std::size_t i = 0; i < 5; ++i) CHECK(cfg.users[i].admin == roles[i]);
    CHECK(cfg.users[2].secret == "a:b");  // any other third field is part of the password
    CHECK(cfg.users[3].kind == user_entry::hash::md5);
    CHECK(cfg.users[4].secret == "pw:Admin");
    bool admin = false;
    CHECK(authenticate(cfg, "ops", "secret", &admin));
    CHECK(admin);
    CHECK(authenticate(cfg, "alice", "secret", &admin));
    CHECK_FALSE(admin);
    CHECK_FALSE(authenticate(cfg, "ops", "secret:admin", &admin));  // the role is no password
    CHECK_FALSE(admin);
    CHECK(authenticate(cfg, "md5", "secret", &admin));
    CHECK(admin);
    CHECK(authenticate(cfg, "colon", "a:b", &admin));
    CHECK_FALSE(admin);
    const config none;  // no users file: anyone, an admin too (q without -u)
    CHECK(authenticate(none, "anyone", "", &admin));
    CHECK(admin);
}

TEST_CASE("users file: plain, md5, sha1, sha256 told apart by length") {
    test::temp_dir dir;
    const config cfg = users_config(
        dir, std::string("/ comment line\n\nplain:secret\nmd5:") + kMd5 + "\nsha1:" + kSha1 +
                 "\r\nsha256:" + kSha256 + "\nupper:5EBE2294ECD0E0F08EAB7690D2A6EE69\n" +
                 "nopass:\nhexish:abc123\n");
    REQUIRE(cfg.users.size() == 7);
    CHECK(cfg.users[0].kind == user_entry::hash::plain);
    CHECK(cfg.users[1].kind == user_entry::hash::md5);
    CHECK(cfg.users[2].kind == user_entry::hash::sha1);
    CHECK(cfg.users[3].kind == user_entry::hash::sha256);
    CHECK(cfg.users[4].secret == kMd5);  // stored lowercase
    CHECK(cfg.users[6].kind == user_entry::hash::plain);  // hex but no digest length
    for (const char* user : {"plain", "md5", "sha1", "sha256", "upper"}) {
        INFO(user);
        CHECK(authenticate(cfg, user, "secret"));
        CHECK_FALSE(authenticate(cfg, user, "Secret"));
        CHECK_FALSE(authenticate(cfg, user, "secret "));
        CHECK_FALSE(authenticate(cfg, user, ""));
    }
    CHECK_FALSE(authenticate(cfg, "md5", kMd5));  // the digest itself is not the password
    CHECK(authenticate(cfg, "nopass", ""));
    CHECK_FALSE(authenticate(cfg, "nopass", "x"));
    CHECK(authenticate(cfg, "hexish", "abc123"));
    CHECK_FALSE(authenticate(cfg, "nobody", "secret"));
    CHECK_FALSE(authenticate(cfg, "", ""));
}

TEST_CASE("no users configured: everyone is accepted (q without -u)") {
    config cfg;
    CHECK(authenticate(cfg, "anyone", "anything"));
    CHECK(authenticate(cfg, "anonymous", ""));
}

TEST_CASE("users file: passwords may contain ':'") {
    test::temp_dir dir;
    const config cfg = users_config(dir, "u:a:b\n");
    CHECK(authenticate(cfg, "u", "a:b"));
    CHECK_FALSE(authenticate(cfg, "u", "a"));
}

TEST_CASE("users file: bad lines give file:line: reason") {
    CHECK(error_of("ok:1\nnocolon\n") == ":2: expected user:password");
    CHECK(error_of(":pw\n") == ":1: empty user name");
    CHECK(error_of("a:1\nb:2\na:3\n") == ":3: user 'a' is listed twice");
    CHECK(error_of("") == "(ok)");
    std::vector<user_entry> users;
    std::string error;
    CHECK_FALSE(load_users("/nonexistent/users.txt", users, error));
    CHECK(error == "/nonexistent/users.txt: cannot open: No such file or directory");
}
