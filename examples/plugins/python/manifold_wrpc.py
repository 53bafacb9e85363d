"""A small wRPC server in pure Python (standard library only), for Manifold RPC plugins.

Manifold calls an RPC plugin with the wRPC protocol: one connection per call, on a Unix
socket or TCP. This module is the whole server side: the framing, the value encoding
(the component model's value encoding, as wRPC uses it), a registry of handlers keyed by
(interface, function), and a threaded accept loop. It is written to be read and ported:
each piece is short and says exactly which bytes it reads or writes.
See docs/plugins.md ("RPC plugins") for the same description in prose.

A call on one connection, client (the host) to server (the plugin):

    0x00                       protocol version
    LEB128 len, UTF-8 bytes    instance, e.g. "manifold:conformance/types@0.1.0"
    LEB128 len, UTF-8 bytes    function, e.g. "inc", "counter.add", "counter", "[drop]counter"
    frames...                  the parameters, on path []; then the client shuts down writing

and back, server to client:

    frames...                  the results, on path []; then the server closes

A frame is:  LEB128 path length n, n LEB128 path elements, LEB128 data length, data.
All parameters (and all results) of a synchronous function travel on path [] as one byte
string, cut into frames anywhere; this server sends its results as one frame. There is no
error frame in wRPC: a server that cannot answer closes the connection without results,
which the host reports as a failed call.

Values (every type of a function's parameters, then of its results, one after another):

    bool, u8, s8          one byte (s8 two's complement)
    u16, u32, u64         unsigned LEB128
    s16, s32, s64         signed LEB128
    f32, f64              little-endian IEEE 754
    char                  the character's UTF-8 bytes (1 to 4), no length
    string                LEB128 byte length, UTF-8 bytes
    list<T>               LEB128 element count, the elements
    record, tuple         the fields in order
    variant, enum         LEB128 case index, then the case's payload if it has one
    option<T>             0x00, or 0x01 then T
    result<T, E>          0x00 then T (if any), or 0x01 then E (if any)
    flags                 ceil(n/8) bytes, little-endian bit set: bit i = flag i
    own<R>, borrow<R>     the plugin's own handle bytes: LEB128 length, bytes

Python values: ints, floats, bool, str (a char is a one-character str), bytes for
list<u8>, lists, tuples for records and tuples, (case, payload) for variants, the case name
for enums, a set of names for flags, None or the value for options, Ok(v) / Err(e) for
results, bytes for handles.

Usage:

    server = Server()

    @server.func("acme:demo/math@0.1.0", "inc", params=[U64], results=[U64])
    def inc(x):
        return (x + 1) % 2**64

    server.serve_forever()  # at $MANIFOLD_PLUGIN_ADDRESS: unix:/path or tcp:host:port
"""

import os
import socket
import struct
import sys
import threading
import traceback

# ---------------------------------------------------------------------------------------------
# Types: small descriptions the encoder and decoder walk. A primitive is a string; a compound
# type is a tuple whose first element names the kind.

BOOL, U8, S8, U16, S16, U32, S32, U64, S64 = (
    "bool", "u8", "s8", "u16", "s16", "u32", "s32", "u64", "s64")
F32, F64, CHAR, STRING = "f32", "f64", "char", "string"
HANDLE = "handle"  # own<R> or borrow<R>: the same bytes on the wire

_BITS = {U16: 16, U32: 32, U64: 64, S16: 16, S32: 32, S64: 64}


def list_(elem):
    return ("list", elem)


def record(*fields):
    """record(("x", S32), ("y", S32)): values are tuples in field order."""
    return ("record", tuple(t for _, t in fields))


def tuple_(*types):
    return ("tuple", types)


def variant(*cases):
    """variant(("circle", F64), ("empty", None)): values are (case name, payload)."""
    return ("variant", tuple(cases))


def enum(*names):
    return ("enum", tuple(names))


def flags(*names):
    return ("flags", tuple(names))


def option(t):
    return ("option", t)


def result(ok=None, err=None):
    return ("result", ok, err)


class Ok:
    def __init__(self, value=None):
        self.value = value


class Err:
    def __init__(self, value=None):
        self.value = value


class Incomplete(Exception):
    """The bytes end before the value does: more frames may bring the rest."""


class Malformed(Exception):
    """The bytes cannot be a value of the type."""


# ---------------------------------------------------------------------------------------------
# LEB128


def put_uleb(out, v):
    """Unsigned LEB128: 7 bits at a time, low first, high bit set on all but the last byte."""
    while True:
        byte = v & 0x7F
        v >>= 7
        if v == 0:
            out.append(byte)
            return
        out.append(byte | 0x80)


def put_sleb(out, v):
    """Signed LEB128: like unsigned, until the rest is all sign bits (Python's >> is
    arithmetic) and bit 6 of the last byte carries the sign."""
    while True:
        byte = v & 0x7F
        v >>= 7
        if (v == 0 and not byte & 0x40) or (v == -1 and byte & 0x40):
            out.append(byte)
            return
        out.append(byte | 0x80)


class Reader:
    """Reads values from bytes; raises Incomplete at the end, Malformed on bad input."""

    def __init__(self, data):
        self.data = data
        self.pos = 0

    def take(self, n):
        if len(self.data) - self.pos < n:
            raise Incomplete()
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def byte(self):
        return self.take(1)[0]

    def uleb(self, bits):
        v, shift = 0, 0
        while True:
            b = self.byte()
            v |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
            if shift >= bits:
                raise Malformed("LEB128 integer too long")
        if v >> bits:
            raise Malformed("integer out of range for u%d" % bits)
        return v

    def sleb(self, bits):
        v, shift = 0, 0
        while True:
            b = self.byte()
            v |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
            if shift >= bits:
                raise Malformed("LEB128 integer too long")
        if b & 0x40:
            v -= 1 << shift
        if not -(1 << (bits - 1)) <= v < (1 << (bits - 1)):
            raise Malformed("integer out of range for s%d" % bits)
        return v


# ---------------------------------------------------------------------------------------------
# Values


def encode(out, t, v):
    """Appends value v of type t to the bytearray out."""
    if t == BOOL:
        out.append(1 if v else 0)
    elif t == U8:
        out.append(v)
    elif t == S8:
        out.append(v & 0xFF)
    elif t in (U16, U32, U64):
        put_uleb(out, v)
    elif t in (S16, S32, S64):
        put_sleb(out, v)
    elif t == F32:
        out += struct.pack("<f", v)
    elif t == F64:
        out += struct.pack("<d", v)
    elif t == CHAR:
        out += v.encode("utf-8")
    elif t == STRING:
        b = v.encode("utf-8")
        put_uleb(out, len(b))
        out += b
    elif t == HANDLE:
        put_uleb(out, len(v))
        out += v
    elif t[0] == "list":
        put_uleb(out, len(v))
        if t[1] == U8:
            out += bytes(v)
        else:
            for item in v:
                encode(out, t[1], item)
    elif t[0] in ("record", "tuple"):
        for ft, fv in zip(t[1], v):
            encode(out, ft, fv)
    elif t[0] == "variant":
        name, payload = v
        index = [c for c, _ in t[1]].index(name)
        put_uleb(out, index)
        if t[1][index][1] is not None:
            encode(out, t[1][index][1], payload)
    elif t[0] == "enum":
        put_uleb(out, t[1].index(v))
    elif t[0] == "flags":
        bits = bytearray(max(1, (len(t[1]) + 7) // 8))
        for name in v:
            i = t[1].index(name)
            bits[i // 8] |= 1 << (i % 8)
        out += bits
    elif t[0] == "option":
        if v is None:
            out.append(0)
        else:
            out.append(1)
            encode(out, t[1], v)
    elif t[0] == "result":
        tag, payload_type = (0, t[1]) if isinstance(v, Ok) else (1, t[2])
        out.append(tag)
        if payload_type is not None:
            encode(out, payload_type, v.value)
    else:
        raise TypeError("unknown type %r" % (t,))


def decode(r, t):
    """Reads one value of type t from Reader r."""
    if t == BOOL:
        b = r.byte()
        if b > 1:
            raise Malformed("bool byte %d" % b)
        return b == 1
    if t == U8:
        return r.byte()
    if t == S8:
        b = r.byte()
        return b - 256 if b > 127 else b
    if t in (U16, U32, U64):
        return r.uleb(_BITS[t])
    if t in (S16, S32, S64):
        return r.sleb(_BITS[t])
    if t == F32:
        return struct.unpack("<f", r.take(4))[0]
    if t == F64:
        return struct.unpack("<d", r.take(8))[0]
    if t == CHAR:
        first = r.byte()
        n = 1 if first < 0x80 else 2 if first >> 5 == 6 else 3 if first >> 4 == 14 else 4
        try:
            c = (bytes([first]) + r.take(n - 1)).decode("utf-8")
        except UnicodeDecodeError:
            raise Malformed("bad char")
        if len(c) != 1:
            raise Malformed("bad char")
        return c
    if t == STRING:
        try:
            return r.take(r.uleb(32)).decode("utf-8")
        except UnicodeDecodeError:
            raise Malformed("string is not UTF-8")
    if t == HANDLE:
        return bytes(r.take(r.uleb(32)))
    kind = t[0]
    if kind == "list":
        n = r.uleb(32)
        if t[1] == U8:
            return bytes(r.take(n))
        return [decode(r, t[1]) for _ in range(n)]
    if kind in ("record", "tuple"):
        return tuple(decode(r, ft) for ft in t[1])
    if kind == "variant":
        i = r.uleb(32)
        if i >= len(t[1]):
            raise Malformed("variant case %d" % i)
        name, payload = t[1][i]
        return (name, None if payload is None else decode(r, payload))
    if kind == "enum":
        i = r.uleb(32)
        if i >= len(t[1]):
            raise Malformed("enum case %d" % i)
        return t[1][i]
    if kind == "flags":
        bits = r.take(max(1, (len(t[1]) + 7) // 8))
        out = set()
        for i in range(len(bits) * 8):
            if bits[i // 8] >> (i % 8) & 1:
                if i >= len(t[1]):
                    raise Malformed("unknown flag %d" % i)
                out.add(t[1][i])
        return out
    if kind == "option":
        tag = r.byte()
        if tag > 1:
            raise Malformed("option tag %d" % tag)
        return decode(r, t[1]) if tag else None
    if kind == "result":
        tag = r.byte()
        if tag > 1:
            raise Malformed("result tag %d" % tag)
        payload_type = t[1] if tag == 0 else t[2]
        value = None if payload_type is None else decode(r, payload_type)
        return Ok(value) if tag == 0 else Err(value)
    raise TypeError("unknown type %r" % (t,))


# ---------------------------------------------------------------------------------------------
# Framing over a socket


class _Conn:
    """Buffered reads from a connected socket."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def read(self, n):
        """Exactly n bytes, or None at a clean end of stream before the first byte."""
        while len(self.buf) < n:
            chunk = self.sock.recv(max(65536, n - len(self.buf)))
            if not chunk:
                if self.buf:
                    raise Malformed("connection closed in the middle of a message")
                return None
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def need(self, n):
        b = self.read(n)
        if b is None:
            raise Malformed("connection closed in the middle of a message")
        return b

    def uleb(self, first=None):
        v, shift = 0, 0
        while True:
            b = first if first is not None else self.need(1)[0]
            first = None
            v |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return v
            if shift > 63:
                raise Malformed("LEB128 integer too long in the framing")

    def name(self):
        n = self.uleb()
        if n > 65536:
            raise Malformed("name of %d bytes" % n)
        try:
            return self.need(n).decode("utf-8")
        except UnicodeDecodeError:
            raise Malformed("name is not UTF-8")

    def frame(self):
        """(path, data) of the next frame, or None at the end of stream."""
        first = self.read(1)
        if first is None:
            return None
        depth = self.uleb(first[0])
        if depth > 32:
            raise Malformed("frame path of depth %d" % depth)
        path = tuple(self.uleb() for _ in range(depth))
        size = self.uleb()
        if size > MAX_MESSAGE:
            raise Malformed("frame of %d bytes" % size)
        return path, self.need(size)


MAX_MESSAGE = 64 << 20  # bytes of parameters accepted in one call
READ_TIMEOUT = 60  # seconds a client may take to send a call


def frame(path, data):
    """The bytes of one frame."""
    out = bytearray()
    put_uleb(out, len(path))
    for p in path:
        put_uleb(out, p)
    put_uleb(out, len(data))
    return bytes(out) + data


# ---------------------------------------------------------------------------------------------
# The server


class Server:
    def __init__(self):
        self.handlers = {}  # (instance, func) -> (param types, result types, function)

    def func(self, instance, name, params=(), results=()):
        """Decorator registering a handler for `instance#name`. The function receives the
        decoded parameters as arguments and returns the result (or a tuple of results when
        there are several, nothing when there are none)."""

        def register(fn):
            self.handlers[(instance, name)] = (list(params), list(results), fn)
            return fn

        return register

    def handle(self, sock):
        """Serves one call on a connected socket; any error closes just this connection."""
        conn = _Conn(sock)
        try:
            # A client that stops sending mid-call does not hold this thread forever.
            sock.settimeout(READ_TIMEOUT)
            version = conn.read(1)
            if version is None:
                return  # a probe: connected and closed without a call
            if version[0] != 0:
                raise Malformed("unsupported wRPC protocol version %d" % version[0])
            instance, name = conn.name(), conn.name()
            entry = self.handlers.get((instance, name))
            if entry is None:
                raise Malformed("no handler for %s#%s" % (instance, name))
            param_types, result_types, fn = entry
            # Parameters: path-[] data until it holds every parameter (or the stream ends).
            data = b""
            while True:
                args = _try_decode(data, param_types)
                if args is not None:
                    break
                f = conn.frame()
                if f is None:
                    raise Malformed("parameters end early")
                path, chunk = f
                if path:
                    raise Malformed("frame on path %r: async values are not supported" % (path,))
                data += chunk
                if len(data) > MAX_MESSAGE:
                    raise Malformed("parameters larger than %d bytes" % MAX_MESSAGE)
            sock.settimeout(None)  # the handler may take as long as it needs
            value = fn(*args)
            values = [] if not result_types else [value] if len(result_types) == 1 else value
            out = bytearray()
            for t, v in zip(result_types, values):
                encode(out, t, v)
            sock.sendall(frame((), bytes(out)) if out else b"")
            # Done: say so, and read what is left (the client's end of stream) so the
            # close does not reset a connection whose results are still in flight.
            sock.shutdown(socket.SHUT_WR)
            sock.settimeout(5)
            while sock.recv(65536):
                pass
        except Exception as e:
            sys.stderr.write("manifold_wrpc: connection dropped: %s: %s\n" % (type(e).__name__, e))
            if not isinstance(e, (Malformed, OSError)):
                traceback.print_exc(file=sys.stderr)
            sys.stderr.flush()
        finally:
            sock.close()

    def listen(self, address=None):
        """A listening socket at `address` (default: $MANIFOLD_PLUGIN_ADDRESS), either
        `unix:/path/to.sock` or `tcp:host:port`."""
        address = address or os.environ.get("MANIFOLD_PLUGIN_ADDRESS")
        if not address:
            raise SystemExit("set MANIFOLD_PLUGIN_ADDRESS to unix:PATH or tcp:HOST:PORT")
        scheme, _, rest = address.partition(":")
        if scheme == "unix":
            if os.path.exists(rest):
                os.unlink(rest)
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.bind(rest)
        elif scheme == "tcp":
            host, _, port = rest.rpartition(":")
            sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host.strip("[]"), int(port)))
        else:
            raise SystemExit("unsupported address %r: use unix:PATH or tcp:HOST:PORT" % address)
        sock.listen(128)
        return sock

    def serve_forever(self, address=None):
        """Accepts connections and serves each on its own thread."""
        listener = self.listen(address)
        while True:
            sock, _ = listener.accept()
            threading.Thread(target=self.handle, args=(sock,), daemon=True).start()


def _try_decode(data, types):
    """The decoded values, or None if `data` ends before they do."""
    r = Reader(data)
    try:
        values = [decode(r, t) for t in types]
    except Incomplete:
        return None
    if r.pos != len(data):
        raise Malformed("%d bytes after the parameters" % (len(data) - r.pos))
    return values
