#include "graft/cli/run_log.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

#include <gtest/gtest.h>

#include "graft/base/error.h"
#include "graft/cli/metrics_record.h"

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

TEST(RunLogTest, AResumedLogKeepsCompleteRecordsUpToTheCheckpointAndPlotsTheWholeRun) {
  std::string dir = temp_dir("resume");
  {
    RunLog log(dir);
    for (int64_t s = 1; s <= 6; ++s) log.step({.step = s, .epoch = 1, .loss = 1.0 / s, .accuracy = 0.5});
    log.growth({.step = 2, .description = "deepen \"early\"", .parameters_before = 1, .parameters_after = 2,
                .created = {}, .retired = {}});
  }
  {  // a process killed mid-write leaves half a line
    std::ofstream append(dir + "/metrics.jsonl", std::ios::app);
    append << "{\"kind\":\"step\",\"st";
  }
  {
    RunLog log(dir, /*resume_at_step=*/4);
    EXPECT_EQ(log.kept_records(), 5);   // steps 1..4 and the growth at step 2
    EXPECT_EQ(log.dropped_lines(), 3);  // steps 5, 6 and the cut-off line
    log.step({.step = 5, .epoch = 1, .loss = 0.3, .accuracy = 0.6});
    log.epoch({.epoch = 1, .step = 5, .test_accuracy = 0.7});
    log.write_curves();
  }
  std::istringstream lines(read_file(dir + "/metrics.jsonl"));
  std::string line;
  std::vector<int64_t> steps;
  while (std::getline(lines, line)) {
    std::optional<MetricsRecord> r = parse_metrics_record(line);
    ASSERT_TRUE(r.has_value()) << "not a complete record: " << line;
    if (r->kind == "step") steps.push_back(r->step);
  }
  EXPECT_EQ(steps, (std::vector<int64_t>{1, 2, 3, 4, 5}));
  std::string svg = read_file(dir + "/curves.svg");
  EXPECT_NE(svg.find("deepen &quot;early&quot;"), std::string::npos) << "the growth before the resume is not plotted";
  std::filesystem::remove_all(dir);
}

TEST(RunLogTest, AFailedWriteNamesTheFileAndTheOsError) {
  std::string dir = temp_dir("full");
  std::filesystem::create_directories(dir);
  std::filesystem::create_symlink("/dev/full", dir + "/metrics.jsonl");
  RunLog log(dir);
  try {
    log.step({.step = 1, .epoch = 1, .loss = 0.5, .accuracy = 0.5});
    FAIL() << "a write to a full disk went unnoticed";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("cannot write a record to '" + dir + "/metrics.jsonl': No space left on device"),
              std::string::npos)
        << e.what();
  }
  std::filesystem::remove_all(dir);
}

TEST(MetricsRecordTest, ReadsWhatRunLogWritesAndRefusesDamagedLines) {
  std::optional<MetricsRecord> r = parse_metrics_record(
      "{\"kind\":\"growth\",\"step\":30,\"event\":\"widen \\\"a\\\"\\n\",\"parameters_before\":10,"
      "\"parameters_after\":20,\"created\":[\"mlp/x\",\"mlp/y\"],\"retired\":[]}");
  ASSERT_TRUE(r.has_value());
  GrowthRecord g = r->as_growth();
  EXPECT_EQ(g.step, 30);
  EXPECT_EQ(g.description, "widen \"a\"\n");
  EXPECT_EQ(g.parameters_after, 20);
  EXPECT_EQ(g.created, (std::vector<std::string>{"mlp/x", "mlp/y"}));
  r = parse_metrics_record("{\"kind\":\"step\",\"step\":3,\"loss\":null,\"accuracy\":0.5}");
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(std::isnan(r->as_step().loss));
  for (const char* bad : {"", "{", "{\"kind\":\"step\",\"st", "{\"kind\":\"step\",\"step\":3}{\"kind\":\"step\"",
                          "{\"kind\":\"other\",\"step\":3}", "{\"kind\":\"step\",\"step\":-1}",
                          "{\"kind\":\"step\",\"step\":1.5}", "{\"kind\":\"step\"}", "garbage"}) {
    EXPECT_FALSE(parse_metrics_record(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace graft::cli
