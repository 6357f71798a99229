// graft/io/printable.h: text from a file, made safe to print on a terminal.
//
//   std::cout << printable(entry.key);   // "evil\x1b[2J" prints as evil\x1b[2J
//
// Keys and metadata values in a checkpoint are whatever its writer put there:
// escape sequences that clear the screen or retitle the terminal, newlines
// that forge extra lines of a listing, bidirectional overrides that show text
// in another order than it is stored. Everything graft prints from a file
// (inspect, restore reports, error messages) goes through printable().
#pragma once

#include <string>
#include <string_view>

namespace graft::io {

// `text` with every byte or character that is not plainly visible written as
// an escape: \n \r \t, \\ for a backslash, \xHH for other C0 controls, DEL and
// bytes that are not valid UTF-8, \u{HHHH} for C1 controls, bidirectional
// controls and the Unicode line and paragraph separators. Printable ASCII and
// other valid UTF-8 pass unchanged, so ordinary keys print as they are; two
// different texts never print the same.
std::string printable(std::string_view text);

}  // namespace graft::io
