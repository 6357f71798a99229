#!/usr/bin/env python3
"""Fails when a file of one layer includes a header of a higher layer.

Layers, lowest first, as in docs/architecture.md. A file under graft/<layer>/
may include graft/<lower or same layer>/... only (graft/version.h is the
base layer's). graft/graft.h, for users, may include everything."""
import pathlib
import re
import sys

LAYERS = ["base", "tensor", "ops", "autodiff", "vars", "nn", "trace", "optim", "edit", "io",
          "dist", "cli"]
INCLUDE = re.compile(r'^\s*#\s*include\s*[<"]graft/([a-z_]+)/', re.M)


def main(root: pathlib.Path) -> int:
    problems = []
    for path in sorted((root / "graft").rglob("*")):
        if path.suffix not in (".h", ".cc", ".in") or path.name == "graft.h":
            continue
        layer = path.relative_to(root / "graft").parts[0]
        if layer not in LAYERS:
            problems.append(f"{path.relative_to(root)}: folder '{layer}' is not a known layer "
                            f"(expected one of {', '.join(LAYERS)}; add it to this check and to "
                            "docs/architecture.md)")
            continue
        rank = LAYERS.index(layer)
        for match in INCLUDE.finditer(path.read_text()):
            used = match.group(1)
            if used in LAYERS and LAYERS.index(used) > rank:
                line = path.read_text()[: match.start()].count("\n") + 1
                problems.append(f"{path.relative_to(root)}:{line}: layer '{layer}' includes the higher "
                                f"layer '{used}'; move the code down or depend the other way")
    for p in problems:
        print(p)
    print(f"{len(problems)} layering problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(pathlib.Path(sys.argv[1])))
