"""Reads a safetensors file -- pathgrad's model.safetensors or optimizer.safetensors -- with numpy alone.

    import sys; sys.path.insert(0, "<pathgrad>/docs")
    from read_safetensors import load
    tensors, metadata = load("run/ckpt/model.safetensors")
    tensors["fc1.weight"]   # a read-only numpy array, with the dtype and shape it was saved with
    metadata                # {"format": "pathgrad", "module": "Net"}

Run as a script, it lists a file's tensors: python3 read_safetensors.py model.safetensors
"""
import json
import struct
import sys

import numpy as np

# safetensors dtype codes -> numpy dtypes (little-endian); pathgrad writes these four.
DTYPES = {"F32": "<f4", "F64": "<f8", "I64": "<i8", "U8": "u1"}


def load(path):
    """Returns ({name: numpy array}, {metadata key: value}), tensors in file order."""
    with open(path, "rb") as f:
        raw = f.read()
    (header_len,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + header_len])
    metadata = header.pop("__metadata__", {})
    data = memoryview(raw)[8 + header_len:]
    tensors = {}
    for name, info in sorted(header.items(), key=lambda item: item[1]["data_offsets"][0]):
        begin, end = info["data_offsets"]
        tensors[name] = np.frombuffer(data[begin:end], dtype=DTYPES[info["dtype"]]).reshape(info["shape"])
    return tensors, metadata


if __name__ == "__main__":
    tensors, metadata = load(sys.argv[1])
    print(metadata)
    for name, array in tensors.items():
        print(f"{name}: {array.dtype} {list(array.shape)}")
