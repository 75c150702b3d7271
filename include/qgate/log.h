// Minimal leveled logging to stderr. Off the hot path only (data plane logs at debug at most).
#pragma once

#include <cstdarg>
#include <cstdio>

namespace qgate::log {

enum class level : int { debug = 0, info = 1, warn = 2, error = 3, off = 4 };

/// Process-wide threshold; set once at start-up before threads exist.
inline level& threshold() {
    static level l = level::info;
    return l;
}

[[gnu::format(printf, 2, 3)]] inline void write(level l, const char* fmt, ...) {
    if (l < threshold()) return;
    static const char* const kNames[] = {"debug", "info", "warn", "error"};
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "qgate %s: %s\n", kNames[static_cast<int>(l)], line);
}

}  // namespace qgate::log

#define QGATE_LOG_DEBUG(...) ::qgate::log::write(::qgate::log::level::debug, __VA_ARGS__)
#define QGATE_LOG_INFO(...) ::qgate::log::write(::qgate::log::level::info, __VA_ARGS__)
#define QGATE_LOG_WARN(...) ::qgate::log::write(::qgate::log::level::warn, __VA_ARGS__)
#define QGATE_LOG_ERROR(...) ::qgate::log::write(::qgate::log::level::error, __VA_ARGS__)
