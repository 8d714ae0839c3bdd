#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
# Regenerate the seed corpus in corpus/request/ (the files are committed).
# Each input is one mode byte then MessagePack (see fuzz_request.c):
# 0x00 request params {words, args, body, rid}, 0x01 a wire schema.
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mpack import pack  # noqa: E402


def req(words, args=None, body=None, rid=None):
    p = {"words": words}
    if args is not None:
        p["args"] = args
    if body is not None:
        p["body"] = body
    if rid is not None:
        p["rid"] = rid
    return b'\x00' + pack(p)


def field(name, type, flags=0, help="", default=None, enum=None, mn=0, mx=0,
          children=None, actions=None):
    f = {"name": name, "type": type, "flags": flags, "help": help,
         "min": mn, "max": mx}
    if default is not None:
        f["default"] = default
    if enum is not None:
        f["enum"] = enum
    if children is not None:
        f["children"] = children
    if actions is not None:
        f["actions"] = actions
    return f


sf_schema = [field("ports", "list", children=[
    field("action", "enum", default="drop",
          enum=["forward", "drop", "slowpath"]),
    field("outport", "string", mx=32),
    field("rx_packets", "u64", flags=2),
])]
router_schema = [
    field("route", "list", children=[
        field("network", "ipv4-prefix", flags=1),
        field("nexthop", "ipv4", flags=1),
        field("pathcost", "u32", default="1", mn=1, mx=255)]),
    field("fdb", "container", children=[
        field("aging", "u32", default="300", mn=1, mx=3600),
        field("entry", "list", flags=2, children=[
            field("mac", "mac", flags=1), field("port", "string")])],
        actions=[{"name": "flush", "help": "flush the table",
                  "args": [field("age", "u32", default="300")]}]),
    field("mac", "mac", default="02:00:00:00:00:01"),
    field("debug", "bool", flags=8),
]

seeds = {
    'port-add': req(["ports", "add", "p3"], {"peer": "veth3"}, rid="r1"),
    'port-set': req(["ports", "p1", "set"],
                    {"action": "forward", "outport": "p2"}),
    'port-set-drop': req(["ports", "p1", "set"], {"action": "drop"}),
    'port-del': req(["ports", "p1", "del"]),
    'port-del-key': req(["ports", "del", "p2"], rid="r2"),
    'port-show-field': req(["ports", "p1", "action", "show"]),
    'port-action': req(["ports", "p2", "reset"], {"hard": "true"}),
    'route-add': req(["route", "add", "10.0.4.0/24", "10.0.1.2"],
                     {"pathcost": "5"}),
    'route-add-exists': req(["route", "add", "10.0.3.0/24", "10.0.1.2"],
                            {"pathcost": "5"}),
    'route-set': req(["route", "10.0.3.0/24", "10.0.1.2", "set"],
                     {"pathcost": 7}),
    'route-bad-prefix': req(["route", "add", "10.0.3.0/33", "10.0.1.2"]),
    'fdb-flush': req(["fdb", "flush"], {"port": "p1", "age": "10"}),
    'fdb-set': req(["fdb", "set"], {"aging": "60"}),
    'cube-set-body': req(["set"], None, {"mtu": 9000, "ports": [
        {"name": "p1", "action": "slowpath"}]}),
    'help': req(["?"]),
    'route-help': req(["route", "10.0.9.0/24", "10.0.1.2", "?"]),
    'show-all': req([], None, None, "r3"),
    'del-cube': req(["del"]),
    'chain-add-first': req(["chain", "add", "7"],
                           {"position": "first", "dst": "2001:DB8::1",
                            "sport": "1024:65535", "dports": "22,80"}),
    'chain-add-before': req(["chain", "add", "8"],
                            {"before": "2", "match": "db", "proto": "6"}),
    'chain-add-index': req(["chain", "add", "9"],
                           {"index": 1, "src6": "2001:db8::/32"}),
    'chain-add-bad-ref': req(["chain", "add", "9"], {"match": "nope"}),
    'chain-set-body': req(["chain", "1", "set"], None,
                          {"dports": [53, "853"], "also": ["web"]}),
    'sets-del-used': req(["sets", "del", "web"]),
    'chain-del-jumped': req(["chain", "1", "del"]),
    'sets-add-nets': req(["sets", "add", "lan"],
                         {"nets": "10.0.0.0/8,2001:db8::/32"}),
    'schema-types': b'\x01' + pack([
        field("l", "list", flags=32, children=[
            field("id", "u8", flags=1),
            dict(field("p", "port-range", flags=16), **{"max-items": 3}),
            dict(field("r", "u8"), ref="l")]),
        dict(field("x", "ipv6-prefix", flags=16, default="::/0"),
             **{"max-items": 2})]),
    'bad-words-type': req("ports"),
    'bad-word-empty': req(["ports", ""]),
    'bad-args': req(["set"], ["mtu", 1]),
    'bad-ro': req(["ports", "p1", "set"], {"rx_packets": 1}),
    'bad-rid': req(["show"], None, None, ""),
    'bad-verb': req(["ports", "p1", "explode"]),
    'schema-sf': b'\x01' + pack(sf_schema),
    'schema-router': b'\x01' + pack(router_schema),
    'schema-bad-type': b'\x01' + pack([field("x", "float")]),
}

d = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'corpus',
                 'request')
os.makedirs(d, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(d, name), 'wb') as f:
        f.write(data)
