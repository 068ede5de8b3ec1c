// testing/temp_dir.h: a fresh directory for one test, removed with all its
// contents when the object dies.
//
// Threading: a plain object; one owner.
#ifndef EDGELAB_TESTING_TEMP_DIR_H_
#define EDGELAB_TESTING_TEMP_DIR_H_

#include <stdlib.h>

#include <filesystem>
#include <string>
#include <system_error>

#include "base/status.h"

namespace edgelab::test {

class TempDir {
 public:
  TempDir() {
    std::string templ = (std::filesystem::temp_directory_path() / "edgelab-XXXXXX").string();
    EDGELAB_CHECK(mkdtemp(templ.data()) != nullptr);
    path_ = templ;
  }
  ~TempDir() {
    std::error_code ignored;  // a leftover temp dir is not worth failing a test over
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // `name` inside the directory.
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace edgelab::test

#endif  // EDGELAB_TESTING_TEMP_DIR_H_
