#pragma once

#include <string>

namespace tether {

extern const char* const kVersion;
// "tether 0.1.0 (libuv 1.44.2, libcurl 7.88.1, PCRE2 10.42)"
std::string version_line();

}  // namespace tether
