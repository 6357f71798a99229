#include "graft/cli/run_log.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

#include <gtest/gtest.h>

#include "graft/base/error.h"

namespace graft::cli {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string temp_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / ("graft_run_log_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  return dir.string();
}

TEST(RunLogTest, WritesJsonLinesAndAnSvgWithGrowthMarks) {
  std::string dir = temp_dir("basic");
  {
    RunLog log(dir + "/nested");
    log.step({.step = 10, .epoch = 1, .loss = 0.9, .accuracy = 0.6, .samples_per_second = 1000, .learning_rate = 1e-3});
    log.growth({.step = 15, .description = "widen \"h0\" to 256", .parameters_before = 10, .parameters_after = 20,
                .created = {"mlp/a"}, .retired = {}});
    log.step({.step = 20, .epoch = 1, .loss = 0.5, .accuracy = 0.8, .samples_per_second = 1000, .learning_rate = 1e-3});
    log.epoch({.epoch = 1, .step = 20, .loss = 0.6, .accuracy = 0.7, .test_loss = 0.55, .test_accuracy = 0.75,
               .seconds = 1.5, .parameters = 20});
    log.write_curves();
  }
  std::string metrics = read_file(dir + "/nested/metrics.jsonl");
  std::istringstream lines(metrics);
  std::string line;
  std::vector<std::string> all;
  while (std::getline(lines, line)) all.push_back(line);
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(all[0], "{\"kind\":\"step\",\"step\":10,\"epoch\":1,\"loss\":0.9,\"accuracy\":0.6,"
                    "\"samples_per_second\":1000,\"learning_rate\":0.001}");
  EXPECT_NE(all[1].find("\"event\":\"widen \\\"h0\\\" to 256\""), std::string::npos) << all[1];
  EXPECT_NE(all[1].find("\"created\":[\"mlp/a\"]"), std::string::npos) << all[1];
  EXPECT_NE(all[3].find("\"test_accuracy\":0.75"), std::string::npos) << all[3];
  std::string svg = read_file(dir + "/nested/curves.svg");
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_NE(svg.find("stroke-dasharray"), std::string::npos) << "no growth marker";
  EXPECT_NE(svg.find("widen &quot;h0&quot; to 256"), std::string::npos);
  EXPECT_NE(svg.find("<polyline"), std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST(RunLogTest, AnUnwritableFolderIsAClearError) {
  try {
    RunLog log("/proc/graft_cannot_write_here");
    FAIL();
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("cannot create the run folder '/proc/graft_cannot_write_here'"),
              std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("--run-dir"), std::string::npos);
  }
}

}  // namespace
}  // namespace graft::cli
