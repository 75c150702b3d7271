// A scratch directory for one test case, removed with everything in it on scope exit.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

namespace qgate::test {

class temp_dir {
  public:
    temp_dir() {
        std::string pattern = (std::filesystem::temp_directory_path() / "qgate-ctl-XXXXXX");
        path_ = ::mkdtemp(pattern.data()) != nullptr ? pattern : std::string();
    }
    ~temp_dir() {
        std::error_code ec;
        if (!path_.empty()) std::filesystem::remove_all(path_, ec);
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;

    const std::string& path() const { return path_; }

    /// Writes `text` to `name` inside the directory; returns the full path.
    std::string write(const std::string& name, std::string_view text) const {
        const std::string full = path_ + "/" + name;
        std::ofstream(full, std::ios::binary) << text;
        return full;
    }

  private:
    std::string path_;
};

}  // namespace qgate::test
