// Checked invariants (STYLE.md rule 9: ASSERT in debug builds, CHECK always, a `bugs` counter).
//
// QGATE_ASSERT(cond): a statement. A mistake in our own code that should stop the process
//   while we test it, where nothing can be contained (e.g. inside the io layer, which has no
//   connection to close). Active unless NDEBUG is defined. meson.build sets
//   b_ndebug=if-release, so "debug builds" are the debug and debugoptimized build types
//   (debugoptimized is the default, and what tools/run-tests, CI and the benchmarks build);
//   --buildtype=release (or -Db_ndebug=true) compiles them out. Failure: one error line
//   (file:line and the condition) and abort(). Compiled out, `cond` is not evaluated: it must
//   have no side effects.
//
// QGATE_CHECK(counters, cond): an expression, true when `cond` holds. For an invariant whose
//   breaking would cross replies between clients or corrupt memory (slot generations, buffer
//   reference counts and ownership, frame lengths, order lists). Always compiled in, never
//   aborts. When `cond` is false: `counters.bugs` goes up by one (counters: any block with a
//   single-writer std::atomic<uint64_t> `bugs`, i.e. shard::counters), the call site logs one
//   error line the first time (file:line and the condition; never again from that site in
//   this process, so a broken invariant on the data plane cannot flood the log), and the
//   expression is false: the caller contains the damage by closing only the connection
//   concerned or dropping the one item, and says which at the site. Each site carries a
//   one-line comment saying what it protects (src/proxy/README.md lists them).
//
// Cost while the invariant holds: evaluating `cond` and one branch predicted not taken. The
// failure path is out of line ([[gnu::cold]]) and neither allocates nor throws.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdlib>

#include "qgate/log.h"

namespace qgate::check {

/// QGATE_CHECK's failure path: counts, logs the site's first failure, returns false.
[[gnu::cold, gnu::noinline]] inline bool broken(std::atomic<uint64_t>& bugs,
                                                std::atomic<bool>& logged, const char* file,
                                                int line, const char* cond) {
    // Single writer (the shard that owns the block), as shard::bump: no locked instruction.
    bugs.store(bugs.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    if (!logged.exchange(true, std::memory_order_relaxed)) {
        QGATE_LOG_ERROR("bug: %s:%d: check failed: %s (counted in `bugs`; this site logs once)",
                        file, line, cond);
    }
    return false;
}

/// QGATE_ASSERT's failure path.
[[gnu::cold, gnu::noinline, noreturn]] inline void assert_failed(const char* file, int line,
                                                                 const char* cond) {
    QGATE_LOG_ERROR("bug: %s:%d: assertion failed: %s", file, line, cond);
    std::abort();
}

}  // namespace qgate::check

// The captureless lambda gives each expansion its own `logged` flag (one per call site, shared
// by every shard: exchange makes exactly one of them log). It runs only on failure.
#define QGATE_CHECK(counters, cond)                                                              \
    (__builtin_expect(static_cast<bool>(cond), 1) ||                                             \
     [](std::atomic<std::uint64_t>& qgate_check_bugs_) {                                         \
         static constinit std::atomic<bool> qgate_check_logged_{false};                          \
         return ::qgate::check::broken(qgate_check_bugs_, qgate_check_logged_, __FILE__,         \
                                       __LINE__, #cond);                                         \
     }((counters).bugs))

#ifdef NDEBUG
#define QGATE_ASSERT(cond) static_cast<void>(sizeof(static_cast<bool>(cond)))
#else
#define QGATE_ASSERT(cond)                                                                       \
    (__builtin_expect(static_cast<bool>(cond), 1)                                                \
         ? static_cast<void>(0)                                                                  \
         : ::qgate::check::assert_failed(__FILE__, __LINE__, #cond))
#endif
