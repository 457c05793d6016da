// Talking to gnuplot: finding the executable, quoting text for its scripts, a scratch directory
// for a script and its data files, and running a script with its errors reported.
#pragma once

#include <string>
#include <string_view>

namespace pathgrad::explaind::report {

// The gnuplot executable to run: `requested` if non-empty, else $PATHGRAD_GNUPLOT if set and
// non-empty, else "gnuplot". A name without '/' is looked up on PATH. Throws std::runtime_error
// naming what was looked for when it is not an executable file.
std::string find_gnuplot(const std::string& requested = "");

// `text` as a gnuplot double-quoted string literal, quotes included. Backslashes and quotes are
// escaped, line breaks become "\n" (a line break in the rendered text), other control characters
// become spaces. Scripts run with `noenhanced` text, so no other character is special.
std::string gnuplot_quote(std::string_view text);

// A private temporary directory (mkdtemp under the system temp directory) holding a script and
// its data files; removed with everything in it on destruction. Not copyable.
class ScratchDir {
 public:
  ScratchDir();
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const std::string& path() const { return path_; }
  // Writes `bytes` to a new file "<path>/<stem>-<n>" and returns that file's path.
  std::string write(std::string_view stem, std::string_view bytes);

 private:
  std::string path_;
  int files_ = 0;
};

// Runs `executable -d script_path` (-d: ignore the user's gnuplot init files), with stdout
// discarded. Throws std::runtime_error naming `what`, the exit status (or signal) and gnuplot's
// stderr when it cannot start or does not exit with status 0.
void run_gnuplot(const std::string& executable, const std::string& script_path, const std::string& what);

}  // namespace pathgrad::explaind::report
