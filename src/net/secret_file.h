// Reading a file that holds secrets (access tokens): the server's token
// table (server/access.h) and a client's --token-file.
//
// The file is read whole, up to a stated size, and its permissions are
// checked the way ssh checks a private key: a file that the group or others
// may read or write is still used, but a warning naming it and its mode is
// logged (spdlog), because anyone who can read it can use its tokens.
//
// Any thread; no state.
#ifndef BILLSIM_NET_SECRET_FILE_H_
#define BILLSIM_NET_SECRET_FILE_H_

#include <cstddef>
#include <string>

#include "util/status.h"

namespace billsim::net {

// Reads `path` into *contents. NotFound if it does not exist, IOError if it
// cannot be read or is not a regular file, InvalidArgument if it holds more
// than `bytes_max` bytes; each message names the path and the reason.
Status ReadSecretFile(const std::string& path, size_t bytes_max, std::string* contents);

}  // namespace billsim::net

#endif  // BILLSIM_NET_SECRET_FILE_H_
