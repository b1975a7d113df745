#include "atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "error.h"

namespace tapegrad {

namespace {
// Writes all of `bytes` to fd or throws.
void write_all(int fd, std::string_view bytes, const std::string& path, const char* op) {
    while (!bytes.empty()) {
        ssize_t n = ::write(fd, bytes.data(), bytes.size());
        if (n < 0) fail(op, "writing {} failed: {}", path, std::strerror(errno));
        bytes.remove_prefix(size_t(n));
    }
}
}  // namespace

void write_file_atomically(const std::string& path, const std::vector<std::string_view>& parts, const char* op) {
    std::string tmp = path + ".tmp." + std::to_string(::getpid());
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) fail(op, "cannot create {}: {}", tmp, std::strerror(errno));
    try {
        for (std::string_view part : parts) write_all(fd, part, tmp, op);
        if (::fsync(fd) != 0) fail(op, "fsync of {} failed: {}", tmp, std::strerror(errno));
    } catch (...) {
        ::close(fd);
        std::remove(tmp.c_str());
        throw;
    }
    ::close(fd);
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
        std::remove(tmp.c_str());
        fail(op, "cannot rename {} to {}: {}", tmp, path, std::strerror(errno));
    }
}

}  // namespace tapegrad
