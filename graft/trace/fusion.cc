#include "graft/trace/internal/fusion.h"

#include "graft/ops/internal/elementwise_math.h"
#include "graft/ops/internal/kernels.h"
#include "graft/tensor/parallel.h"
#include "graft/tensor/simd.h"

namespace graft::trace::internal {
namespace {

constexpr int64_t kBlock = 256;

// One instruction over a block of n elements, with the op's scalar math
// from elementwise_math.h (the eager kernels run the same functors).
template <typename T>
void eval(const FusedInstruction& ins, T* d, const T* a, const T* b, const T* c, int64_t n) {
  bool known = ops::internal::visit_elementwise(ins.kind, [&](auto math) {
    constexpr int kArity = decltype(math)::kArity;
    if constexpr (kArity == 1) {
      for (int64_t j = 0; j < n; ++j) d[j] = math(a[j]);
    } else if constexpr (kArity == 2) {
      for (int64_t j = 0; j < n; ++j) d[j] = math(a[j], b[j]);
    } else {
      static_assert(kArity == 3);
      for (int64_t j = 0; j < n; ++j) d[j] = math(a[j], b[j], c[j]);
    }
  });
  GRAFT_INTERNAL_ASSERT(known, "op '", op_name(ins.kind), "' is in a fused group but has no elementwise math");
}

template <typename T>
void run_blocks(const FusedGroup& group, const T* const* in_data, T* const* out_data, int64_t first, int64_t last) {
  const int64_t n = group.meta.shape.numel();
  const size_t num_inputs = group.inputs.size();
  const size_t num_registers = static_cast<size_t>(group.registers);
  // Scratch for inputs that are not read in place (scalars, rows) and for
  // registers that are not written straight to an output buffer.
  thread_local std::vector<T> file;
  file.resize((num_inputs + num_registers) * kBlock);
  // Which output (if any) each register is written to.
  thread_local std::vector<int> output_of;
  output_of.assign(num_registers, -1);
  for (size_t o = 0; o < group.outputs.size(); ++o) output_of[static_cast<size_t>(group.outputs[o].first)] = static_cast<int>(o);
  thread_local std::vector<const T*> operand;  // by input, then by register
  thread_local std::vector<T*> dest;           // by register
  operand.resize(num_inputs + num_registers);
  dest.resize(num_registers);
  for (int64_t blk = first; blk < last; ++blk) {
    const int64_t begin = blk * kBlock;
    const int64_t len = std::min(kBlock, n - begin);
    for (size_t i = 0; i < num_inputs; ++i) {
      const FusedInput& in = group.inputs[i];
      const T* src = in_data[i];
      T* scratch = file.data() + i * kBlock;
      switch (in.mode) {
        case InputMode::kFull: operand[i] = src + begin; continue;  // read in place
        case InputMode::kScalar: std::fill(scratch, scratch + len, src[0]); break;
        case InputMode::kRow: {
          // Copy whole stretches of the row instead of a division per element.
          int64_t k = begin % in.row;
          for (int64_t j = 0; j < len;) {
            int64_t take = std::min(len - j, in.row - k);
            std::copy(src + k, src + k + take, scratch + j);
            j += take;
            k = 0;
          }
          break;
        }
      }
      operand[i] = scratch;
    }
    for (size_t r = 0; r < num_registers; ++r) {
      dest[r] = output_of[r] >= 0 ? out_data[output_of[r]] + begin : file.data() + (num_inputs + r) * kBlock;
      operand[num_inputs + r] = dest[r];
    }
    for (const FusedInstruction& ins : group.program) {
      const T* ops[3] = {nullptr, nullptr, nullptr};
      for (int k = 0; k < ins.arity; ++k) {
        const Operand& o = ins.src[k];
        ops[k] = operand[o.is_input ? static_cast<size_t>(o.index) : num_inputs + static_cast<size_t>(o.index)];
      }
      eval(ins, dest[static_cast<size_t>(ins.dst)], ops[0], ops[1], ops[2], len);
    }
  }
}

template <typename T>
void run_typed(const FusedGroup& group, std::span<const Tensor> inputs, std::span<const Tensor> outputs) {
  const int64_t n = group.meta.shape.numel();
  const int64_t blocks = (n + kBlock - 1) / kBlock;
  // Pointers on the stack for small groups: a replay allocates nothing.
  constexpr size_t kInline = 16;
  const T* in_inline[kInline];
  T* out_inline[kInline];
  std::vector<const T*> in_heap;
  std::vector<T*> out_heap;
  const T** in_data = in_inline;
  T** out_data = out_inline;
  if (inputs.size() > kInline) {
    in_heap.resize(inputs.size());
    in_data = in_heap.data();
  }
  if (outputs.size() > kInline) {
    out_heap.resize(outputs.size());
    out_data = out_heap.data();
  }
  for (size_t i = 0; i < inputs.size(); ++i) in_data[i] = inputs[i].data<T>();
  for (size_t i = 0; i < outputs.size(); ++i) out_data[i] = outputs[i].data<T>();
  const int64_t grain = std::max<int64_t>(1, kParallelGrain / kBlock);
  // The instructions' loops over a block are where a fused step spends its
  // time: run them in the AVX-512 copy where the CPU has it.
  auto blocks_of = [&](int64_t first, int64_t last) { run_blocks<T>(group, in_data, out_data, first, last); };
  if (blocks < 2 * grain) {
    run_vectorized(blocks_of, 0, blocks);
    return;
  }
  parallel_for(0, blocks, grain, [&](int64_t first, int64_t last) { run_vectorized(blocks_of, first, last); });
}

}  // namespace

bool fusable(OpKind kind) { return ops::internal::has_elementwise_math(kind); }

bool input_mode(const Shape& shape, const Shape& group, InputMode* mode, int64_t* row) {
  if (shape.numel() == group.numel() && shape.numel() > 0) {
    // Same element count and broadcastable to the group: the same layout.
    *mode = InputMode::kFull;
    return true;
  }
  if (shape.numel() == 1) {
    *mode = InputMode::kScalar;
    return true;
  }
  // A row: shape (less leading ones) equals the group's trailing dimensions.
  int lead = 0;
  while (lead < shape.rank() && shape[lead] == 1) ++lead;
  int k = shape.rank() - lead;
  if (k == 0 || k > group.rank()) return false;
  for (int i = 0; i < k; ++i) {
    if (shape[lead + i] != group[group.rank() - k + i]) return false;
  }
  *mode = InputMode::kRow;
  *row = shape.numel();
  return true;
}

void run_fused(const FusedGroup& group, std::span<const Tensor> inputs, std::span<const Tensor> outputs) {
  // Fusion planning admits floating point only.
  ops::internal::visit_floating(group.meta.dtype, "a fused loop",
                                [&]<typename T>(T) { run_typed<T>(group, inputs, outputs); });
}

}  // namespace graft::trace::internal
