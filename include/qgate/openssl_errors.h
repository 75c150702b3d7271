// OpenSSL's error queue as one line of text, for the log lines and error replies that name why
// a TLS context or connection failed (qgate, qmock and qbench all report them the same way).
// Empties the calling thread's queue. Control paths only: it allocates.
#pragma once

#include <openssl/err.h>

#include <string>

namespace qgate {

inline std::string openssl_errors() {
    std::string s;
    char buf[256];
    while (const unsigned long e = ERR_get_error()) {
        ERR_error_string_n(e, buf, sizeof buf);
        if (!s.empty()) s += "; ";
        s += buf;
    }
    return s.empty() ? "unknown error" : s;
}

}  // namespace qgate
