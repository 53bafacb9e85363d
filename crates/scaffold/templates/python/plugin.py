#!/usr/bin/env python3
"""{{NAME}}: a Manifold RPC plugin in standard-library Python, scaffolded from wit/{{WIT_FILE}}
by `manifold plugin new`.

Every handler below raises NotImplementedError: the host then fails that call, and the
plugin's log (the host's log) says which function is missing. Replace each body with the
real thing. Values: int, float, bool, a one-character str for char, str, bytes for
list<u8>, lists, tuples for records and tuples (fields in order), (case, payload) for
variants, the case name for enums, a set of names for flags, None or the value for options,
Ok(v) / Err(e) for results, bytes for resource handles (choose them yourself; make them
unguessable). manifold_wrpc.py (a copy, free to edit) has the details.

Run it under the host (see plugin.toml), or on its own:

    MANIFOLD_PLUGIN_ADDRESS=tcp:127.0.0.1:7070 python3 plugin.py
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from manifold_wrpc import (  # noqa: E402,F401
    BOOL, CHAR, F32, F64, HANDLE, S8, S16, S32, S64, STRING, U8, U16, U32, U64,
    Err, Ok, Server, enum, flags, list_, option, record, result, tuple_, variant,
)

{{INTERFACES}}

{{TYPES}}

server = Server()


{{HANDLERS}}


if __name__ == "__main__":
    server.serve_forever()
