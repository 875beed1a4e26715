// tetherd --log-file: the log (stderr) goes to a file that the agent opens
// itself, so that after logrotate has moved it away, SIGUSR1 makes the agent
// continue in a new file: no line is written to a file being copied or lost
// in a truncate. Used by the sysvinit and OpenRC scripts; under systemd the
// log goes to the journal.
#pragma once

#include <string>

namespace tether {

// Opens `path` for appending (created 0640 if missing) as the new stderr.
// On failure stderr is untouched; returns 0 or a negative errno with *err.
int log_file_open(const std::string& path, std::string* err);
// The file of the last successful log_file_open ("" if none).
const std::string& log_file_path();

}  // namespace tether
