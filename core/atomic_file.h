/// \file
/// Writing a file so that readers see either the old contents or the new, never half of it:
/// write a temporary file beside the target, fsync it, rename it over the target.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace tapegrad {

/// Writes the parts, one after another, to `path` atomically. `op` names the caller in errors.
void write_file_atomically(const std::string& path, const std::vector<std::string_view>& parts, const char* op);

}  // namespace tapegrad
