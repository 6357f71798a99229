#include "graft/cli/metrics_record.h"

#include <cmath>
#include <cstdlib>
#include <limits>

namespace graft::cli {
namespace {

// A cursor over one line; every parse_* returns false on malformed input.
class Cursor {
 public:
  explicit Cursor(const std::string& text) : text_(text) {}

  bool eat(char c) {
    if (at_ < text_.size() && text_[at_] == c) {
      ++at_;
      return true;
    }
    return false;
  }
  bool done() const { return at_ == text_.size(); }
  char peek() const { return at_ < text_.size() ? text_[at_] : '\0'; }

  // A JSON string with the escapes json_string() writes (\" \\ \n \t \u00XX).
  bool string(std::string& out) {
    if (!eat('"')) return false;
    out.clear();
    while (at_ < text_.size()) {
      char c = text_[at_++];
      if (c == '"') return true;
      if (c != '\\') {
        out += c;
        continue;
      }
      if (at_ >= text_.size()) return false;
      char e = text_[at_++];
      if (e == '"' || e == '\\' || e == '/') {
        out += e;
      } else if (e == 'n') {
        out += '\n';
      } else if (e == 't') {
        out += '\t';
      } else if (e == 'u' && at_ + 4 <= text_.size()) {
        char* end = nullptr;
        std::string hex = text_.substr(at_, 4);
        long code = std::strtol(hex.c_str(), &end, 16);
        if (*end != '\0' || code >= 0x80) return false;  // RunLog escapes only control characters
        out += static_cast<char>(code);
        at_ += 4;
      } else {
        return false;
      }
    }
    return false;
  }

  bool number(double& out) {
    if (text_.compare(at_, 4, "null") == 0) {
      at_ += 4;
      out = std::numeric_limits<double>::quiet_NaN();
      return true;
    }
    const char* begin = text_.c_str() + at_;
    char* end = nullptr;
    out = std::strtod(begin, &end);
    if (end == begin || !std::isfinite(out)) return false;
    at_ += static_cast<size_t>(end - begin);
    return true;
  }

  bool list(std::vector<std::string>& out) {
    if (!eat('[')) return false;
    if (eat(']')) return true;
    do {
      std::string item;
      if (!string(item)) return false;
      out.push_back(std::move(item));
    } while (eat(','));
    return eat(']');
  }

 private:
  const std::string& text_;
  size_t at_ = 0;
};

double get(const MetricsRecord& r, const char* key) {
  auto it = r.numbers.find(key);
  return it == r.numbers.end() ? std::numeric_limits<double>::quiet_NaN() : it->second;
}

int64_t whole(const MetricsRecord& r, const char* key) {
  double v = get(r, key);
  return std::isfinite(v) ? static_cast<int64_t>(v) : 0;
}

}  // namespace

std::optional<MetricsRecord> parse_metrics_record(const std::string& line) {
  Cursor c(line);
  MetricsRecord r;
  if (!c.eat('{')) return std::nullopt;
  do {
    std::string key;
    if (!c.string(key) || !c.eat(':')) return std::nullopt;
    const char next = c.peek();
    if (next == '"') {
      if (!c.string(r.strings[key])) return std::nullopt;
    } else if (next == '[') {
      if (!c.list(r.lists[key])) return std::nullopt;
    } else if (!c.number(r.numbers[key])) {
      return std::nullopt;
    }
  } while (c.eat(','));
  if (!c.eat('}') || !c.done()) return std::nullopt;
  r.kind = r.strings["kind"];
  const double step = get(r, "step");
  // Whole steps below 2^53 are exact in a double.
  if ((r.kind != "step" && r.kind != "epoch" && r.kind != "growth") || !(step >= 0 && step < 9e15) ||
      step != std::floor(step)) {
    return std::nullopt;
  }
  r.step = static_cast<int64_t>(step);
  return r;
}

StepRecord MetricsRecord::as_step() const {
  return {step, whole(*this, "epoch"), get(*this, "loss"), get(*this, "accuracy"), get(*this, "samples_per_second"),
          get(*this, "learning_rate")};
}

EpochRecord MetricsRecord::as_epoch() const {
  return {whole(*this, "epoch"), step, get(*this, "loss"), get(*this, "accuracy"), get(*this, "test_loss"),
          get(*this, "test_accuracy"), get(*this, "seconds"), whole(*this, "parameters")};
}

GrowthRecord MetricsRecord::as_growth() const {
  auto text = strings.find("event");
  auto list = [&](const char* key) {
    auto it = lists.find(key);
    return it == lists.end() ? std::vector<std::string>{} : it->second;
  };
  return {step, text == strings.end() ? "" : text->second, whole(*this, "parameters_before"),
          whole(*this, "parameters_after"), list("created"), list("retired")};
}

}  // namespace graft::cli
