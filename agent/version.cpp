#include "version.hpp"

#include <curl/curl.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <uv.h>

namespace tether {

const char* const kVersion = TETHER_VERSION;

std::string version_line() {
  char pcre[64] = "";
  pcre2_config(PCRE2_CONFIG_VERSION, pcre);
  std::string v = pcre;
  v = v.substr(0, v.find(' '));  // "10.42 2022-12-11" -> "10.42"
  return std::string("tether ") + kVersion + " (libuv " + uv_version_string() + ", libcurl " +
         curl_version_info(CURLVERSION_NOW)->version + ", PCRE2 " + v + ")";
}

}  // namespace tether
