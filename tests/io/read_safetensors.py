#!/usr/bin/env python3
"""An independent safetensors reader, written from the format description with
Python's standard library only, checking the sample file graft wrote
(write_sample.cc). Exit status 0 when every check passes.

    python3 read_safetensors.py FILE
"""
import json
import struct
import sys

DTYPES = {"BOOL": ("?", 1), "U8": ("B", 1), "I8": ("b", 1), "I16": ("h", 2), "U16": ("H", 2),
          "F16": ("e", 2), "I32": ("i", 4), "U32": ("I", 4), "F32": ("f", 4), "F64": ("d", 8),
          "I64": ("q", 8), "U64": ("Q", 8)}


def fail(message):
    print("read_safetensors.py: FAIL: " + message, file=sys.stderr)
    sys.exit(1)


def reject_duplicates(pairs):
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        fail("duplicate keys in " + repr(keys))
    return dict(pairs)


def read(path):
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        fail("file shorter than 8 bytes")
    (n,) = struct.unpack("<Q", data[:8])
    if n > len(data) - 8:
        fail(f"header length {n} beyond file of {len(data)} bytes")
    raw_header = data[8:8 + n]
    if not raw_header.startswith(b"{"):
        fail("header does not start with '{'")
    header = json.loads(raw_header.decode("utf-8"), object_pairs_hook=reject_duplicates)
    body = data[8 + n:]
    metadata = header.pop("__metadata__", {})
    tensors = {}
    ranges = []
    for key, info in header.items():
        if set(info) != {"dtype", "shape", "data_offsets"}:
            fail(f"{key}: fields {sorted(info)}")
        fmt, size = DTYPES[info["dtype"]]
        count = 1
        for d in info["shape"]:
            if not isinstance(d, int) or d < 0:
                fail(f"{key}: bad shape {info['shape']}")
            count *= d
        begin, end = info["data_offsets"]
        if not 0 <= begin <= end <= len(body) or end - begin != count * size:
            fail(f"{key}: offsets {begin, end} for {count} x {size} bytes in {len(body)}")
        ranges.append((begin, end))
        values = list(struct.unpack("<%d%s" % (count, fmt), body[begin:end]))
        tensors[key] = (info["dtype"], info["shape"], values)
    covered = 0
    for begin, end in sorted(ranges):
        if begin != covered:
            fail(f"gap or overlap at byte {begin} (covered up to {covered})")
        covered = end
    if covered != len(body):
        fail(f"{len(body) - covered} trailing bytes")
    return header, tensors, metadata, n


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    header, tensors, metadata, n = read(sys.argv[1])
    if (8 + n) % 8 != 0:
        fail(f"data section starts at {8 + n}, not 8-byte aligned")
    expected = {
        "dense/kernel": ("F32", [3, 4], [i * 0.5 - 1.25 for i in range(12)]),
        "counts": ("I64", [5], [(i - 2) * 1000000000007 for i in range(5)]),
        "pi": ("F64", [], [3.141592653589793]),
        "empty": ("F32", [0, 7], []),
        "ключ/β": ("F64", [2], [1e-300, -2.5]),
    }
    if list(header) != list(expected):
        fail(f"keys {list(header)}, expected {list(expected)} in this order")
    for key, want in expected.items():
        if tensors[key] != want:
            fail(f"{key}: found {tensors[key]}, expected {want}")
    want_metadata = {"step": "1200", "note": "tab\t quote\" ü"}
    if metadata != want_metadata:
        fail(f"metadata {metadata!r}, expected {want_metadata!r}")
    print(f"read_safetensors.py: {len(tensors)} tensors and {len(metadata)} metadata entries as expected")
    return 0


if __name__ == "__main__":
    sys.exit(main())
