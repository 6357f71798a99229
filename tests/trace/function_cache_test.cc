// The cache of compiled graphs: what keys a graph (DESIGN's "never a stale
// graph" for every static argument type) and which graph is dropped first.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <type_traits>

#include "graft/ops/ops.h"
#include "graft/trace/function.h"
#include "tests/testing.h"

namespace graft {
namespace {

Tensor x1() { return Tensor::from_vector<double>({1.0}); }

// A compiled f(x, s) = x * s, eager twin: s itself.
template <typename S>
double compiled_times(auto& f, S s) {
  return f(x1(), s).template item<double>();
}

TEST(FunctionCacheTest, DoublesDifferingInTheTenthDigitGetTheirOwnGraphs) {
  auto f = function([](const Tensor& x, double s) { return x * s; });
  EXPECT_EQ(compiled_times(f, 0.001), 0.001);
  EXPECT_EQ(compiled_times(f, 0.0010000001), 0.0010000001);
  EXPECT_EQ(compiled_times(f, 0.001), 0.001);  // cached
  EXPECT_EQ(f.captures(), 2);
  std::string explain = f.explain();
  EXPECT_NE(explain.find("new static arguments (0.0010000001) (previous (0.001))"), std::string::npos) << explain;
}

TEST(FunctionCacheTest, FloatsAndLongDoublesKeyOnEveryBit) {
  auto f = function([](const Tensor& x, float s) { return x * static_cast<double>(s); });
  float a = 0.1f;
  float b = std::nextafter(a, 1.0f);
  EXPECT_EQ(compiled_times(f, a), static_cast<double>(a));
  EXPECT_EQ(compiled_times(f, b), static_cast<double>(b));
  EXPECT_EQ(f.captures(), 2);
  auto g = function([](const Tensor& x, long double s) { return x * static_cast<double>(s); });
  long double c = 1.0L / 3.0L;
  long double d = std::nextafter(c, 1.0L);  // rounds to the same double, still a new graph
  g(x1(), c);
  g(x1(), d);
  EXPECT_EQ(g.captures(), 2);
  g(x1(), c);
  EXPECT_EQ(g.captures(), 2);
}

TEST(FunctionCacheTest, NegativeZeroIsNotZero) {
  auto f = function([](const Tensor& x, double s) { return x / s; });
  EXPECT_EQ(compiled_times(f, 0.0), INFINITY);
  EXPECT_EQ(compiled_times(f, -0.0), -INFINITY);
}

TEST(FunctionCacheTest, StringsWithTheSeparatorDoNotCollide) {
  auto f = function([](const Tensor& x, const std::string& a, const std::string& b) {
    return x * static_cast<double>(a.size() * 100 + b.size());
  });
  EXPECT_EQ(f(x1(), std::string("a, b"), std::string("c")).item<double>(), 401);
  EXPECT_EQ(f(x1(), std::string("a"), std::string("b, c")).item<double>(), 104);
  EXPECT_EQ(f(x1(), std::string("a"), std::string("")).item<double>(), 100);
  EXPECT_EQ(f(x1(), std::string(""), std::string("a")).item<double>(), 1);
  // Embedded NULs and quotes are part of the value.
  EXPECT_EQ(f(x1(), std::string("a\0b", 3), std::string("\"")).item<double>(), 301);
  EXPECT_EQ(f(x1(), std::string("a\0c", 3), std::string("\"")).item<double>(), 301);
  EXPECT_EQ(f.captures(), 6);
  std::string explain = f.explain();
  EXPECT_NE(explain.find("(\"a\", \"b, c\") (previous (\"a, b\", \"c\"))"), std::string::npos) << explain;
  EXPECT_NE(explain.find("\"a\\x00b\", \"\\\"\""), std::string::npos) << explain;
}

TEST(FunctionCacheTest, StringViewsAndCStringsKeyOnTheirText) {
  auto f = function([](const Tensor& x, std::string_view s) { return x * static_cast<double>(s.size()); });
  std::string one = "ab";
  std::string two = "abc";
  EXPECT_EQ(f(x1(), std::string_view(one)).item<double>(), 2);
  EXPECT_EQ(f(x1(), std::string_view(two)).item<double>(), 3);
  auto g = function([](const Tensor& x, const char* s) { return x * static_cast<double>(std::string(s).size()); });
  const char* p = one.c_str();
  const char* q = two.c_str();
  EXPECT_EQ(g(x1(), p).item<double>(), 2);
  EXPECT_EQ(g(x1(), q).item<double>(), 3);
  one = "abcd";  // same pointer, new text: a new graph
  EXPECT_EQ(g(x1(), one.c_str()).item<double>(), 4);
  // String literals too.
  EXPECT_EQ(f(x1(), "ab").item<double>(), 2);
  EXPECT_EQ(f(x1(), "xy").item<double>(), 2);
  EXPECT_EQ(f(x1(), "xyz").item<double>(), 3);
  EXPECT_NE(f.explain().find("new static arguments (\"xy\") (previous (\"ab\"))"), std::string::npos)
      << f.explain();
}

// A generic callable sees the argument's type; one value under two types
// must not share a graph.
TEST(FunctionCacheTest, TheTypeOfAStaticArgumentIsPartOfTheKey) {
  auto f = function([](const Tensor& x, auto s) {
    using S = decltype(s);
    if constexpr (std::is_same_v<S, bool>) {
      return x * 10.0;
    } else if constexpr (std::is_floating_point_v<S>) {
      return x * (static_cast<double>(s) + 0.5);
    } else {
      return x * static_cast<double>(s);
    }
  }, FunctionOptions().recapture_warning(100));
  EXPECT_EQ(f(x1(), 2).item<double>(), 2);
  EXPECT_EQ(f(x1(), 2.0).item<double>(), 2.5);
  EXPECT_EQ(f(x1(), 2.0f).item<double>(), 2.5);
  EXPECT_EQ(f(x1(), int64_t{2}).item<double>(), 2);
  EXPECT_EQ(f(x1(), true).item<double>(), 10);
  EXPECT_EQ(f(x1(), 1).item<double>(), 1);
  EXPECT_EQ(f(x1(), 1u).item<double>(), 1);
  EXPECT_EQ(f(x1(), 'a').item<double>(), 97);
  EXPECT_EQ(f(x1(), 97).item<double>(), 97);
  EXPECT_EQ(f.captures(), 9);
  std::string explain = f.explain();
  EXPECT_NE(explain.find("new static arguments (2.0) (previous (2))"), std::string::npos) << explain;
  EXPECT_NE(explain.find("new static arguments (97) (previous ('a'))"), std::string::npos) << explain;
}

enum Plain { kPlainZero, kPlainOne };
enum class Mode { kTrain, kEval };
enum class Other { kFirst, kSecond };

TEST(FunctionCacheTest, EnumsKeyOnTheirTypeAndValue) {
  auto f = function([](const Tensor& x, auto s) {
    using S = decltype(s);
    if constexpr (std::is_same_v<S, Mode>) {
      return x * (s == Mode::kTrain ? 1.0 : 2.0);
    } else if constexpr (std::is_same_v<S, Other>) {
      return x * (s == Other::kFirst ? 3.0 : 4.0);
    } else if constexpr (std::is_same_v<S, Plain>) {
      return x * (s == kPlainZero ? 5.0 : 6.0);
    } else {
      return x * static_cast<double>(s);
    }
  });
  EXPECT_EQ(f(x1(), Mode::kTrain).item<double>(), 1);
  EXPECT_EQ(f(x1(), Mode::kEval).item<double>(), 2);
  EXPECT_EQ(f(x1(), Other::kSecond).item<double>(), 4);
  EXPECT_EQ(f(x1(), kPlainOne).item<double>(), 6);
  EXPECT_EQ(f(x1(), 1).item<double>(), 1);
  EXPECT_EQ(f(x1(), Mode::kEval).item<double>(), 2);  // cached
  EXPECT_EQ(f.captures(), 5);
}

TEST(FunctionCacheTest, IntegersKeyOnEveryDigit) {
  auto f = function([](const Tensor& x, int64_t s) { return x * static_cast<double>(s % 1000); });
  EXPECT_EQ(f(x1(), int64_t{1234567890123}).item<double>(), 123);
  EXPECT_EQ(f(x1(), int64_t{1234567890124}).item<double>(), 124);
  EXPECT_EQ(f(x1(), int64_t{-1234567890124}).item<double>(), -124);
  EXPECT_EQ(f.captures(), 3);
}

// Graphs are dropped least recently used first: a graph used since the
// others were captured survives.
TEST(FunctionCacheTest, TheLeastRecentlyUsedGraphIsDroppedFirst) {
  auto f = function([](const Tensor& x, int s) { return x * static_cast<double>(s); },
                    FunctionOptions().max_cached_graphs(2));
  EXPECT_EQ(f(x1(), 1).item<double>(), 1);  // capture 1
  EXPECT_EQ(f(x1(), 2).item<double>(), 2);  // capture 2
  EXPECT_EQ(f(x1(), 1).item<double>(), 1);  // hit: 1 is now the most recent
  EXPECT_EQ(f.captures(), 2);
  EXPECT_EQ(f(x1(), 3).item<double>(), 3);  // capture 3 drops 2, not 1
  EXPECT_EQ(f.captures(), 3);
  EXPECT_EQ(f(x1(), 1).item<double>(), 1);  // still cached
  EXPECT_EQ(f(x1(), 3).item<double>(), 3);  // still cached
  EXPECT_EQ(f.captures(), 3);
  EXPECT_EQ(f(x1(), 2).item<double>(), 2);  // dropped: captured again, drops 1
  EXPECT_EQ(f.captures(), 4);
  EXPECT_EQ(f(x1(), 3).item<double>(), 3);
  EXPECT_EQ(f.captures(), 4);
  EXPECT_EQ(f(x1(), 1).item<double>(), 1);
  EXPECT_EQ(f.captures(), 5);
  std::string explain = f.explain();
  EXPECT_NE(explain.find("5 captures, 2 cached graphs"), std::string::npos) << explain;
}

// A function limited to one graph still answers every call correctly.
TEST(FunctionCacheTest, ACacheOfOneGraphRecapturesEachChange) {
  auto f = function([](const Tensor& x, int s) { return x * static_cast<double>(s); },
                    FunctionOptions().max_cached_graphs(1));
  for (int s : {1, 2, 1, 1, 2}) EXPECT_EQ(f(x1(), s).item<double>(), s);
  EXPECT_EQ(f.captures(), 4);
  EXPECT_NE(f.explain().find("1 cached graphs"), std::string::npos) << f.explain();
}

TEST(FunctionCacheTest, ACacheWithRoomForNoGraphIsAClearError) {
  auto make = [] { return function([](const Tensor& x) { return x; }, FunctionOptions().name("f").max_cached_graphs(0)); };
  std::string what = test_util::error_text<ValueError>(make);
  GRAFT_EXPECT_CONTAINS(what, "function 'f': max_cached_graphs must be at least 1, got 0");
}

// recapture_warning(0) and (-1) warned on the first recapture, as 1 does.
TEST(FunctionCacheTest, ARecaptureWarningBelowOneCallIsAClearError) {
  for (int n : {0, -1}) {
    auto make = [n] { return function([](const Tensor& x) { return x; }, FunctionOptions().name("f").recapture_warning(n)); };
    std::string what = test_util::error_text<ValueError>(make);
    GRAFT_EXPECT_CONTAINS(what, "function 'f': recapture_warning must be at least 1");
  }
}

}  // namespace
}  // namespace graft
