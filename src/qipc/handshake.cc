// The q-IPC handshake, client side of the exchange (reference section 1).
//
// Design note: the client speaks first with `credentials` + capability byte + NUL. We parse it
// from whatever bytes have arrived so far, without copying (the views point into the caller's
// receive buffer, which must outlive them). The length is bounded (kHandshakeMax by default)
// so a peer that never sends a NUL, or talks HTTP, cannot make us buffer without limit.
//
// Three real-world shapes must all parse:
//   "user:pass" 03 00   every modern client (q, javakdb, node-q, qPython);
//   "anonymous" 03 00   node-q with no user: credentials without a colon;
//   "user:pass" 00      qPython's retry path, which drops the capability byte.
// In the last case the byte before the NUL is the last password character. Any value above
// kMaxCapability cannot be a capability, so we keep it in the password and report capability 0
// (javakdb instead clamps it to 3, which silently enables guids and compression for a client
// that never asked for them). Any thread; no allocation.

#include <cstring>

#include "qgate/qipc/handshake.h"

namespace qgate::qipc {

status parse_handshake(std::span<const uint8_t> in, handshake& out, std::size_t max) {
    const std::size_t window = in.size() < max ? in.size() : max;
    const void* nul = window == 0 ? nullptr : std::memchr(in.data(), 0, window);
    if (nul == nullptr) {
        // `max` bytes without a NUL can never become a handshake; fewer may still complete.
        if (in.size() >= max) return {errc::handshake_too_long, max};
        return {errc::truncated, in.size()};
    }

    const std::size_t nul_at = static_cast<const uint8_t*>(nul) - in.data();
    std::size_t text_len = nul_at;
    uint8_t capability = 0;
    if (nul_at > 0 && in[nul_at - 1] <= kMaxCapability) {
        capability = in[nul_at - 1];
        text_len = nul_at - 1;
    }

    const std::string_view text(reinterpret_cast<const char*>(in.data()), text_len);
    const std::size_t colon = text.find(':');
    out.user = colon == std::string_view::npos ? text : text.substr(0, colon);
    out.password = colon == std::string_view::npos ? std::string_view{} : text.substr(colon + 1);
    out.capability = capability;
    out.length = nul_at + 1;
    return {};
}

}  // namespace qgate::qipc
