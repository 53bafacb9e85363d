/*
 * manifold_plugin.h: the C ABI of Manifold dynamic-library plugins, version 2.
 *
 * A plugin is a shared library exporting one function, manifold_plugin_entry. The host calls
 * it once with its ABI version; the plugin returns a table that lives as long as the library
 * is loaded (or NULL to refuse). The host checks abi_version before reading anything else.
 *
 * At load, the host resolves every function of the WIT the plugin declares with lookup
 * (interface "acme:billing/charge@0.1.0" and function "charge"; "counter.add" for a method,
 * "counter" for a constructor, "[drop]counter" when a guest drops a handle) and keeps the
 * index. A call passes that index and the encoded parameters; the plugin answers with the
 * encoded results, or an error message, in `out`.
 *
 * Values travel in Manifold's wire encoding (the component model value encoding, as wRPC
 * uses it); see docs/plugins.md, "Wire encoding".
 *
 * Resources are opaque handles chosen by the plugin (any bytes); the host never looks inside.
 *
 * Kept in step with crates/plugin-api/src/abi.rs by a test there.
 */
#ifndef MANIFOLD_PLUGIN_H
#define MANIFOLD_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MANIFOLD_PLUGIN_ABI_VERSION 2

/* Status codes of call. */
#define MANIFOLD_STATUS_OK 0    /* out holds the encoded results */
#define MANIFOLD_STATUS_ERROR 1 /* out holds a UTF-8 error message */
#define MANIFOLD_STATUS_PANIC 2 /* (Rust plugins) out holds the panic message */

/* What lookup answers for a function the plugin does not have (any negative number). */
#define MANIFOLD_NO_FUNCTION (-1)

/*
 * A buffer. As call's `out`, the host passes its own scratch buffer: ptr, len = 0 and cap,
 * the room at ptr. The plugin either writes at most cap bytes at ptr and sets len (ptr and
 * cap unchanged), or, when they do not fit, replaces ptr, len and cap with a buffer of its
 * own, which the host copies and then returns with free_buf. Setting ptr to NULL means no
 * bytes.
 */
typedef struct manifold_buf {
    uint8_t *ptr;
    size_t len;
    size_t cap; /* for a buffer of the plugin's: whatever its allocator needs */
} manifold_buf;

typedef struct manifold_plugin_v2 {
    uint32_t abi_version; /* MANIFOLD_PLUGIN_ABI_VERSION; always first */
    const char *wit;      /* UTF-8 text of the WIT package the plugin implements */
    size_t wit_len;
    void *ctx; /* passed back on every call */
    /* The index of a function, or MANIFOLD_NO_FUNCTION. Once per function, at load. Strings
     * are UTF-8, not NUL-terminated. */
    int64_t (*lookup)(void *ctx, const uint8_t *instance, size_t instance_len,
                      const uint8_t *func, size_t func_len);
    /* Calls the function lookup gave `index`. May be called from several threads at once. */
    int32_t (*call)(void *ctx, uint64_t index, const uint8_t *params, size_t params_len,
                    manifold_buf *out);
    /* Frees a buffer of the plugin's that call put in `out` (never the host's scratch). */
    void (*free_buf)(void *ctx, manifold_buf buf);
} manifold_plugin_v2;

/* The entry symbol every plugin exports. */
const manifold_plugin_v2 *manifold_plugin_entry(uint32_t host_abi_version);

#ifdef __cplusplus
}
#endif

#endif /* MANIFOLD_PLUGIN_H */
