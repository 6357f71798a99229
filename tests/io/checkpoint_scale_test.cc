// Checkpoints with very many tensors: the per-store table of inspect and the
// deferred-restore table are indexed, not searched linearly per key (200k
// tensors with distinct first path components took over 20 s; 1M would take
// hours). No time is asserted: the suite simply must not take minutes.
#include <cstring>
#include <string>

#include <gtest/gtest.h>

#include "graft/io/checkpoint.h"

namespace graft::io {
namespace {

// A file of `n` empty float32 tensors named name(i), built in memory.
template <typename Name>
SafetensorsFile many_empty_tensors(int n, Name name) {
  std::string header = "{";
  for (int i = 0; i < n; ++i) {
    if (i > 0) header += ',';
    header += "\"" + name(i) + "\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}";
  }
  header += '}';
  std::string bytes(8, '\0');
  const uint64_t length = header.size();
  std::memcpy(bytes.data(), &length, 8);
  return parse_safetensors(bytes + header, "many.safetensors");
}

TEST(CheckpointScaleTest, InspectListsAMillionStoresInOnePass) {
  const int n = 1'000'000;
  SafetensorsFile file = many_empty_tensors(n, [](int i) { return "s" + std::to_string(i); });
  ASSERT_EQ(file.entries().size(), static_cast<size_t>(n));
  std::string listing = inspect_checkpoint(file);
  EXPECT_NE(listing.find("1000000 tensors"), std::string::npos);
  const size_t table = listing.find("parameters by store (first path component):\n");
  ASSERT_NE(table, std::string::npos);
  // In order of first appearance, each store once.
  EXPECT_NE(listing.find("  s0: 0 in 1 tensors\n  s1: 0 in 1 tensors\n", table), std::string::npos);
  EXPECT_NE(listing.find("  s999999: 0 in 1 tensors\n", table), std::string::npos);
}

TEST(CheckpointScaleTest, InspectCountsTensorsOfOneStoreTogether) {
  SafetensorsFile file = many_empty_tensors(6, [](int i) { return (i % 2 ? "b/" : "a/") + std::to_string(i); });
  std::string listing = inspect_checkpoint(file);
  EXPECT_NE(listing.find("  a: 0 in 3 tensors\n  b: 0 in 3 tensors\n"), std::string::npos) << listing;
}

TEST(CheckpointScaleTest, ManyDeferredKeysAreFiledAndFoundByPath) {
  const int n = 200'000;
  SafetensorsFile file = many_empty_tensors(n, [](int i) { return "m/v" + std::to_string(i); });
  VariableStore store("m");
  CheckpointReport report = restore_checkpoint(file, {&store});
  ASSERT_EQ(report.deferred.size(), static_cast<size_t>(n));
  // A second restore of the same keys replaces them, it does not add more.
  restore_checkpoint(file, {&store});
  EXPECT_EQ(pending_restores(store).size(), static_cast<size_t>(n));
  store.root().variable("v7", {0});
  store.root().variable("v199999", {0});
  std::vector<std::string> left = pending_restores(store);
  EXPECT_EQ(left.size(), static_cast<size_t>(n - 2));
  EXPECT_EQ(left.front(), "m/v0");
  EXPECT_EQ(left.back(), "m/v199998");
  EXPECT_EQ(deferred_report(store).count(RestoreStatus::kMatched), 2u);
  cancel_pending_restores(store);
}

}  // namespace
}  // namespace graft::io
