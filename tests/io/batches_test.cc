#include "graft/io/batches.h"

#include <algorithm>
#include <memory>
#include <numeric>

#include <gtest/gtest.h>

namespace graft::io {
namespace {

// n examples: inputs row i = (i, -i) as float, label i, so a batch's labels
// say which examples it holds.
struct Toy {
  explicit Toy(int64_t n) {
    std::vector<float> x;
    std::vector<int64_t> y;
    for (int64_t i = 0; i < n; ++i) {
      x.push_back(static_cast<float>(i));
      x.push_back(-static_cast<float>(i));
      y.push_back(i);
    }
    inputs = Tensor::from_vector(x, {n, 2});
    labels = Tensor::from_vector(y);
  }
  Tensor inputs;
  Tensor labels;
};

std::vector<int64_t> take(BatchIterator& it, int batches) {
  std::vector<int64_t> seen;
  for (int b = 0; b < batches; ++b) {
    Batch batch = it.next();
    std::vector<int64_t> labels = batch.labels.to_vector<int64_t>();
    std::vector<float> inputs = batch.inputs.to_vector<float>();
    for (size_t i = 0; i < labels.size(); ++i) {
      EXPECT_EQ(inputs[2 * i], static_cast<float>(labels[i]));  // rows travel together
      EXPECT_EQ(inputs[2 * i + 1], -static_cast<float>(labels[i]));
    }
    seen.insert(seen.end(), labels.begin(), labels.end());
  }
  return seen;
}

TEST(BatchIteratorTest, EachEpochVisitsEveryExampleOnceInAShuffledOrder) {
  Toy toy(10);
  BatchIterator it(toy.inputs, toy.labels, BatchOptions(4).seed(3));
  EXPECT_EQ(it.batches_per_epoch(), 3);
  Batch first = it.next();
  EXPECT_EQ(first.inputs.shape(), (Shape{4, 2}));
  EXPECT_EQ(first.position, (BatchPosition{0, 0}));
  std::vector<int64_t> epoch0 = first.labels.to_vector<int64_t>();
  std::vector<int64_t> rest = take(it, 2);
  epoch0.insert(epoch0.end(), rest.begin(), rest.end());
  EXPECT_EQ(epoch0, it.epoch_order(0));
  std::vector<int64_t> epoch1 = take(it, 3);
  EXPECT_EQ(epoch1, it.epoch_order(1));
  std::vector<int64_t> sorted0 = epoch0;
  std::sort(sorted0.begin(), sorted0.end());
  std::vector<int64_t> identity(10);
  std::iota(identity.begin(), identity.end(), 0);
  EXPECT_EQ(sorted0, identity);
  EXPECT_NE(epoch0, identity);
  EXPECT_NE(epoch0, epoch1);
}

TEST(BatchIteratorTest, SameSeedSameOrderOtherSeedOtherOrder) {
  Toy toy(50);
  BatchIterator a(toy.inputs, toy.labels, BatchOptions(8).seed(11));
  BatchIterator b(toy.inputs, toy.labels, BatchOptions(8).seed(11).prefetch(false));
  BatchIterator c(toy.inputs, toy.labels, BatchOptions(8).seed(12));
  std::vector<int64_t> seq_a = take(a, 20);
  EXPECT_EQ(seq_a, take(b, 20));
  EXPECT_NE(seq_a, take(c, 20));
}

TEST(BatchIteratorTest, LastPartialBatchIsKeptOrDropped) {
  Toy toy(10);
  BatchIterator keep(toy.inputs, toy.labels, BatchOptions(4).shuffle(false));
  EXPECT_EQ(keep.batches_per_epoch(), 3);
  take(keep, 2);
  Batch last = keep.next();
  EXPECT_EQ(last.labels.to_vector<int64_t>(), (std::vector<int64_t>{8, 9}));
  EXPECT_EQ(keep.position(), (BatchPosition{1, 0}));

  BatchIterator drop(toy.inputs, toy.labels, BatchOptions(4).shuffle(false).drop_last(true));
  EXPECT_EQ(drop.batches_per_epoch(), 2);
  take(drop, 2);
  Batch wrapped = drop.next();
  EXPECT_EQ(wrapped.position, (BatchPosition{1, 0}));
  EXPECT_EQ(wrapped.labels.to_vector<int64_t>(), (std::vector<int64_t>{0, 1, 2, 3}));
}

TEST(BatchIteratorTest, ResumingFromASavedPositionSeesTheSameData) {
  Toy toy(23);
  BatchIterator run(toy.inputs, toy.labels, BatchOptions(5).seed(99));
  take(run, 7);  // into the second epoch
  BatchPosition saved = run.position();
  EXPECT_EQ(saved, (BatchPosition{1, 2}));
  std::vector<int64_t> expected = take(run, 9);

  BatchIterator resumed(toy.inputs, toy.labels, BatchOptions(5).seed(99));
  take(resumed, 1);  // a prefetched batch in flight must not leak through
  resumed.seek(saved);
  EXPECT_EQ(resumed.position(), saved);
  EXPECT_EQ(take(resumed, 9), expected);
}

TEST(BatchIteratorTest, BadArgumentsAreValueErrors) {
  Toy toy(3);
  EXPECT_THROW(BatchIterator(toy.inputs, toy.labels, BatchOptions(0)), ValueError);
  EXPECT_THROW(BatchIterator(toy.inputs, toy.labels, BatchOptions(4).drop_last(true)), ValueError);
  EXPECT_THROW(BatchIterator(toy.inputs, Tensor::from_vector<int64_t>({1, 2}), BatchOptions(1)), ValueError);
  BatchIterator it(toy.inputs, toy.labels, BatchOptions(2));
  EXPECT_THROW(it.seek({0, 2}), ValueError);
  EXPECT_THROW(it.seek({-1, 0}), ValueError);
}

}  // namespace
}  // namespace graft::io

namespace graft::io {
namespace {

// Shards of 3 ranks over 2 epochs of 23 examples in global batches of 6
// (last batch 5 rows: 1, 2, 2): disjoint, covering, each global batch split
// exactly as one process sees it.
TEST(BatchIteratorTest, ShardsAreDisjointCoverEachEpochAndSplitTheGlobalBatch) {
  Toy toy(23);
  const int ranks = 3;
  BatchIterator whole(toy.inputs, toy.labels, BatchOptions(6).seed(5).prefetch(false));
  std::vector<std::unique_ptr<BatchIterator>> shards;
  for (int r = 0; r < ranks; ++r) {
    shards.push_back(std::make_unique<BatchIterator>(toy.inputs, toy.labels, BatchOptions(6).seed(5).shard(r, ranks)));
    EXPECT_EQ(shards.back()->batches_per_epoch(), whole.batches_per_epoch());
  }
  for (int epoch = 0; epoch < 2; ++epoch) {
    std::vector<int64_t> epoch_seen;
    for (int64_t b = 0; b < whole.batches_per_epoch(); ++b) {
      std::vector<int64_t> expected = whole.next().labels.to_vector<int64_t>();
      std::vector<int64_t> joined;
      for (int r = 0; r < ranks; ++r) {
        Batch part = shards[static_cast<size_t>(r)]->next();
        EXPECT_GE(part.labels.dim(0), 1);
        EXPECT_EQ(part.position, (BatchPosition{epoch, b}));
        std::vector<int64_t> labels = part.labels.to_vector<int64_t>();
        joined.insert(joined.end(), labels.begin(), labels.end());
      }
      EXPECT_EQ(joined, expected) << "epoch " << epoch << " batch " << b;
      epoch_seen.insert(epoch_seen.end(), joined.begin(), joined.end());
    }
    std::sort(epoch_seen.begin(), epoch_seen.end());
    std::vector<int64_t> all(23);
    std::iota(all.begin(), all.end(), int64_t{0});
    EXPECT_EQ(epoch_seen, all) << "epoch " << epoch << " is not covered exactly once";
  }
}

TEST(BatchIteratorTest, AShardWithoutRowsIsAValueError) {
  Toy toy(13);  // batches of 6: the last holds 1 row, too few for 2 shards
  try {
    BatchIterator it(toy.inputs, toy.labels, BatchOptions(6).shard(1, 2));
    ADD_FAILURE() << "expected a ValueError";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("cannot give each of 2 shards a row"), std::string::npos) << e.what();
  }
  EXPECT_THROW(BatchIterator(toy.inputs, toy.labels, BatchOptions(6).shard(2, 2)), ValueError);
  EXPECT_NO_THROW(BatchIterator(toy.inputs, toy.labels, BatchOptions(6).drop_last(true).shard(1, 2)));
}

}  // namespace
}  // namespace graft::io
