#!/usr/bin/env python3
"""manifold:conformance/types@0.1.0 as a Manifold RPC plugin, in Python's standard library.

Every function does what crates/test-programs/wit/conformance.wit says. Run it under the
host (`command = ["python3", "conformance_plugin.py"]`) or on its own:

    MANIFOLD_PLUGIN_ADDRESS=tcp:127.0.0.1:7070 python3 conformance_plugin.py
"""

import os
import struct
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from manifold_wrpc import (  # noqa: E402
    BOOL, CHAR, F32, F64, HANDLE, S8, S16, S32, S64, STRING, U8, U16, U32, U64,
    Err, Malformed, Ok, Server, enum, flags, list_, option, record, result, tuple_, variant,
)

TYPES = "manifold:conformance/types@0.1.0"

POINT = record(("x", S32), ("y", S32), ("label", STRING))
SHAPE = variant(("circle", F64), ("rect", POINT), ("empty", None))
COLORS = ("red", "green", "blue")
COLOR = enum(*COLORS)
PERM_NAMES = ("read", "write", "exec")
PERMS = flags(*PERM_NAMES)

server = Server()


def export(name, params=(), results=()):
    return server.func(TYPES, name, params, results)


def wrap(v, bits):
    """v as a two's-complement integer of `bits` bits."""
    v &= (1 << bits) - 1
    return v - (1 << bits) if v >> (bits - 1) else v


def f32(v):
    """v rounded to the nearest f32, as Rust's `f32 * 2.0` would be."""
    return struct.unpack("<f", struct.pack("<f", v))[0]


def saturate_s32(x):
    """Rust's `f64 as i32`: truncated toward zero, clamped, NaN to 0."""
    if x != x:
        return 0
    if x == float("inf"):
        return 2**31 - 1
    if x == float("-inf"):
        return -(2**31)
    return max(-(2**31), min(2**31 - 1, int(x)))


@export("bump", [U8, S8, U16, S16, U32, S32, U64, S64, F32, F64, BOOL, CHAR],
        [tuple_(U8, S8, U16, S16, U32, S32, U64, S64, F32, F64, BOOL, CHAR)])
def bump(a, b, c, d, e, f, g, h, i, j, k, l):
    return (
        (a + 1) % 2**8, wrap(b + 1, 8), (c + 1) % 2**16, wrap(d + 1, 16),
        (e + 1) % 2**32, wrap(f + 1, 32), (g + 1) % 2**64, wrap(h + 1, 64),
        f32(i * 2), j * 2, not k, chr(ord(l) + 1),
    )


_UPPER = bytes.maketrans(b"abcdefghijklmnopqrstuvwxyz", b"ABCDEFGHIJKLMNOPQRSTUVWXYZ")


@export("shout", [STRING], [STRING])
def shout(s):
    # ASCII letters only: str.upper() would also change 'ß' and 'é'.
    return s.encode("utf-8").translate(_UPPER).decode("utf-8")


@export("reverse", [list_(U8)], [list_(U8)])
def reverse(b):
    return b[::-1]


@export("sort", [list_(STRING)], [list_(STRING)])
def sort(words):
    return sorted(words, key=lambda w: w.encode("utf-8"))


@export("add-points", [POINT, POINT], [POINT])
def add_points(a, b):
    return (wrap(a[0] + b[0], 32), wrap(a[1] + b[1], 32), a[2] + "+" + b[2])


@export("scale", [SHAPE, F64], [SHAPE])
def scale(s, k):
    case, payload = s
    if case == "circle":
        return ("circle", payload * k)
    if case == "rect":
        x, y, label = payload
        return ("rect", (saturate_s32(x * k), saturate_s32(y * k), label))
    return ("empty", None)


@export("next-color", [COLOR], [COLOR])
def next_color(c):
    return COLORS[(COLORS.index(c) + 1) % len(COLORS)]


@export("toggle", [PERMS], [PERMS])
def toggle(p):
    return set(PERM_NAMES) - p


@export("swap", [tuple_(U32, STRING)], [tuple_(STRING, U32)])
def swap(t):
    return (t[1], t[0])


@export("first-word", [STRING], [option(STRING)])
def first_word(s):
    words = [w for w in s.split(" ") if w]
    return words[0] if words else None


@export("checked-div", [S64, S64], [result(S64, STRING)])
def checked_div(a, b):
    if b == 0:
        return Err("division by zero")
    q = abs(a) // abs(b)  # truncated toward zero, as in Rust, C and Go
    return Ok(wrap(q if (a < 0) == (b < 0) else -q, 64))


@export("inc", [U64], [U64])
def inc(x):
    return (x + 1) % 2**64


# The counter resource. A handle is 16 bytes: this process's random nonce, then the
# counter's number (never reused). A handle from another run of the plugin, or made up,
# names no counter here and the call fails instead of reaching a wrong one.
_NONCE = os.urandom(8)
_counters = {}  # handle -> value
_next_id = 0
_lock = threading.Lock()


def _counter(handle):
    if handle not in _counters:
        raise Malformed("unknown counter handle %s" % handle.hex())
    return handle


@export("counter", [U64], [HANDLE])
def counter_new(start):
    global _next_id
    with _lock:
        _next_id += 1
        handle = _NONCE + _next_id.to_bytes(8, "little")
        _counters[handle] = start
    return handle


@export("counter.add", [HANDLE, U64], [U64])
def counter_add(handle, n):
    with _lock:
        value = (_counters[_counter(handle)] + n) % 2**64
        _counters[handle] = value
    return value


@export("counter.value", [HANDLE], [U64])
def counter_value(handle):
    with _lock:
        return _counters[_counter(handle)]


@export("[drop]counter", [HANDLE])
def counter_drop(handle):
    with _lock:
        _counters.pop(_counter(handle))


@export("total", [HANDLE, HANDLE], [U64])
def total(a, b):
    with _lock:
        return (_counters[_counter(a)] + _counters[_counter(b)]) % 2**64


@export("live-counters", [], [U32])
def live_counters():
    with _lock:
        return len(_counters)


if __name__ == "__main__":
    server.serve_forever()
