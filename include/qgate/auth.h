// Client authentication, as q's -u/-U users file does it. Called once per connection at
// handshake time (never per message).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "qgate/config.h"

namespace qgate::ctl {

/// True when `user`/`password` may connect. With no users configured everyone may (q without -u).
/// `admin` (optional) is set to whether that login holds the admin role: every login when no
/// users are configured, else a matching user whose line ends in `:admin`.
bool authenticate(const config& cfg, std::string_view user, std::string_view password,
                  bool* admin = nullptr);

/// Parses a users file ("user:password" per line; password plain, or a hex MD5 / SHA-1 /
/// SHA-256 digest told apart by length, as q's -u file; "user:password:admin" gives the user
/// the admin role). Returns false and sets `error` ("file:line: reason") on the first bad line.
bool load_users(const std::string& path, std::vector<user_entry>& out, std::string& error);

}  // namespace qgate::ctl
