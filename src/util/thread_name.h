// SetThreadName: names the calling thread, as `top -H`, `perf` and gdb show
// it (Linux keeps 15 characters; a longer name is cut, not refused). Every
// std::thread billsim starts calls it first, so a profile of the server says
// which of its threads (committer, syncer, indexer, query workers, scrub)
// takes the time. The network thread and Asio's pools (the server's HTTP
// body translation and forecasts, the gateway's queries) keep the program's
// name.
#ifndef BILLSIM_UTIL_THREAD_NAME_H_
#define BILLSIM_UTIL_THREAD_NAME_H_

#include <pthread.h>

#include <algorithm>
#include <string_view>

namespace billsim {

inline void SetThreadName(std::string_view name) {
  char cut[16] = {};
  name.copy(cut, std::min<size_t>(name.size(), sizeof(cut) - 1));
  pthread_setname_np(pthread_self(), cut);  // fails only for a name too long
}

}  // namespace billsim

#endif  // BILLSIM_UTIL_THREAD_NAME_H_
