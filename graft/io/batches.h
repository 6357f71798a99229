// graft/io/batches.h: mini-batches over an in-memory data set, shuffled per
// epoch from a seed, prepared one batch ahead on a background thread, with a
// position that can be saved and restored.
//
//   Dataset train = load_fashion_mnist(Split::kTrain);
//   BatchIterator batches(train.images, train.labels, BatchOptions(64).seed(7));
//   for (int step = 0; step < 1000; ++step) {
//     Batch b = batches.next();            // b.inputs [64, 784], b.labels [64]
//     ...
//   }
//   BatchPosition saved = batches.position();   // store it with the checkpoint
//   // Later, in a resumed run: the same order from the same place.
//   BatchIterator resumed(train.images, train.labels, BatchOptions(64).seed(7));
//   resumed.seek(saved);
//
// Epoch e visits every example once, in an order that depends only on (seed,
// e) (graft/tensor/random.h), so runs and resumed runs agree on every machine.
// The last batch of an epoch holds the N % batch_size remaining examples, or is
// dropped with drop_last(true). Batches are fresh tensors (row copies); the
// source tensors are only read, and must not be written while the iterator
// lives. Images held as bytes (ImageBytes, as load_fashion_mnist returns
// them) are converted to float32 one batch at a time, on the prefetch thread.
// One thread may use an iterator at a time.
//
// Data-parallel training (graft/dist) shards each batch: with shard(r, n),
// batch_size is the global batch and the iterator yields rank r's rows of it,
// [floor(c * r / n), floor(c * (r + 1) / n)) of its c rows. The n shards of an
// epoch are disjoint and together cover it; every rank runs the same number of
// steps; batch i of n ranks is exactly batch i of one process, so positions
// (and checkpoints) carry over to another number of ranks.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "graft/io/image_bytes.h"
#include "graft/tensor/tensor.h"

namespace graft::io {

// How a BatchIterator cuts and orders batches.
class BatchOptions {
 public:
  // Batches of `batch_size` examples (>= 1, checked by the iterator).
  explicit BatchOptions(int64_t batch_size) : batch_size_(batch_size) {}
  // Visit the examples in a new seeded order every epoch (on by default).
  BatchOptions& shuffle(bool on) { shuffle_ = on; return *this; }
  // The shuffle's seed: epoch e's order depends only on (seed, e).
  BatchOptions& seed(uint64_t s) { seed_ = s; return *this; }
  // Leave out the last batch of an epoch when it is short (off by default).
  BatchOptions& drop_last(bool on) { drop_last_ = on; return *this; }
  // Prepare the next batch on a background thread while the caller works.
  BatchOptions& prefetch(bool on) { prefetch_ = on; return *this; }
  // Yield only shard `index` of `count` of every batch (header comment).
  BatchOptions& shard(int index, int count) { shard_index_ = index; shard_count_ = count; return *this; }

  // The values set above, or their defaults.
  int64_t batch_size() const { return batch_size_; }
  bool shuffle() const { return shuffle_; }
  uint64_t seed() const { return seed_; }
  bool drop_last() const { return drop_last_; }
  bool prefetch() const { return prefetch_; }
  int shard_index() const { return shard_index_; }
  int shard_count() const { return shard_count_; }

 private:
  int64_t batch_size_;
  bool shuffle_ = true;
  uint64_t seed_ = 0;
  bool drop_last_ = false;
  bool prefetch_ = true;
  int shard_index_ = 0;
  int shard_count_ = 1;
};

// Where an iterator stands: the next batch next() returns is batch `batch`
// of epoch `epoch`.
struct BatchPosition {
  int64_t epoch = 0;  // the epoch, from 0
  int64_t batch = 0;  // the batch within the epoch, from 0
  friend bool operator==(const BatchPosition&, const BatchPosition&) = default;
};

// One batch from a BatchIterator.
struct Batch {
  Tensor inputs;  // [b, ...] rows of the inputs
  Tensor labels;  // [b, ...] rows of the labels
  BatchPosition position;  // which batch this is
};

// Cuts inputs and labels into batches, epoch after epoch, reproducibly
// (header comment).
class BatchIterator {
 public:
  // `inputs` and `labels` share their first dimension N (the examples).
  // Throws ValueError for a batch size below 1, mismatched first dimensions,
  // a data set with no batch (N == 0, or N < batch size with drop_last), or
  // a shard that would get no rows of some batch.
  BatchIterator(Tensor inputs, Tensor labels, BatchOptions options);
  // The same over images kept as bytes: batches hold float32 rows.
  BatchIterator(ImageBytes inputs, Tensor labels, BatchOptions options);
  ~BatchIterator();
  BatchIterator(const BatchIterator&) = delete;
  BatchIterator& operator=(const BatchIterator&) = delete;

  // The batch at position(), then moves on (to the next epoch after the last
  // batch of one).
  Batch next();
  BatchPosition position() const;
  // Continues from `p`; throws ValueError when p.epoch < 0 or p.batch is not
  // in [0, batches_per_epoch()).
  void seek(BatchPosition p);

  // Batches in one epoch, and examples in the data set.
  int64_t batches_per_epoch() const { return batches_per_epoch_; }
  int64_t size() const { return size_; }
  // The order in which epoch `epoch` visits the examples.
  std::vector<int64_t> epoch_order(int64_t epoch) const;

 private:
  // Checks the data set and the options, and starts the prefetch thread.
  void start();
  Batch build(BatchPosition p);
  BatchPosition advance(BatchPosition p) const;
  void worker_loop();

  Tensor inputs_;          // unless the inputs are
  ImageBytes image_inputs_;  // bytes
  Tensor labels_;
  BatchOptions options_;
  int64_t size_ = 0;
  int64_t batches_per_epoch_ = 0;

  // Only the thread that builds batches touches the order cache.
  int64_t cached_epoch_ = -1;
  std::vector<int64_t> cached_order_;

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  BatchPosition position_;
  std::optional<BatchPosition> request_;  // for the worker to build
  std::optional<Batch> ready_;            // built for position_
  std::exception_ptr error_;              // the worker's failure, for next()
  uint64_t generation_ = 0;               // moves on every seek
  bool stop_ = false;
  std::thread worker_;
};

}  // namespace graft::io
