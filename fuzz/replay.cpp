// main() for a fuzz target built without libFuzzer (any compiler): runs
// LLVMFuzzerTestOneInput once on every file of the directories (or files)
// named on the command line, in name order. The fuzz.* ctests use it to
// replay fuzz/corpus/<target> and fuzz/regressions/<target> on every
// `make test`; a failed invariant aborts with the file's name.
//
// usage: replay_<target> DIR|FILE...
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <system_error>
#include <vector>

#include "common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace fs = std::filesystem;

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s DIR|FILE...\n", argv[0]);
    return 2;
  }
  std::vector<fs::path> inputs;
  for (int i = 1; i < argc; ++i) {
    fs::path p(argv[i]);
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
      std::vector<fs::path> files;
      for (const auto& e : fs::directory_iterator(p, ec)) {
        // Dot files (.gitkeep) and READMEs are not inputs.
        std::string name = e.path().filename().string();
        if (name[0] == '.' || name.rfind("README", 0) == 0) continue;
        if (e.is_regular_file()) files.push_back(e.path());
      }
      if (ec) {
        std::fprintf(stderr, "%s: %s: %s\n", argv[0], argv[i], ec.message().c_str());
        return 2;
      }
      std::sort(files.begin(), files.end());
      inputs.insert(inputs.end(), files.begin(), files.end());
    } else if (fs::is_regular_file(p, ec)) {
      inputs.push_back(p);
    } else {
      // A wrong path must not pass as "nothing to replay".
      std::fprintf(stderr, "%s: %s: no such file or directory\n", argv[0], argv[i]);
      return 2;
    }
  }
  for (const auto& path : inputs) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "%s: cannot read %s\n", argv[0], path.c_str());
      return 1;
    }
    std::vector<uint8_t> data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::string name = path.string();
    fuzz::current_input = name.c_str();
    // Named before it runs, so a sanitizer report can be traced to a file.
    std::fprintf(stderr, "replay %s (%zu bytes)\n", name.c_str(), data.size());
    LLVMFuzzerTestOneInput(data.data(), data.size());
    fuzz::current_input = nullptr;
  }
  std::printf("%zu inputs replayed\n", inputs.size());
  return 0;
}
