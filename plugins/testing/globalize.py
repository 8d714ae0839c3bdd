#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
# Review 10: globalize.py OBJ: rename "cub_ingress_tB" to "cub_ingress_tc"
# in OBJ's string table, so that the object holds two global programs of
# that name (a linker refuses to make one; libbpf's open does not).
import sys
p = sys.argv[1]
b = bytearray(open(p, 'rb').read())
old, new = b'\0cub_ingress_tB\0', b'\0cub_ingress_tc\0'
n = b.count(old)
if n < 1:
    sys.exit('globalize.py: no cub_ingress_tB in ' + p)
b = b.replace(old, new)
open(p, 'wb').write(bytes(b))
