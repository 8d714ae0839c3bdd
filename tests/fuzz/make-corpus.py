#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
# Regenerate the seed corpus in corpus/decode/ (the files are committed).
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mpack import pack  # noqa: E402


req = pack([0, 42, "request", {"words": ["sf1", "ports", "p1", "set"],
                               "args": {"action": "drop"}, "rid": "r1"}])
nested = [{"a": 1}]
for _ in range(20):
    nested = [nested]

seeds = {
    'req-ping': pack([0, 1, "ping", {}]),
    'req-request': req,
    'resp-ok': pack([1, 42, None, {"version": "0.1.0", "pid": 123}]),
    'resp-nil': pack([1, 7, None, None]),
    'resp-err': pack([1, 42, {"code": 4, "name": "not-found",
                              "message": "cube 'fw9' does not exist"}, None]),
    'notify': pack([2, "port.up", {"cube": "fw1", "port": "p1"}]),
    'array32-bomb': b'\xdd\xff\x00\x00\x00',
    'map32-bomb': b'\xdf\xff\xff\xff\xff\xa0',
    'truncated-req': req[:len(req) // 2],
    'nested': pack(nested),
    'types': pack({"f": 1.5, "n": -70000, "u": 2**64 - 1, "b": b"\x00\xff",
                   "t": True, "z": None, "s": "h\u00e9llo " * 5}),
    'float32': b'\x92\xca\x3f\xc0\x00\x00\xc2',
    'ext': b'\x91\xd4\x01\x00',
    'str-nul': b'\xa3a\x00b',
    'json-obj': b'{"a": [1, 2.5, "x\\u00e9", true, null], "b": {"c": -3}}',
    'json-escapes': b'["\\ud83d\\ude00\\n\\t\\"\\\\", 1e-3, 18446744073709551615]',
    'json-bad': b'{"a": [1, 2,], }',
}

d = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'corpus',
                 'decode')
os.makedirs(d, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(d, name), 'wb') as f:
        f.write(data)
