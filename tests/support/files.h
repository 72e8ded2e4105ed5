// Test helpers for files: a temporary directory removed with its contents when the object goes,
// and reading / writing a whole file as bytes.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace mailward::test_support {

// mkdtemp("/tmp/PREFIX-XXXXXX"); path() is empty when that failed (check it before use).
class TempDir {
 public:
  explicit TempDir(std::string_view prefix);
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// The file's bytes; empty when it cannot be read.
std::string read_file(const std::filesystem::path& path);
// Replaces the file's contents with `text` (created when absent).
void write_file(const std::filesystem::path& path, const std::string& text);

}  // namespace mailward::test_support
