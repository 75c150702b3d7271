// Fan-out joins (DESIGN §6, issue 6): gather N partial replies, join them without copying the
// column bytes, and build TorQ's error and postback replies. Pure logic over bytes: no I/O, no
// threads, no locks, no exceptions. Allocation happens only per join (the decompression buffer
// of a compressed partial, the joined reply's small metadata buffer and iovec list).
//
// Ownership: a join_output's iovecs point into (a) its own `meta`/`owned` buffers and (b) the
// partial reply buffers handed to gather::deliver, plus any envelope spans. Those buffers must
// stay alive and unchanged until the joined reply has been sent (see src/join/README.md).
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "qgate/join/join_types.h"
#include "qgate/qipc/types.h"
#include "qgate/route/classify.h"

namespace qgate::join {

// Types (gather, part_view, join_output, reply_plan, ...) are in join/join_types.h.

// ---------------------------------------------------------------------------------------------
// Joining

/// Config-level join names: "raze", "list", "first"; anything else is custom (a q name).
join_kind join_kind_of(std::string_view name);
/// The join argument of a `.gw.*` call: the primitive `raze` (6b 66 0c), `raze / `first
/// (symbol, or the text "raze" / "first") are built in; anything else goes to the reducer.
/// An absent argument (syncexec, asyncexec) is raze, as in TorQ.
join_kind join_kind_of(const route::arg_view& join);

const char* join_error_text(join_error e);

/// Builds the joined reply of `parts` (all successful) with a built-in join.
join_error run_join(join_kind kind, std::span<const part_view> parts, const join_options& opt,
                    join_output& out);
/// q's `raze` where it is a concatenation: tables with the same column names and types → one
/// table (else `mismatch` / `type`); atoms and vectors of one type → one vector; general lists
/// → one general list; atoms, vectors and lists of different types → one general list with
/// vector elements as atoms (this shape copies those elements). Anything else (dicts, keyed
/// tables, tables among other parts) → the general list of the parts, as `list`. Attributes
/// are cleared. Otherwise only new heads are written and every element byte is referenced
/// (src/join/README.md has the full table and the reasons).
join_error raze(std::span<const part_view> parts, const join_options& opt, join_output& out);
/// The general list of the parts, each body one iovec.
join_error list(std::span<const part_view> parts, const join_options& opt, join_output& out);
/// Part 0 as is (TorQ's `first results`: the first server type's answer).
join_error first(std::span<const part_view> parts, const join_options& opt, join_output& out);

/// q compresses a message it sends when it is over 2000 bytes and the peer is not local (and
/// the result saves at least half; compress() decides that part).
bool q_would_compress(uint64_t total_bytes, bool peer_local);
/// Compresses `out` when q would (byte-identical to q). This copies the gathered bytes once into
/// a contiguous buffer (counted in column_bytes_copied): the only copying path. Returns true
/// when the output is now one compressed iovec into `out.owned`.
bool compress_if_q_would(join_output& out, bool peer_local);

/// Copies the gathered bytes into one contiguous message (tests, small replies).
std::vector<uint8_t> flatten(const join_output& out);

// ---------------------------------------------------------------------------------------------
// TorQ replies and the reducer request

/// TorQ's texts, written into `out` (cut to fit); each returns the text written.
std::string_view missing_types_text(std::span<const std::string_view> missing, std::span<char> out);
/// `failed to apply supplied join function to results: E` (sync) or `failed to apply join
/// function to result sets: E` (async), as TorQ words them.
std::string_view join_failed_text(std::string_view err, bool sync, std::span<char> out);
/// `backend T server handling query closed the connection`.
std::string_view backend_closed_text(std::string_view servertype, std::span<char> out);

/// Encodes a text argument of a string-form call as an object: `{...}` → lambda (root
/// context; q compiles the source on receipt), `name or name → symbol, else a char vector.
/// Returns bytes written into `out` (0 when it does not fit).
uint64_t encode_callable_text(std::string_view text, std::span<uint8_t> out);

/// False for TorQ's "no postback": `()`, or `` ` `` / `::` (later TorQ versions); also
/// false for an absent argument.
bool has_postback(const route::arg_view& postback);

/// TorQ's postback envelope `postback,(enlist query),enlist result`: a symbol or lambda
/// postback is one item; a general-list postback (`({[a;b;q;r]...};`a;`b)`) is spliced. Text
/// arguments (string-form calls) are encoded into `scratch`. Returns the item count (0: none
/// or does not fit).
uint32_t postback_envelope(const route::gw_call& call, std::span<uint8_t> scratch,
                           std::span<std::span<const uint8_t>> items);

/// The reply for a failed fan-out or a refused call, per TorQ: sync → q error frame with
/// `text`; async → async char vector "error: text", wrapped in `envelope` when given (the
/// postback). Returns bytes written into `out` (0 when it does not fit).
uint64_t write_error_reply(std::string_view text, bool sync,
                           std::span<const std::span<const uint8_t>> envelope,
                           std::span<uint8_t> out);

/// The reducer request `(join; results)` as a sync message: `join` (one encoded object, e.g.
/// the lambda or symbol bytes of the client message) then a general list referencing each
/// partial body. No partial byte is copied.
join_error reducer_request(std::span<const uint8_t> join, std::span<const part_view> parts,
                           join_output& out);

// ---------------------------------------------------------------------------------------------
// How to answer a fan-out: one plan per call, made on arrival

/// Plans the reply of a parsed `.gw.*` call: join kind, sync or async, the postback envelope
/// (text arguments encoded into `scratch`, which must outlive the reply) and the timeout.
/// False when the postback does not fit (`error` = kBadPostbackText, no envelope) or the
/// timeout is not understood (kBadTimeoutText; the envelope is set, so the error goes in it).
bool plan_gw(const route::gw_call& call, std::span<uint8_t> scratch, reply_plan& out,
             std::string_view* error = nullptr);
/// Plans the reply of a plain fan-out route (`join = "..."` in the route table; empty: raze).
/// An async request gets no reply (reply = false): the engine runs the parts and drops them.
reply_plan plan_route(std::string_view join, qipc::msg_type request_type);

/// The text a failed or timed-out gather answers with (no `error: ` prefix: the reply adds
/// it). `servertype` names the failed part's group. Per plan.torq and plan.sync:
///   q error:   TorQ sync `queries failed on server(s) T.  Error(s) were E`; else E
///   lost:      TorQ `backend T server handling query closed the connection`; else the reason
///   timeout:   `query has exceeded specified timeout value`
///   bad reply: the qgate text
std::string_view failure_text(const gather& g, const reply_plan& plan,
                              std::string_view servertype, std::span<char> out);
/// The text of a join that could not be built (TorQ's join-failure wording for `.gw.*`).
std::string_view join_failure_text(join_error e, const reply_plan& plan, std::span<char> out);
/// Writes the whole error reply for `text` per the plan (write_error_reply with its envelope).
uint64_t write_plan_error(std::string_view text, const reply_plan& plan, std::span<uint8_t> out);

}  // namespace qgate::join
