"""Hostile inputs written from scratch: a TF checkpoint index (LevelDB-style table of protobufs)."""

from __future__ import annotations

import struct

_MAGIC = 0xDB4775248B80FB57


def varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # negative int64s as protobuf writes them (ten bytes)
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def field(number: int, value) -> bytes:
    if isinstance(value, bytes):
        return varint(number << 3 | 2) + varint(len(value)) + value
    return varint(number << 3) + varint(value)


def entry(dims, dtype=1, size=None, shard=0, offset=0) -> bytes:
    """A BundleEntryProto: float32 by default, its size following from `dims` unless given."""
    shape = b"".join(field(2, field(1, d)) for d in dims)
    if size is None:
        size = 4
        for d in dims:
            size *= d
    return field(1, dtype) + field(2, shape) + field(3, shard) + field(4, offset) + field(5, size)


def header(shards=1) -> bytes:
    return field(1, shards) + field(3, field(1, 1))  # num_shards, version {producer: 1}


def _crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def _masked_crc(data: bytes) -> int:
    crc = _crc32c(data)
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def _block(items) -> bytes:
    body = b"".join(varint(0) + varint(len(k)) + varint(len(v)) + k + v for k, v in items)
    return body + struct.pack("<II", 0, 1)  # one restart point, at 0


def table(items) -> bytes:
    """An index file holding `items` ([(key, value)], sorted) in one data block."""
    out = bytearray()

    def put(block):
        handle = varint(len(out)) + varint(len(block))
        out.extend(block + b"\0" + struct.pack("<I", _masked_crc(block + b"\0")))  # uncompressed
        return handle

    data = put(_block(items))
    meta = put(_block([]))
    index = put(_block([(items[-1][0] + b"\xff", data)]))
    footer = (meta + index).ljust(40, b"\0") + struct.pack("<Q", _MAGIC)
    return bytes(out + footer)


def checkpoint(prefix, items, data_bytes=4) -> None:
    """`prefix.index` with `items` after the header, and a data file of `data_bytes` zeros."""
    with open(f"{prefix}.index", "wb") as f:
        f.write(table([(b"", header())] + sorted(items)))
    with open(f"{prefix}.data-00000-of-00001", "wb") as f:
        f.write(b"\0" * data_bytes)
