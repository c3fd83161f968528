// The audit console's static files (web/console/ and the uPlot chart
// library from web/node_modules/, pinned by web/package-lock.json),
// embedded into the program at build time (tools/embed_assets.cmake):
// nothing is loaded from anywhere else at run time.
#ifndef BILLSIM_HTTP_ASSETS_H_
#define BILLSIM_HTTP_ASSETS_H_

#include <string_view>

namespace billsim::http {

struct Asset {
  std::string_view path;  // "/", "/console.js", ...
  std::string_view content_type;
  std::string_view body;
};

// The file served at `path`, or null.
const Asset* FindAsset(std::string_view path);

}  // namespace billsim::http

#endif  // BILLSIM_HTTP_ASSETS_H_
