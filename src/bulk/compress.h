// Compress: the writing side of input_stream.h's formats, in memory: one
// gzip member or one zstd frame holding all of `in`. For what writes
// compressed inputs: `bench import`'s files, the tests' and the fuzz
// target's streams.
#ifndef BILLSIM_BULK_COMPRESS_H_
#define BILLSIM_BULK_COMPRESS_H_

#include <string>
#include <string_view>

#include "bulk/input_stream.h"
#include "util/status.h"

namespace billsim::bulk {

// *out = `in` compressed as `compression` at `level` (zlib's 1..9, zstd's
// 1..19); kNone copies. An error names the library's reason.
Status Compress(Compression compression, std::string_view in, int level, std::string* out);

}  // namespace billsim::bulk

#endif  // BILLSIM_BULK_COMPRESS_H_
