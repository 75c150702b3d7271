// errc_name: the stable name of every pub/sub error, as counters and logs print it. Names match
// the enumerator spelling and are never reused for another meaning. Pure, any thread.

#include "qgate/pubsub/pubsub_types.h"

namespace qgate::pubsub {

const char* errc_name(errc e) {
    switch (e) {
    case errc::ok: return "ok";
    case errc::malformed: return "malformed";
    case errc::not_a_call: return "not_a_call";
    case errc::wrong_function: return "wrong_function";
    case errc::rank: return "rank";
    case errc::bad_table_arg: return "bad_table_arg";
    case errc::bad_sym_arg: return "bad_sym_arg";
    case errc::bad_text: return "bad_text";
    case errc::bad_data: return "bad_data";
    case errc::ragged_columns: return "ragged_columns";
    case errc::no_sym_column: return "no_sym_column";
    case errc::sym_not_symbols: return "sym_not_symbols";
    case errc::unknown_table: return "unknown_table";
    case errc::schema_mismatch: return "schema_mismatch";
    case errc::big_endian: return "big_endian";
    case errc::no_space: return "no_space";
    case errc::no_memory: return "no_memory";
    }
    return "unknown";
}

}  // namespace qgate::pubsub
