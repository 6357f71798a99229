#include "graft/dist/structure.h"

#include <algorithm>
#include <cstdio>
#include <set>
#include <sstream>

#include "graft/base/check.h"

namespace graft::dist {
namespace {

// Ranks named one by one in a mismatch message; the rest are counted.
constexpr size_t kRanksShown = 8;

std::string hex(uint64_t h) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

// One line per entry; paths hold neither tabs nor newlines.
std::string serialize(const std::vector<StructureEntry>& structure) {
  std::string out;
  for (const StructureEntry& e : structure) out += e.path + '\t' + e.description + '\n';
  return out;
}

std::vector<StructureEntry> parse(const std::string& text) {
  std::vector<StructureEntry> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    const size_t tab = line.find('\t');
    out.push_back({line.substr(0, tab), tab == std::string::npos ? "" : line.substr(tab + 1)});
  }
  return out;
}

std::string entry_text(const Variable& v) {
  return v.shape().to_string() + " " + std::string(dtype_name(v.dtype())) + (v.trainable() ? " trainable" : " frozen");
}

// What `structure` (sorted) has at `path`, or `missing`.
std::string at_path(const std::vector<StructureEntry>& structure, const std::string& path, const std::string& missing) {
  auto it = std::lower_bound(structure.begin(), structure.end(), path,
                             [](const StructureEntry& e, const std::string& p) { return e.path < p; });
  return it != structure.end() && it->path == path ? it->description : missing;
}

}  // namespace

std::vector<StructureEntry> structure_of_variables(const std::vector<Variable>& variables) {
  std::vector<StructureEntry> out;
  out.reserve(variables.size());
  for (const Variable& v : variables) out.push_back({v.path(), entry_text(v)});
  std::sort(out.begin(), out.end(), [](const StructureEntry& a, const StructureEntry& b) { return a.path < b.path; });
  return out;
}

std::vector<StructureEntry> structure_of(const std::vector<const VariableStore*>& stores) {
  std::vector<Variable> all;
  for (const VariableStore* store : stores) {
    std::vector<Variable> vars = store->variables();
    all.insert(all.end(), vars.begin(), vars.end());
  }
  return structure_of_variables(all);
}

uint64_t structure_hash(const std::vector<StructureEntry>& structure) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : serialize(structure)) h = (h ^ c) * 0x100000001b3ULL;
  return h;
}

std::string describe_mismatch(const std::vector<std::vector<StructureEntry>>& per_rank, std::string_view when,
                              const MismatchWording& wording) {
  GRAFT_INTERNAL_ASSERT(!per_rank.empty());
  // The first path, in sorted order, that some rank holds differently from rank 0.
  std::set<std::string> paths;
  for (const auto& structure : per_rank) {
    for (const StructureEntry& e : structure) paths.insert(e.path);
  }
  for (const std::string& path : paths) {
    std::vector<std::string> held;
    for (const auto& structure : per_rank) held.push_back(at_path(structure, path, wording.missing));
    if (std::all_of(held.begin(), held.end(), [&](const std::string& h) { return h == held[0]; })) continue;
    std::ostringstream out;
    out << "dist: the ranks " << wording.differ << " " << when << " (" << wording.hash_label;
    for (size_t r = 0; r < per_rank.size() && r < kRanksShown; ++r) {
      out << (r == 0 ? " " : ", ") << hex(structure_hash(per_rank[r])) << " on rank " << r;
    }
    out << "): first difference at '" << path << "'";
    for (size_t r = 0; r < held.size() && r < kRanksShown; ++r) out << "\n  rank " << r << ": " << held[r];
    if (held.size() > kRanksShown) out << "\n  (" << held.size() - kRanksShown << " more ranks)";
    out << "\n  help: " << wording.help;
    return out.str();
  }
  return "";
}

void check_structure(const Comm& comm, const std::vector<StructureEntry>& structure, std::string_view when,
                     const MismatchWording& wording) {
  const std::vector<uint64_t> hashes = comm.allgather(structure_hash(structure));
  if (std::all_of(hashes.begin(), hashes.end(), [&](uint64_t h) { return h == hashes[0]; })) return;
  // Every rank gathers every list and builds the same message from it.
  std::vector<std::vector<StructureEntry>> per_rank;
  for (const std::string& text : comm.allgather(serialize(structure))) per_rank.push_back(parse(text));
  std::string message = describe_mismatch(per_rank, when, wording);
  GRAFT_INTERNAL_ASSERT(!message.empty(), "structure hashes differ but the lists are equal");
  throw StructureError(message);
}

void check_structure(const Comm& comm, const std::vector<const VariableStore*>& stores, std::string_view when) {
  check_structure(comm, structure_of(stores), when);
}

}  // namespace graft::dist
