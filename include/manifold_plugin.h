/*
 * manifold_plugin.h: the C ABI of Manifold dynamic-library plugins, version 1.
 *
 * A plugin is a shared library exporting one function, manifold_plugin_entry. The host calls
 * it once with its ABI version; the plugin returns a table that lives as long as the library
 * is loaded (or NULL to refuse). The host checks abi_version before reading anything else.
 *
 * Values travel in Manifold's wire encoding (the component model value encoding, as wRPC
 * uses it); see docs/plugins.md, "Wire encoding". A call names the interface
 * ("acme:billing/charge@0.1.0"), the function ("charge"; "counter.add" for a method,
 * "counter" for a constructor, "[drop]counter" when a guest drops a handle) and passes the
 * encoded parameters; the plugin answers with the encoded results, or an error message.
 *
 * Resources are opaque handles chosen by the plugin (any bytes); the host never looks inside.
 *
 * Kept in step with crates/plugin-api/src/abi.rs by a test.
 */
#ifndef MANIFOLD_PLUGIN_H
#define MANIFOLD_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MANIFOLD_PLUGIN_ABI_VERSION 1

/* Status codes of call. */
#define MANIFOLD_STATUS_OK 0    /* out holds the encoded results */
#define MANIFOLD_STATUS_ERROR 1 /* out holds a UTF-8 error message */
#define MANIFOLD_STATUS_PANIC 2 /* (Rust plugins) out holds the panic message */

/* A buffer the plugin allocated; the host returns it with free_buf. */
typedef struct manifold_buf {
    uint8_t *ptr;
    size_t len;
    size_t cap; /* for the plugin's allocator; the host never reads it */
} manifold_buf;

typedef struct manifold_plugin_v1 {
    uint32_t abi_version; /* MANIFOLD_PLUGIN_ABI_VERSION; always first */
    const char *wit;      /* UTF-8 text of the WIT package the plugin implements */
    size_t wit_len;
    void *ctx; /* passed back on every call */
    /* May be called from several threads at once. Strings are UTF-8, not NUL-terminated. */
    int32_t (*call)(void *ctx, const uint8_t *instance, size_t instance_len, const uint8_t *func,
                    size_t func_len, const uint8_t *params, size_t params_len, manifold_buf *out);
    void (*free_buf)(void *ctx, manifold_buf buf);
} manifold_plugin_v1;

/* The entry symbol every plugin exports. */
const manifold_plugin_v1 *manifold_plugin_entry(uint32_t host_abi_version);

#ifdef __cplusplus
}
#endif

#endif /* MANIFOLD_PLUGIN_H */
