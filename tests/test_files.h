// Files for tests: a temporary folder removed at the end of the test, and a gzip writer.
#pragma once
#include <zlib.h>

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <string>

#include <unistd.h>

namespace tapegrad::testing {

// A fresh folder <temp>/<prefix>_<name>_<pid>, removed when the object dies.
struct TempDir {
    std::filesystem::path path;
    TempDir(const std::string& prefix, const std::string& name)
        : path(std::filesystem::temp_directory_path() / (prefix + "_" + name + "_" + std::to_string(getpid()))) {
        std::filesystem::remove_all(path);
        std::filesystem::create_directories(path);
    }
    ~TempDir() { std::filesystem::remove_all(path); }
};

inline void write_gzip(const std::filesystem::path& path, const std::string& content) {
    gzFile file = gzopen(path.string().c_str(), "wb");
    BOOST_REQUIRE(file);
    BOOST_REQUIRE_EQUAL(gzwrite(file, content.data(), unsigned(content.size())), int(content.size()));
    gzclose(file);
}

}  // namespace tapegrad::testing
