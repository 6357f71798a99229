#!/usr/bin/env python3
"""Writes tests/io/corpus: small safetensors files, one good and many malformed.

Run from anywhere: python3 tests/io/make_corpus.py. The files are committed;
corpus_test.cc states what error each one must give, and scripts/fuzz.sh seeds
libFuzzer with them. Files named crash-* come from fuzzing and are kept as
they were found.
"""
import json
import os
import struct

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def raw(header_text, data=b"", length=None):
    h = header_text.encode("utf-8") if isinstance(header_text, str) else header_text
    n = len(h) if length is None else length
    return struct.pack("<Q", n) + h + data


def st(entries, data, metadata=None):
    header = {}
    if metadata is not None:
        header["__metadata__"] = metadata
    header.update(entries)
    return raw(json.dumps(header, separators=(",", ":")), data)


F32x2 = struct.pack("<2f", 1.5, -2.0)
GOOD = st({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
           "b": {"dtype": "I64", "shape": [], "data_offsets": [8, 16]}},
          F32x2 + struct.pack("<q", 7), {"step": "3"})

FILES = {
    "good.safetensors": GOOD,
    "good_empty.safetensors": raw("{}"),
    "good_half.safetensors": st(
        {"h": {"dtype": "F16", "shape": [3], "data_offsets": [0, 6]},
         "bf": {"dtype": "BF16", "shape": [2], "data_offsets": [6, 10]},
         "i": {"dtype": "I32", "shape": [1], "data_offsets": [10, 14]}},
        struct.pack("<3e", 1.0, -0.5, 65504.0) + struct.pack("<2H", 0x3f80, 0xc000) + struct.pack("<i", -9)),
    "truncated_length.safetensors": b"\x10\x00\x00",
    "truncated_data.safetensors": GOOD[:-5],
    "header_beyond_file.safetensors": raw('{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', b"\0" * 4,
                                          length=4096),
    "header_huge.safetensors": raw("{}", length=1 << 40),
    "bad_json.safetensors": raw('{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}', b"\0" * 4),
    "bad_json_trailing_comma.safetensors": raw('{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4],}}', b"\0" * 4),
    "not_object.safetensors": raw("[1, 2]"),
    "unknown_dtype.safetensors": st({"w": {"dtype": "F31", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 4),
    "negative_shape.safetensors": st({"w": {"dtype": "F32", "shape": [2, -1], "data_offsets": [0, 4]}}, b"\0" * 4),
    "float_shape.safetensors": st({"w": {"dtype": "F32", "shape": [1.5], "data_offsets": [0, 4]}}, b"\0" * 4),
    "size_mismatch.safetensors": st({"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, b"\0" * 8),
    "shape_overflow.safetensors": st(
        {"w": {"dtype": "F64", "shape": [4294967296, 4294967296, 16], "data_offsets": [0, 8]}}, b"\0" * 8),
    "offsets_outside.safetensors": st({"w": {"dtype": "F32", "shape": [4], "data_offsets": [4, 20]}}, b"\0" * 8),
    "offsets_reversed.safetensors": st({"w": {"dtype": "F32", "shape": [0], "data_offsets": [8, 4]}}, b"\0" * 8),
    "overlap.safetensors": st({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                               "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, b"\0" * 12),
    "gap.safetensors": st({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
                           "b": {"dtype": "F32", "shape": [1], "data_offsets": [8, 12]}}, b"\0" * 12),
    "trailing_bytes.safetensors": st({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 9),
    "empty_key.safetensors": st({"": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 4),
    "duplicate_key.safetensors": raw('{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},'
                                     '"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', b"\0" * 8),
    "missing_field.safetensors": st({"w": {"dtype": "F32", "data_offsets": [0, 4]}}, b"\0" * 4),
    "metadata_not_string.safetensors": st({}, b"", {"step": 3}),
    "deep_nesting.safetensors": raw('{"w":' + "[" * 10000 + "]" * 10000 + "}"),
    "bad_utf8.safetensors": raw(b'{"w\xff":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', b"\0" * 4),
}


def main():
    os.makedirs(HERE, exist_ok=True)
    for name, data in FILES.items():
        with open(os.path.join(HERE, name), "wb") as f:
            f.write(data)
    print(f"wrote {len(FILES)} files to {HERE}")


if __name__ == "__main__":
    main()
