#include "graft/io/batches.h"

#include <algorithm>
#include <cstring>
#include <numeric>

#include "graft/tensor/random.h"

namespace graft::io {
namespace {

// Rows `order[start, start + count)` of `source`, as a new tensor.
Tensor gather_rows(const Tensor& source, const std::vector<int64_t>& order, int64_t start, int64_t count) {
  Shape shape = source.shape();
  const size_t row_bytes = source.nbytes() / static_cast<size_t>(shape[0]);
  shape.set_dim(0, count);
  Tensor out = Tensor::empty(shape, source.dtype());
  const char* src = static_cast<const char*>(source.raw_data());
  char* dst = static_cast<char*>(out.raw_data());
  for (int64_t i = 0; i < count; ++i) {
    std::memcpy(dst + static_cast<size_t>(i) * row_bytes,
                src + static_cast<size_t>(order[static_cast<size_t>(start + i)]) * row_bytes, row_bytes);
  }
  return out;
}

}  // namespace

BatchIterator::BatchIterator(Tensor inputs, Tensor labels, BatchOptions options)
    : inputs_(std::move(inputs)), labels_(std::move(labels)), options_(options) {
  GRAFT_CHECK(inputs_.defined() && labels_.defined(), "BatchIterator: inputs and labels must be defined tensors");
  GRAFT_CHECK(!inputs_.is_symbolic() && !labels_.is_symbolic(), "BatchIterator: inputs and labels need values");
  GRAFT_CHECK(inputs_.rank() >= 1, "BatchIterator: inputs must have an examples axis, got a scalar");
  size_ = inputs_.dim(0);
  start();
}

BatchIterator::BatchIterator(ImageBytes inputs, Tensor labels, BatchOptions options)
    : image_inputs_(std::move(inputs)), labels_(std::move(labels)), options_(options) {
  GRAFT_CHECK(image_inputs_.defined() && labels_.defined(), "BatchIterator: inputs and labels must be defined");
  GRAFT_CHECK(!labels_.is_symbolic(), "BatchIterator: labels need values");
  size_ = image_inputs_.size();
  start();
}

void BatchIterator::start() {
  GRAFT_CHECK(options_.batch_size() >= 1, "BatchIterator: batch size must be at least 1, got ", options_.batch_size());
  const Shape inputs_shape = image_inputs_.defined() ? image_inputs_.shape() : inputs_.shape();
  GRAFT_CHECK(labels_.rank() >= 1 && labels_.dim(0) == size_, "BatchIterator: inputs ", inputs_shape.to_string(),
              " and labels ", labels_.shape().to_string(), " must share their first dimension (the examples)");
  batches_per_epoch_ = options_.drop_last() ? size_ / options_.batch_size()
                                           : (size_ + options_.batch_size() - 1) / options_.batch_size();
  GRAFT_CHECK(batches_per_epoch_ > 0, "BatchIterator: ", size_, " examples make no batch of ", options_.batch_size(),
              options_.drop_last() ? " with drop_last" : "");
  const int shards = options_.shard_count();
  GRAFT_CHECK(shards >= 1 && options_.shard_index() >= 0 && options_.shard_index() < shards,
              "BatchIterator: shard ", options_.shard_index(), " of ", shards, " does not exist (expected 0 <= index < ",
              "count)");
  const int64_t last_rows = size_ - (batches_per_epoch_ - 1) * options_.batch_size();
  GRAFT_CHECK(std::min(options_.batch_size(), last_rows) >= shards, "BatchIterator: a batch of ",
              std::min(options_.batch_size(), last_rows), " examples (batch size ", options_.batch_size(), ", ", size_,
              " examples) cannot give each of ", shards, " shards a row\n  help: use a batch size of at least ",
              shards, " with drop_last, or one that leaves at least ", shards, " examples in the last batch");
  if (options_.prefetch()) {
    request_ = position_;
    worker_ = std::thread([this] { worker_loop(); });
  }
}

BatchIterator::~BatchIterator() {
  if (!worker_.joinable()) return;
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  changed_.notify_all();
  worker_.join();
}

std::vector<int64_t> BatchIterator::epoch_order(int64_t epoch) const {
  std::vector<int64_t> order(static_cast<size_t>(size_));
  std::iota(order.begin(), order.end(), int64_t{0});
  if (!options_.shuffle()) return order;
  // Fisher-Yates; j = floor(u * (i + 1)) for 64 random bits u, by a 128-bit
  // product, so the draw is exact integer arithmetic on every machine.
  const uint64_t seed = derive_seed(options_.seed(), static_cast<uint64_t>(epoch));
  for (int64_t i = size_ - 1; i > 0; --i) {
    const unsigned __int128 wide =
        static_cast<unsigned __int128>(random_bits(seed, static_cast<uint64_t>(i))) * static_cast<uint64_t>(i + 1);
    std::swap(order[static_cast<size_t>(i)], order[static_cast<size_t>(wide >> 64)]);
  }
  return order;
}

BatchPosition BatchIterator::advance(BatchPosition p) const {
  return p.batch + 1 < batches_per_epoch_ ? BatchPosition{p.epoch, p.batch + 1} : BatchPosition{p.epoch + 1, 0};
}

Batch BatchIterator::build(BatchPosition p) {
  if (cached_epoch_ != p.epoch) {
    cached_order_ = epoch_order(p.epoch);
    cached_epoch_ = p.epoch;
  }
  const int64_t global_start = p.batch * options_.batch_size();
  const int64_t rows = std::min(options_.batch_size(), size_ - global_start);
  // This shard's rows of the global batch (all of it unsharded).
  const int64_t start = global_start + rows * options_.shard_index() / options_.shard_count();
  const int64_t count = global_start + rows * (options_.shard_index() + 1) / options_.shard_count() - start;
  Tensor inputs = image_inputs_.defined()
                      ? image_inputs_.gather(std::span<const int64_t>(cached_order_).subspan(
                            static_cast<size_t>(start), static_cast<size_t>(count)))
                      : gather_rows(inputs_, cached_order_, start, count);
  return Batch{inputs, gather_rows(labels_, cached_order_, start, count), p};
}

void BatchIterator::worker_loop() {
  std::unique_lock lock(mutex_);
  while (true) {
    changed_.wait(lock, [&] { return stop_ || request_.has_value(); });
    if (stop_) return;
    const BatchPosition p = *request_;
    const uint64_t generation = generation_;
    request_.reset();
    lock.unlock();
    std::optional<Batch> batch;
    std::exception_ptr error;
    try {
      batch = build(p);
    } catch (...) {
      error = std::current_exception();
    }
    lock.lock();
    // A seek while we built makes this batch stale: drop it.
    if (generation == generation_ && p == position_) {
      ready_ = std::move(batch);
      error_ = error;
      changed_.notify_all();
    }
  }
}

Batch BatchIterator::next() {
  if (!options_.prefetch()) {
    Batch batch = build(position_);
    std::lock_guard lock(mutex_);
    position_ = advance(position_);
    return batch;
  }
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [&] { return ready_.has_value() || error_ != nullptr; });
  if (error_ != nullptr) {
    std::exception_ptr error = error_;
    error_ = nullptr;
    request_ = position_;  // try again on the next call
    changed_.notify_all();
    std::rethrow_exception(error);
  }
  Batch batch = std::move(*ready_);
  ready_.reset();
  position_ = advance(position_);
  request_ = position_;
  changed_.notify_all();
  return batch;
}

BatchPosition BatchIterator::position() const {
  std::lock_guard lock(mutex_);
  return position_;
}

void BatchIterator::seek(BatchPosition p) {
  GRAFT_CHECK(p.epoch >= 0 && p.batch >= 0 && p.batch < batches_per_epoch_, "BatchIterator::seek: position (epoch ",
              p.epoch, ", batch ", p.batch, ") is outside epochs >= 0 and batches [0, ", batches_per_epoch_, ")");
  {
    std::lock_guard lock(mutex_);
    ++generation_;
    position_ = p;
    ready_.reset();
    error_ = nullptr;
    if (options_.prefetch()) request_ = p;
  }
  changed_.notify_all();
}

}  // namespace graft::io
