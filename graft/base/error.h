// graft/base/error.h: the exception family every graft error belongs to.
//
// A library never aborts on a user's mistake: it throws one of these. The
// message says what was expected, what was found and, where it helps, ends
// with a "help:" line. Errors gather context as they travel up:
//
//   try {
//     restore(model, path);
//   } catch (graft::Error& e) {
//     e.add_context("while restoring " + path);
//     throw;
//   }
//
// Only the CLI catches everything; it prints what() and exits non-zero.
#pragma once

#include <exception>
#include <string>

namespace graft {

// The base of every error graft throws; catch it to catch them all.
class Error : public std::exception {
 public:
  // An error of kind "graft::Error" with `message`.
  explicit Error(std::string message) : Error("graft::Error", std::move(message)) {}

  // The full text: "<kind>: <message>" followed by one "  while ..." line per
  // context added.
  const char* what() const noexcept override { return text_.c_str(); }

  // The message alone, without the kind prefix or context.
  const std::string& message() const noexcept { return message_; }
  // "graft::ShapeError" and so on: the class's qualified name.
  const char* kind() const noexcept { return kind_; }

  // Appends a line of context ("while restoring run3.safetensors").
  Error& add_context(const std::string& context);

 protected:
  // For subclasses: `kind` names the class and must outlive the error (a
  // string literal).
  Error(const char* kind, std::string message);

 private:
  const char* kind_;
  std::string message_;
  std::string text_;
};

// Defines one subclass of Error (undefined again below).
#define GRAFT_DEFINE_ERROR(Name)                                              \
  class Name : public Error {                                                 \
   public:                                                                    \
    explicit Name(std::string message) : Error("graft::" #Name, std::move(message)) {} \
  }

// Wrong shape or rank, an incompatible broadcast, a bad axis.
GRAFT_DEFINE_ERROR(ShapeError);
// Wrong or mixed dtypes.
GRAFT_DEFINE_ERROR(DTypeError);
// A variable, key, file or op that does not exist.
GRAFT_DEFINE_ERROR(NotFoundError);
// A bad argument or a call in the wrong state.
GRAFT_DEFINE_ERROR(ValueError);
// Reading or writing a file failed, or a file is malformed.
GRAFT_DEFINE_ERROR(IoError);
// A bug in graft itself; please report it.
GRAFT_DEFINE_ERROR(InternalError);

#undef GRAFT_DEFINE_ERROR

}  // namespace graft
