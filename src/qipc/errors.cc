// errc_name: the stable, human-readable name of every codec error.
//
// Design note: the names are what `qipc check`, the logs and the per-shard counters print, so
// they are part of the operational interface. They match the enumerator spelling exactly and
// must never be reused for a different meaning. Pure function, any thread.

#include "qgate/qipc/types.h"

namespace qgate::qipc {

const char* errc_name(errc e) {
    switch (e) {
    case errc::ok: return "ok";
    case errc::truncated: return "truncated";
    case errc::bad_endian: return "bad_endian";
    case errc::bad_msg_type: return "bad_msg_type";
    case errc::bad_compressed_flag: return "bad_compressed_flag";
    case errc::large_not_negotiated: return "large_not_negotiated";
    case errc::length_too_small: return "length_too_small";
    case errc::length_too_large: return "length_too_large";
    case errc::bad_type: return "bad_type";
    case errc::bad_attribute: return "bad_attribute";
    case errc::count_too_large: return "count_too_large";
    case errc::unterminated: return "unterminated";
    case errc::too_deep: return "too_deep";
    case errc::trailing_bytes: return "trailing_bytes";
    case errc::bad_table: return "bad_table";
    case errc::bad_handshake: return "bad_handshake";
    case errc::handshake_too_long: return "handshake_too_long";
    case errc::bad_compressed: return "bad_compressed";
    case errc::bad_uncompressed_len: return "bad_uncompressed_len";
    case errc::no_space: return "no_space";
    case errc::parse_error: return "parse_error";
    case errc::inflate_limit: return "inflate_limit";
    }
    // Not a named enumerator: a corrupted value or a newer errc compiled against old code.
    return "unknown";
}

}  // namespace qgate::qipc
