// Lesson 8's exercises (examples/course/08_grokking): figures of the grokking report recomputed
// from a tiny tracked run's exports, against the example's own summary.json and
// analyses/components.csv (computed by other code), and the milestones of a metrics.csv.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "examples/course/08_grokking/exercises.hpp"
#include "examples/grokking/run.hpp"
#include "tests/grokking_tiny.hpp"

using namespace pathgrad;
using namespace pathgrad::course;
namespace fs = std::filesystem;

namespace {

// The end-to-end test's tiny configuration (p = 11, cheap level, 12 steps): a few seconds.
std::string tiny_run() {
  static const std::string dir = [] {
    grokking::Config c = grokking_test::tiny("course_08", grokking::TrackLevel::Cheap, 12);
    c.output_probes = 0;
    grokking::run(c, "test_course_08_grokking");
    return c.out;
  }();
  return dir;
}

nlohmann::json read_json(const std::string& path) { return nlohmann::json::parse(std::ifstream(path)); }

}  // namespace

TEST_CASE("exercise 1: the replica figures equal summary.json's") {
  const std::string dir = tiny_run() + "/explaind";
  const ReplicaFigures r = replica_figures(dir);
  const nlohmann::json s = read_json(dir + "/summary.json")["replica"];
  // The same float64 numbers summed in another order: equal to ~1e-15 relative; 1e-12 is the bound.
  CHECK(r.max_abs_error == doctest::Approx(s["max_abs_error"].get<double>()).epsilon(1e-12));
  CHECK(r.mean_abs_error == doctest::Approx(s["mean_abs_error"].get<double>()).epsilon(1e-12));
  CHECK(r.output_scale == doctest::Approx(s["output_scale"].get<double>()).epsilon(1e-12));
  CHECK(r.change_scale == doctest::Approx(s["change_scale"].get<double>()).epsilon(1e-12));
  CHECK(r.change_scale > 0.01);
  CHECK(r.max_abs_error < 1e-5 * r.change_scale);
}

TEST_CASE("exercise 2: a component's windows equal analyses/components.csv and add up to its total") {
  const std::string run = tiny_run();
  // components.csv: component,window_begin,window_end,data,weight_decay; the whole run is the row
  // with window_begin 0 and window_end the last step, after the windows.
  std::map<std::string, std::vector<std::pair<double, double>>> csv;
  std::ifstream in(run + "/analyses/components.csv");
  std::string line;
  std::getline(in, line);
  while (std::getline(in, line)) {
    std::stringstream f(line);
    std::string name, begin, end, data, decay;
    std::getline(f, name, ','), std::getline(f, begin, ','), std::getline(f, end, ','), std::getline(f, data, ','),
        std::getline(f, decay, ',');
    csv[name].emplace_back(std::stod(data), std::stod(decay));
  }
  for (const char* component : {"embed.weight", "mlp.fc1.*", "decoder.weight"}) {
    INFO(component);
    const std::vector<WindowShare> w = component_windows(run + "/explaind", component);
    const auto& rows = csv.at(component);
    REQUIRE(w.size() == 3);         // windows [0, 4), [4, 9), [9, 12)
    REQUIRE(rows.size() == 3 + 1);  // ... and the whole run
    double data = 0, decay = 0;
    for (size_t k = 0; k < w.size(); ++k) {
      // The CSV holds shortest round-trip text: the same doubles, up to summation order.
      CHECK(w[k].data == doctest::Approx(rows[k].first).epsilon(1e-12));
      CHECK(w[k].decay == doctest::Approx(rows[k].second).epsilon(1e-12));
      data += w[k].data, decay += w[k].decay;
    }
    CHECK(data == doctest::Approx(rows.back().first).epsilon(1e-10));
    CHECK(decay == doctest::Approx(rows.back().second).epsilon(1e-10));
  }
  CHECK_THROWS_AS(component_windows(run + "/explaind", "no.such.layer"), std::invalid_argument);
}

TEST_CASE("exercise 3: the milestones of a metrics.csv") {
  const fs::path dir = fs::temp_directory_path() / "pathgrad_test_course_08_metrics";
  fs::create_directories(dir);
  std::ofstream(dir / "metrics.csv") << "step,train_loss,train_accuracy,val_loss,val_accuracy\n"
                                        "0,2.4,0.1,2.4,0.05\n1,1.2,0.985,2.5,0.1\n2,0.3,0.99,2.0,0.5\n"
                                        "3,0.1,1,0.5,0.98\n4,0.05,0.995,0.1,0.99\n5,0.01,1,0.02,1\n";
  const Milestones m = milestones(dir.string());
  CHECK(m.memorisation == 2);
  CHECK(m.generalisation == 4);
  // The tiny run: whatever it reached, exercise 3 agrees with the report's text.
  const std::string report = [&] {
    std::ifstream f(tiny_run() + "/report.md");
    return std::string(std::istreambuf_iterator<char>(f), {});
  }();
  const Milestones tiny = milestones(tiny_run());
  // The report's sentence "Memorisation (training accuracy first >= 99 %): step 633." (Markdown
  // escapes the ">"), up to its full stop, ends with exercise 3's answer.
  auto said = [&](const std::string& what, const std::optional<int64_t>& s) {
    const size_t begin = report.find(what);
    if (begin == std::string::npos) return false;
    const std::string sentence = report.substr(begin, report.find('.', begin) - begin);
    const std::string answer = "step " + (s ? std::to_string(*s) : std::string("not reached"));
    return sentence.ends_with(answer);
  };
  CHECK(said("Memorisation (training accuracy", tiny.memorisation));
  CHECK(said("Generalisation (validation accuracy", tiny.generalisation));
  CHECK_THROWS_AS(milestones((dir / "missing").string()), std::runtime_error);
}
