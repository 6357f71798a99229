// libFuzzer harness for the safetensors reader (scripts/fuzz.sh builds and
// runs it). Any input must be either a valid file or a graft::IoError: any
// other exception, a crash, a sanitizer report, a hang or an allocation above
// libFuzzer's -rss_limit_mb is a finding. A finding becomes a corpus file
// (tests/io/corpus/crash-*) that the test suite reads on every run.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "graft/io/restore.h"
#include "graft/io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  try {
    graft::io::SafetensorsFile file = graft::io::parse_safetensors(bytes, "fuzz-input");
    for (const graft::io::TensorEntry& entry : file.entries()) {
      try {
        graft::Tensor t = file.load(entry.key);
        if (t.numel() != entry.numel()) __builtin_trap();
      } catch (const graft::IoError&) {
        // An unloadable dtype or a rank graft cannot hold: reported, not a bug.
      }
    }
    (void)graft::io::inspect_safetensors(file);
    (void)graft::io::diff_safetensors(file, file).to_string();
  } catch (const graft::IoError&) {
  }
  return 0;
}
