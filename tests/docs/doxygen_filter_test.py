#!/usr/bin/env python3
"""Tests docs/doxygen_filter.py, the filter that shows the headers' `//` contract comments to
Doxygen (scripts/docs.sh): which comments become documentation, and that line numbers hold."""
import importlib.util
import pathlib
import sys
import unittest

ROOT = pathlib.Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("doxygen_filter", ROOT / "docs" / "doxygen_filter.py")
doxygen_filter = importlib.util.module_from_spec(spec)
spec.loader.exec_module(doxygen_filter)

HEADER = """\
// graft/ops/example.h: what the header is for.
//
//   Tensor y = add(x, x);
//
// More about it.
#pragma once

namespace graft {

// Elementwise binary.
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);  // a - b

// Section heading, then a blank line.

// One function with a body.
inline int one() {
  return 1;  // not documentation
}

// Options of something.
class Options {
 public:
  Options& on(bool on) { on_ = on; return *this; }
  int threshold = 2;  // the threshold
};

// A user error.
#define GRAFT_EXAMPLE(x) (x)

}  // namespace graft
"""


class DoxygenFilterTest(unittest.TestCase):
    def setUp(self):
        self.out = doxygen_filter.filter_header(HEADER, "/repo/graft/ops/example.h").split("\n")
        self.lines = HEADER.split("\n")

    def line(self, text):
        """The output line at the input line that contains `text`."""
        for i, line in enumerate(self.lines):
            if text in line:
                return self.out[i]
        self.fail(f"no input line holds {text!r}")

    def test_keeps_one_output_line_per_input_line(self):
        self.assertEqual(len(self.out), len(self.lines))

    def test_the_opening_comment_documents_the_file_with_its_example_as_code(self):
        self.assertEqual(self.out[0], "/// @file graft/ops/example.h what the header is for.")
        self.assertEqual(self.out[2], "/// @code   Tensor y = add(x, x);")
        self.assertTrue(self.out[3].startswith("/// @endcode"))

    def test_a_comment_above_a_run_of_declarations_documents_each_as_a_member_group(self):
        self.assertEqual(self.line("// Elementwise binary."), "/// Elementwise binary.")
        self.assertEqual(self.line("Tensor add("), "/**@{*/ Tensor add(const Tensor& a, const Tensor& b);")
        # The group closes after the run's last declaration, before its own comment.
        self.assertEqual(self.line("Tensor sub("), "Tensor sub(const Tensor& a, const Tensor& b); /**@}*/  // a - b")

    def test_a_comment_followed_by_a_blank_line_stays_a_plain_comment(self):
        self.assertEqual(self.line("// Section heading"), "// Section heading, then a blank line.")

    def test_a_function_with_a_body_is_documented_alone_and_its_body_is_left_alone(self):
        self.assertEqual(self.line("// One function"), "/// One function with a body.")
        self.assertEqual(self.line("inline int one()"), "inline int one() {")
        self.assertEqual(self.line("return 1;"), "  return 1;  // not documentation")

    def test_classes_are_not_grouped_and_trailing_comments_document_members(self):
        self.assertEqual(self.line("class Options {"), "class Options {")
        self.assertEqual(self.line("int threshold"), "  int threshold = 2;  ///< the threshold")

    def test_a_comment_above_a_macro_documents_it(self):
        self.assertEqual(self.line("// A user error."), "/// A user error.")


if __name__ == "__main__":
    sys.exit(unittest.main())
