// Python creation sites as std::source_location.
//
// graft records where each variable and module was created as a
// std::source_location (the audit keys re-creation on it; errors print it).
// The standard gives that type no constructor from run-time values: only
// current(), which names the C++ line. libstdc++'s source_location is one
// pointer to a constant {file, function, line, column} record; this file
// makes such records for Python lines, interns them for the life of the
// process (one per distinct file:line:function, so the count is bounded by
// the program's source) and builds the source_location from the pointer.
// check_location_support() verifies the layout at import through the public
// accessors, so a standard library that lays it out otherwise fails loudly
// at `import graft` instead of reporting wrong sites.
#include <Python.h>
#include <frameobject.h>

#include <bit>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <tuple>

#include "bindings.h"

namespace graft::python {
namespace {

// libstdc++'s std::source_location::__impl, field for field.
struct LocationRecord {
  const char* file_name;
  const char* function_name;
  unsigned line;
  unsigned column;
};

static_assert(sizeof(std::source_location) == sizeof(const LocationRecord*),
              "graft's Python module expects libstdc++'s one-pointer source_location");

// An interned record and the strings it points into.
struct Site {
  std::string file;
  std::string function;
  LocationRecord record{};
};

std::mutex g_mutex;
std::map<std::tuple<std::string, std::string, unsigned>, std::unique_ptr<Site>> g_sites;
std::string g_internal_dir;
bool g_supported = false;

std::source_location make_location(const std::string& file, const std::string& function, unsigned line) {
  std::lock_guard lock(g_mutex);
  auto& site = g_sites[{file, function, line}];
  if (!site) {
    site = std::make_unique<Site>();
    site->file = file;
    site->function = function;
    site->record = {site->file.c_str(), site->function.c_str(), line, 0};
  }
  return std::bit_cast<std::source_location>(&site->record);
}

std::string utf8(PyObject* s) {
  const char* text = s != nullptr ? PyUnicode_AsUTF8(s) : nullptr;
  if (text == nullptr) {
    PyErr_Clear();
    return "<unknown>";
  }
  return text;
}

}  // namespace

void set_internal_dir(std::string dir) {
  std::lock_guard lock(g_mutex);
  g_internal_dir = std::move(dir);
  if (!g_internal_dir.empty() && g_internal_dir.back() != '/') g_internal_dir += '/';
}

void check_location_support() {
  std::source_location probe = make_location("probe.py", "probe", 42);
  if (std::strcmp(probe.file_name(), "probe.py") != 0 || probe.line() != 42 ||
      std::strcmp(probe.function_name(), "probe") != 0) {
    throw py::import_error(
        "graft: this C++ standard library lays out std::source_location differently from libstdc++, so the "
        "module cannot report Python creation sites\n  help: build the module with GCC's libstdc++ (Debian's g++)");
  }
  g_supported = true;
}

std::source_location caller_location(std::source_location fallback) {
  if (!g_supported || !PyGILState_Check()) return fallback;
  std::string internal;
  {
    std::lock_guard lock(g_mutex);
    internal = g_internal_dir;
  }
  PyFrameObject* frame = PyEval_GetFrame();  // borrowed
  Py_XINCREF(frame);
  while (frame != nullptr) {
    PyCodeObject* code = PyFrame_GetCode(frame);  // new reference
    std::string file = utf8(code->co_filename);
    bool skip = !internal.empty() && file.compare(0, internal.size(), internal) == 0;
    if (!skip) {
      std::string function = utf8(code->co_name);
      unsigned line = static_cast<unsigned>(PyFrame_GetLineNumber(frame));
      Py_DECREF(code);
      Py_DECREF(frame);
      return make_location(file, function, line);
    }
    Py_DECREF(code);
    PyFrameObject* back = PyFrame_GetBack(frame);  // new reference
    Py_DECREF(frame);
    frame = back;
  }
  return fallback;
}

}  // namespace graft::python
