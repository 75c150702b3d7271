// The q-IPC handshake: "user:password" + capability byte + NUL; reply is one byte.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "qgate/qipc/types.h"

namespace qgate::qipc {

/// Highest capability qgate implements (>2 GB messages, 40-bit lengths).
inline constexpr uint8_t kMaxCapability = 6;
/// Default bound on the handshake (credentials + cap + NUL); longer input is refused.
inline constexpr std::size_t kHandshakeMax = 1024;

struct handshake {
    std::string_view user;      ///< text before the first ':' (whole text when no ':')
    std::string_view password;  ///< text after the first ':' (empty when no ':')
    uint8_t capability = 0;     ///< 0 when the client sent no capability byte (see below)
    std::size_t length = 0;     ///< bytes consumed, NUL included
};

/// Looks for a complete handshake at the start of `in`.
/// Returns errc::truncated when no NUL has arrived yet (and `in` is within `max`),
/// errc::handshake_too_long when `max` bytes hold no NUL. A last byte above 6 is taken as
/// part of the password (qPython's fallback sends no capability byte) and capability = 0.
/// The views point into `in`.
status parse_handshake(std::span<const uint8_t> in, handshake& out,
                       std::size_t max = kHandshakeMax);

/// Capability both sides can use: the minimum, capped at what qgate implements.
constexpr uint8_t negotiate_capability(uint8_t client, uint8_t server = kMaxCapability) {
    uint8_t c = client < server ? client : server;
    return c < kMaxCapability ? c : kMaxCapability;
}

}  // namespace qgate::qipc
