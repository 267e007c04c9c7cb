"""Check a TF1 checkpoint's ``.index`` file before TensorFlow reads it.

TensorFlow trusts the index: a shape with a negative or overflowing dimension, a shard number out
of range or a nonsense slice aborts the process (a C++ CHECK, SIGABRT) instead of raising. This
module reads the index itself -- a LevelDB-style table (TensorFlow's ``core/lib/io/table``, blocks
of prefix-compressed entries, never compressed by TensorBundle) whose values are
``BundleHeaderProto`` / ``BundleEntryProto`` messages -- and raises :class:`CheckpointError` with
one line for anything TensorFlow could not read safely. It parses only what it checks; TensorFlow
still reads the checkpoint.
"""

from __future__ import annotations

import os

from .errors import CheckpointError

_MAGIC = 0xDB4775248B80FB57
_FOOTER_BYTES = 48
_TRAILER_BYTES = 5  # after each block: compression type (1 byte) and CRC (4)
_MAX_INDEX_BYTES = 1 << 30
_MAX_ELEMENTS = 1 << 62
_MAX_SHARDS = 1 << 20
# DataType enum value -> bytes per element, for the types whose stored size follows from the shape.
_ITEM_BYTES = {1: 4, 2: 8, 3: 4, 4: 1, 5: 2, 6: 1, 8: 8, 9: 8, 10: 1, 11: 1, 12: 1, 13: 4, 14: 2, 15: 2,
               16: 2, 17: 2, 18: 16, 19: 2, 22: 4, 23: 8}


class _Bad(Exception):
    pass


def _varint(buf: bytes, pos: int, limit: int | None = None) -> tuple[int, int]:
    limit = len(buf) if limit is None else limit
    value = shift = 0
    while True:
        if pos >= limit or shift > 63:
            raise _Bad("truncated or overlong varint")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def _signed(value: int) -> int:
    """A protobuf int64 from its varint (two's complement)."""
    value &= (1 << 64) - 1
    return value - (1 << 64) if value >= 1 << 63 else value


def _fields(buf: bytes):
    """(field number, value) of a protobuf message: ints for varints, bytes otherwise."""
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            value, pos = buf[pos:pos + 8], pos + 8
        elif wire == 2:
            length, pos = _varint(buf, pos)
            value, pos = buf[pos:pos + length], pos + length
        elif wire == 5:
            value, pos = buf[pos:pos + 4], pos + 4
        else:
            raise _Bad(f"unsupported protobuf wire type {wire}")
        if pos > len(buf):
            raise _Bad("truncated protobuf message")
        yield number, value


def _block(data: bytes, handle: bytes) -> bytes:
    offset, pos = _varint(handle, 0)
    size, _ = _varint(handle, pos)
    if offset + size + _TRAILER_BYTES > len(data):
        raise _Bad("a block lies outside the file")
    if data[offset + size] != 0:
        raise _Bad(f"compressed block (type {data[offset + size]}); TensorBundle writes none")
    return data[offset:offset + size]


def _entries(block: bytes):
    """(key, value) of one table block."""
    if len(block) < 4:
        raise _Bad("block too short")
    restarts = int.from_bytes(block[-4:], "little")
    end = len(block) - 4 * (restarts + 1)
    if end < 0:
        raise _Bad("bad restart count")
    pos, key = 0, b""
    while pos < end:
        shared, pos = _varint(block, pos, end)
        own, pos = _varint(block, pos, end)
        length, pos = _varint(block, pos, end)
        if shared > len(key) or pos + own + length > end:
            raise _Bad("bad block entry")
        key = key[:shared] + block[pos:pos + own]
        pos += own
        yield key, block[pos:pos + length]
        pos += length


def entries(path: str):
    """(tensor name, serialized BundleEntryProto) of an index file; the header has the name ``""``."""
    size = os.path.getsize(path)
    if size > _MAX_INDEX_BYTES:
        raise _Bad(f"{size} bytes, larger than any index tf2norm reads")
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < _FOOTER_BYTES or int.from_bytes(data[-8:], "little") != _MAGIC:
        raise _Bad("not a TensorFlow table (bad footer)")
    footer = data[-_FOOTER_BYTES:]
    _, pos = _varint(footer, 0)  # the metaindex handle (offset, size): an empty block in a bundle
    _, pos = _varint(footer, pos)
    index = _block(data, footer[pos:])
    for _, handle in _entries(index):
        yield from _entries(_block(data, handle))


def _shape(message: bytes, what: str) -> list[int]:
    dims = []
    for number, value in _fields(message):
        if number == 2:  # dim
            size = 0
            for field, dim_value in _fields(value):
                if field == 1:
                    size = _signed(dim_value)
            if size < 0:
                raise _Bad(f"{what} has a negative dimension ({size})")
            dims.append(size)
        elif number == 3 and value:
            raise _Bad(f"{what} has an unknown rank")
    elements = 1
    for size in dims:
        elements *= size
        if elements > _MAX_ELEMENTS:
            raise _Bad(f"{what} has a shape {dims} too large for any tensor")
    return dims


def _check_entry(name: str, value: bytes, shards: int) -> None:
    what = f"variable {name!r}"
    dtype = shard = offset = size = 0
    dims, sliced = [], False
    for number, field in _fields(value):
        if number == 1:
            dtype = field
        elif number == 2:
            dims = _shape(field, what)
        elif number == 3:
            shard = _signed(field)
        elif number == 4:
            offset = _signed(field)
        elif number == 5:
            size = _signed(field)
        elif number == 7:  # a TensorSliceProto (a partitioned variable): extents of (start, length)
            sliced = True
            for extent_number, extent in _fields(field):
                if extent_number == 1:
                    for part, amount in _fields(extent):
                        if part in (1, 2) and _signed(amount) < 0:
                            raise _Bad(f"{what} has a slice with a negative extent")
    if not 0 <= shard < shards:
        raise _Bad(f"{what} is in shard {shard}, the index has {shards}")
    if offset < 0 or size < 0:
        raise _Bad(f"{what} has a negative offset or size")
    if dtype == 0:
        raise _Bad(f"{what} has no data type")
    item = _ITEM_BYTES.get(dtype)
    if item is not None and not sliced:
        elements = 1
        for d in dims:
            elements *= d
        if elements * item != size:
            raise _Bad(f"{what} has shape {dims} ({elements * item} bytes), the index says {size} bytes")


def check(path) -> None:
    """Raise CheckpointError unless ``path`` (a ``.index`` file) is safe for TensorFlow to read."""
    path = os.fspath(path)
    try:
        shards = None
        for key, value in entries(path):
            if key == b"":
                shards = 1
                for number, field in _fields(value):
                    if number == 1:
                        shards = _signed(field)
                if not 1 <= shards <= _MAX_SHARDS:
                    raise _Bad(f"the header says {shards} shards")
                continue
            if shards is None:
                raise _Bad("no header before the first variable")
            _check_entry(key.decode("utf-8", "replace"), value, shards)
        if shards is None:
            raise _Bad("no header")
    except _Bad as problem:
        raise CheckpointError(f"checkpoint index {path} is damaged: {problem}") from None
    except OSError as exc:
        raise CheckpointError(f"cannot read checkpoint index {path}: {exc.strerror or exc}") from None
