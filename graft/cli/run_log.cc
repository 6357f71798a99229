#include "graft/cli/run_log.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "graft/base/check.h"
#include "graft/cli/metrics_record.h"

namespace graft::cli {
namespace {

std::string number(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.6g", v);
  return buf;
}

// Plot geometry: two panels (loss; accuracy) sharing the step axis.
constexpr double kWidth = 900, kPanel = 260, kTop = 40, kGap = 60, kLeft = 70, kRight = 20;

struct Axis {
  double lo, hi;
  double map(double v, double a, double b) const { return hi == lo ? (a + b) / 2 : a + (v - lo) / (hi - lo) * (b - a); }
};

std::string escape_xml(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

// Writes `text` to `path` through a temporary file and a rename, so a reader
// (or a crash) sees the old file or the new one, never half of one.
void write_atomically(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text;
    out.flush();
    GRAFT_CHECK_AS(IoError, out.good(), "cannot write '", tmp, "': ", std::strerror(errno));
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  GRAFT_CHECK_AS(IoError, !ec, "cannot rename '", tmp, "' to '", path, "': ", ec.message());
}

}  // namespace

std::string json_string(const std::string& text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

RunLog::RunLog(std::string dir, std::optional<int64_t> resume_at_step)
    : dir_(std::move(dir)), path_(dir_ + "/metrics.jsonl") {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  GRAFT_CHECK_AS(IoError, !ec, "cannot create the run folder '", dir_, "': ", ec.message(),
                 "\n  help: pass a writable folder with --run-dir");
  if (resume_at_step) keep_until(*resume_at_step);
  metrics_ = std::fopen(path_.c_str(), resume_at_step ? "a" : "w");
  GRAFT_CHECK_AS(IoError, metrics_ != nullptr, "cannot write '", path_, "': ", std::strerror(errno),
                 "\n  help: pass a writable folder with --run-dir");
}

RunLog::~RunLog() {
  if (metrics_ != nullptr) std::fclose(metrics_);
}

// Keeps the complete, well-formed records of metrics.jsonl up to `step` (in
// memory for the curves, and in the file, rewritten atomically).
void RunLog::keep_until(int64_t step) {
  std::ifstream in(path_);
  if (!in) return;  // a resumed run in a fresh folder
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::string kept;
  size_t begin = 0;
  while (begin < text.size()) {
    size_t newline = text.find('\n', begin);
    if (newline == std::string::npos) {  // the last line was cut off mid-write
      ++dropped_;
      break;
    }
    std::string line = text.substr(begin, newline - begin);
    begin = newline + 1;
    std::optional<MetricsRecord> r = parse_metrics_record(line);
    if (!r || r->step > step) {
      ++dropped_;
      continue;
    }
    if (r->kind == "step") steps_.push_back(r->as_step());
    if (r->kind == "epoch") epochs_.push_back(r->as_epoch());
    if (r->kind == "growth") growths_.push_back(r->as_growth());
    kept += line + "\n";
    ++kept_;
  }
  write_atomically(path_, kept);
}

void RunLog::write_line(const std::string& line) {
  errno = 0;
  const bool ok = std::fwrite(line.data(), 1, line.size(), metrics_) == line.size() && std::fflush(metrics_) == 0;
  if (!ok) {
    const int error = errno;
    std::clearerr(metrics_);
    throw IoError("cannot write a record to '" + path_ + "': " + std::strerror(error != 0 ? error : EIO) +
                  "\n  help: free space on that disk (or raise the file size limit) and resume the run from its "
                  "last checkpoint with graft train --resume " + dir_);
  }
}

void RunLog::step(const StepRecord& r) {
  steps_.push_back(r);
  write_line("{\"kind\":\"step\",\"step\":" + std::to_string(r.step) + ",\"epoch\":" + std::to_string(r.epoch) +
             ",\"loss\":" + number(r.loss) + ",\"accuracy\":" + number(r.accuracy) +
             ",\"samples_per_second\":" + number(r.samples_per_second) + ",\"learning_rate\":" +
             number(r.learning_rate) + "}\n");
}

void RunLog::epoch(const EpochRecord& r) {
  epochs_.push_back(r);
  write_line("{\"kind\":\"epoch\",\"epoch\":" + std::to_string(r.epoch) + ",\"step\":" + std::to_string(r.step) +
             ",\"loss\":" + number(r.loss) + ",\"accuracy\":" + number(r.accuracy) + ",\"test_loss\":" +
             number(r.test_loss) + ",\"test_accuracy\":" + number(r.test_accuracy) + ",\"seconds\":" +
             number(r.seconds) + ",\"parameters\":" + std::to_string(r.parameters) + "}\n");
}

void RunLog::growth(const GrowthRecord& r) {
  growths_.push_back(r);
  auto list = [](const std::vector<std::string>& items) {
    std::string out = "[";
    for (size_t i = 0; i < items.size(); ++i) out += (i ? "," : "") + json_string(items[i]);
    return out + "]";
  };
  write_line("{\"kind\":\"growth\",\"step\":" + std::to_string(r.step) + ",\"event\":" +
             json_string(r.description) + ",\"parameters_before\":" + std::to_string(r.parameters_before) +
             ",\"parameters_after\":" + std::to_string(r.parameters_after) + ",\"created\":" + list(r.created) +
             ",\"retired\":" + list(r.retired) + "}\n");
}

void RunLog::write_curves() const {
  const double height = kTop + 2 * kPanel + kGap + 50;
  std::ostringstream svg;
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << kWidth << "\" height=\"" << height
      << "\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  double max_step = 1;
  for (const auto& s : steps_) max_step = std::max(max_step, static_cast<double>(s.step));
  for (const auto& e : epochs_) max_step = std::max(max_step, static_cast<double>(e.step));
  Axis x{0, max_step};
  const double x0 = kLeft, x1 = kWidth - kRight;

  auto panel = [&](double top, const char* title, Axis y, auto&& draw) {
    const double y0 = top + kPanel, y1 = top;
    svg << "<text x=\"" << x0 << "\" y=\"" << top - 8 << "\" font-weight=\"bold\">" << title << "</text>\n";
    svg << "<rect x=\"" << x0 << "\" y=\"" << y1 << "\" width=\"" << x1 - x0 << "\" height=\"" << kPanel
        << "\" fill=\"none\" stroke=\"#888\"/>\n";
    for (int i = 0; i <= 4; ++i) {
      double v = y.lo + (y.hi - y.lo) * i / 4.0;
      double py = y.map(v, y0, y1);
      svg << "<line x1=\"" << x0 << "\" x2=\"" << x1 << "\" y1=\"" << py << "\" y2=\"" << py
          << "\" stroke=\"#eee\"/><text x=\"" << x0 - 6 << "\" y=\"" << py + 4 << "\" text-anchor=\"end\">"
          << number(v) << "</text>\n";
    }
    for (const auto& g : growths_) {
      double px = x.map(static_cast<double>(g.step), x0, x1);
      svg << "<line x1=\"" << px << "\" x2=\"" << px << "\" y1=\"" << y1 << "\" y2=\"" << y0
          << "\" stroke=\"#d62728\" stroke-dasharray=\"5,4\"/>\n";
    }
    draw(y0, y1);
  };
  auto polyline = [&](const std::vector<std::pair<double, double>>& points, Axis y, double y0, double y1,
                      const char* color, const char* label, int slot) {
    if (points.empty()) return;
    svg << "<polyline fill=\"none\" stroke=\"" << color << "\" stroke-width=\"1.5\" points=\"";
    for (const auto& [px, py] : points) svg << x.map(px, x0, x1) << "," << y.map(py, y0, y1) << " ";
    svg << "\"/>\n<text x=\"" << x1 - 160 << "\" y=\"" << y1 + 16 + 16 * slot << "\" fill=\"" << color << "\">"
        << label << "</text>\n";
  };

  std::vector<std::pair<double, double>> loss, acc, test_acc;
  double max_loss = 0;
  for (const auto& s : steps_) {
    loss.emplace_back(static_cast<double>(s.step), s.loss);
    acc.emplace_back(static_cast<double>(s.step), s.accuracy);
    if (std::isfinite(s.loss)) max_loss = std::max(max_loss, s.loss);
  }
  for (const auto& e : epochs_) test_acc.emplace_back(static_cast<double>(e.step), e.test_accuracy);
  Axis loss_axis{0, max_loss > 0 ? max_loss : 1};
  panel(kTop, "training loss", loss_axis, [&](double y0, double y1) {
    polyline(loss, loss_axis, y0, y1, "#1f77b4", "train loss", 0);
  });
  double acc_lo = 1;
  for (const auto& p : acc) acc_lo = std::min(acc_lo, p.second);
  for (const auto& p : test_acc) acc_lo = std::min(acc_lo, p.second);
  Axis acc_axis{std::floor(acc_lo * 10) / 10, 1.0};
  double top2 = kTop + kPanel + kGap;
  panel(top2, "accuracy", acc_axis, [&](double y0, double y1) {
    polyline(acc, acc_axis, y0, y1, "#1f77b4", "train accuracy", 0);
    polyline(test_acc, acc_axis, y0, y1, "#ff7f0e", "test accuracy (epoch end)", 1);
  });
  // Step axis labels and growth event captions.
  double axis_y = top2 + kPanel + 18;
  for (int i = 0; i <= 5; ++i) {
    double v = max_step * i / 5.0;
    svg << "<text x=\"" << x.map(v, x0, x1) << "\" y=\"" << axis_y << "\" text-anchor=\"middle\">"
        << static_cast<int64_t>(v) << "</text>\n";
  }
  svg << "<text x=\"" << (x0 + x1) / 2 << "\" y=\"" << axis_y + 18 << "\" text-anchor=\"middle\">step</text>\n";
  for (size_t i = 0; i < growths_.size(); ++i) {
    double px = x.map(static_cast<double>(growths_[i].step), x0, x1);
    svg << "<text x=\"" << px + 4 << "\" y=\"" << kTop + 14 + 14 * static_cast<double>(i % 4)
        << "\" fill=\"#d62728\" font-size=\"11\">" << escape_xml(growths_[i].description) << "</text>\n";
  }
  svg << "</svg>\n";

  write_atomically(dir_ + "/curves.svg", svg.str());
}

}  // namespace graft::cli
