#!/usr/bin/env python3
"""Exit 0 when two safetensors files hold the same tensors (names, dtypes,
shapes and bytes; metadata aside), 1 otherwise.  same_tensors.py A B"""
import json
import struct
import sys


def tensors(path):
    data = open(path, "rb").read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    header.pop("__metadata__", None)
    return {k: (v["dtype"], v["shape"], data[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]])
            for k, v in header.items()}


a, b = tensors(sys.argv[1]), tensors(sys.argv[2])
if a != b:
    print("differ:", sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))[:5])
sys.exit(0 if a == b and a else 1)
