# SPDX-License-Identifier: BSD-2-Clause
"""A small MessagePack encoder for the seed-corpus generators."""
import struct


def pack(v):
    if v is None:
        return b'\xc0'
    if v is True:
        return b'\xc3'
    if v is False:
        return b'\xc2'
    if isinstance(v, int):
        if 0 <= v < 128:
            return bytes([v])
        if -32 <= v < 0:
            return struct.pack('b', v)
        if v >= 0:
            return b'\xcf' + struct.pack('>Q', v)
        return b'\xd3' + struct.pack('>q', v)
    if isinstance(v, float):
        return b'\xcb' + struct.pack('>d', v)
    if isinstance(v, str):
        b = v.encode()
        if len(b) < 32:
            return bytes([0xa0 | len(b)]) + b
        if len(b) < 256:
            return b'\xd9' + bytes([len(b)]) + b
        return b'\xda' + struct.pack('>H', len(b)) + b
    if isinstance(v, bytes):
        return b'\xc4' + bytes([len(v)]) + v
    if isinstance(v, list):
        out = bytes([0x90 | len(v)]) if len(v) < 16 else \
            b'\xdc' + struct.pack('>H', len(v))
        return out + b''.join(pack(x) for x in v)
    if isinstance(v, dict):
        out = bytes([0x80 | len(v)]) if len(v) < 16 else \
            b'\xde' + struct.pack('>H', len(v))
        return out + b''.join(pack(k) + pack(x) for k, x in v.items())
    raise TypeError(v)
