#!/usr/bin/env python3
"""Doxygen INPUT_FILTER for graft's headers (docs/Doxyfile, run by scripts/docs.sh).

graft's headers state their contracts in plain `//` comments (STYLE.md); this filter shows them to
Doxygen as documentation without changing the sources:
- the comment block that opens a header documents the file (`/// @file`);
- a comment block directly above a declaration documents it; when it stands above a run of
  one-line declarations (`add`, `sub`, `mul`, ... under one comment) the run becomes a member
  group, so every member of the run shares the comment (DISTRIBUTE_GROUP_DOC);
- a comment after a declaration on its line (`int threshold = 2;  // ...`) documents that line;
- a comment followed by a blank line is a section heading or a note, and stays a plain comment;
- comment lines indented past the text (`//   Tensor y = ...`) are code examples (`@code`).
Line numbers are kept (one output line per input line), so Doxygen's warnings point at the file.
"""
import re
import sys

COMMENT = re.compile(r"^(\s*)//(?!/)(.*)$")
TRAILING = re.compile(r"^(\s*[^/\s].*?[;,])(\s+)//(?!/)\s?(.*)$")
CODE_LINE = re.compile(r"^   \S")  # three spaces after the slashes: an indented example


def indent_of(line):
    return len(line) - len(line.lstrip())


def is_blank(line):
    return line.strip() == ""


def is_comment(line):
    return COMMENT.match(line) is not None


def file_doc(block, path):
    """The opening block as the file's documentation: "graft/ops/ops.h: what it is for" becomes
    `@file graft/ops/ops.h what it is for`."""
    name = path[path.rfind("graft/"):] if "graft/" in path else path
    docs = doc_lines(block)
    docs[0] = re.sub(r"^(\s*)/// (\S+\.h:\s*)?", lambda m: f"{m.group(1)}/// @file {name} ", docs[0], count=1)
    return docs


def doc_lines(block, first_prefix=None):
    """The block's `//` lines as `///` lines, examples wrapped in @code ... @endcode.

    @code and @endcode share a line with text so the line count does not change."""
    out = []
    in_code = False
    for i, line in enumerate(block):
        m = COMMENT.match(line)
        pad, text = m.group(1), m.group(2)
        code = CODE_LINE.match(text) is not None or (in_code and text.strip() == "" and i + 1 < len(block) and
                                                       CODE_LINE.match(COMMENT.match(block[i + 1]).group(2)))
        prefix = ""
        if code and not in_code:
            prefix, in_code = "@code ", True
        elif not code and in_code:
            prefix, in_code = "@endcode ", False
        if i == 0 and first_prefix:
            prefix = first_prefix + " " + prefix
        out.append(f"{pad}/// {prefix}{text.strip() if not code else text[1:]}".rstrip())
    if in_code:
        out[-1] += " @endcode"
    return out


def declaration_run(lines, start):
    """Lines [start, end) that follow a comment as one run: no blank line, comment or closing
    brace of the enclosing scope in between (an inline function's own body belongs to the run).
    Returns (end, groupable): groupable when the run holds two or more declarations at its own
    indentation and defines no class, struct, enum or union."""
    base = indent_of(lines[start])
    end = start
    starts = 0
    compound = False
    depth = 0  # braces open within the run: an inline body is part of its declaration
    while end < len(lines):
        line = lines[end]
        stripped = line.lstrip()
        code = re.sub(r'"([^"\\]|\\.)*"', '""', line.split("//")[0])
        if depth == 0:
            if is_blank(line) or is_comment(line) or stripped.startswith(("#", "}", "private:", "public:",
                                                                           "protected:")):
                break
            if indent_of(line) < base:
                break
            if indent_of(line) == base:
                starts += 1
                if re.match(r"(template\s*<.*>\s*)?(class|struct|enum|union|namespace)\b", stripped):
                    compound = True
        depth += code.count("{") - code.count("}")
        end += 1
    return end, starts >= 2 and not compound


def filter_header(text, path):
    lines = text.split("\n")
    out = []
    i = 0
    seen_code = False
    while i < len(lines):
        line = lines[i]
        if is_comment(line):
            j = i
            while j < len(lines) and is_comment(lines[j]):
                j += 1
            block = lines[i:j]
            if not seen_code:
                # The header's opening comment documents the file.
                out.extend(file_doc(block, path))
                seen_code = True
                i = j
                continue
            following = lines[j] if j < len(lines) else ""
            attached = not is_blank(following) and (not following.lstrip().startswith(("}", "#")) or
                                                     following.lstrip().startswith("#define"))
            if not attached:
                out.extend(block)
                i = j
                continue
            docs = doc_lines(block)
            end, group = declaration_run(lines, j)
            if group:
                # The group's markers ride on its first and last lines, keeping line numbers.
                out.extend(docs)
                # The last line's own comment stays plain: after the group's end it would
                # document nothing.
                run = [trailing_doc(l) for l in lines[j:end - 1]] + [close_group(lines[end - 1])]
                pad = indent_of(run[0])
                run[0] = run[0][:pad] + "/**@{*/ " + run[0][pad:]
                out.extend(run)
                i = end
                continue
            out.extend(docs)
            i = j
            continue
        if not is_blank(line) and not line.startswith("#"):
            seen_code = True
        out.append(trailing_doc(line))
        i += 1
    return "\n".join(out)


def close_group(line):
    """`line` with the member group's closing marker after its code, before any comment."""
    m = re.match(r"^(.*?)(\s*//.*)$", line)
    if m and '"' not in m.group(1):
        return f"{m.group(1)} /**@}}*/{m.group(2)}"
    return line + " /**@}*/"


def trailing_doc(line):
    m = TRAILING.match(line)
    if not m or m.group(1).lstrip().startswith(("return ", "if ", "for ", "while ")):
        return line
    return f"{m.group(1)}{m.group(2)}///< {m.group(3)}"


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as f:
        sys.stdout.write(filter_header(f.read(), sys.argv[1]))
