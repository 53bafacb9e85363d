/*
 * manifold_wire.h: read and write Manifold's plugin wire encoding from C (header only).
 *
 * A dynamic-library plugin (include/manifold_plugin.h) receives its parameters and returns its
 * results in the component model's value encoding, as wRPC uses it (docs/plugins.md, "Wire
 * encoding"; crates/plugin-api/src/wire.rs is the host's side):
 *
 *   bool, u8, s8            one byte (bool: 0 or 1)
 *   u16, u32, u64           unsigned LEB128
 *   s16, s32, s64           signed LEB128
 *   f32, f64                little-endian IEEE 754 (NaN canonical)
 *   char                    its UTF-8 bytes (no length)
 *   string, list<T>         LEB128 length (bytes for a string, elements for a list), then them
 *   record, tuple           the fields in order
 *   variant, enum           LEB128 case index, then the case's payload if any
 *   option<T>               one byte 0, or 1 then T
 *   result<T, E>            one byte 0 then T, or 1 then E
 *   flags                   a little-endian bit set of ceil(n/8) bytes, bit i = flag i
 *   own<R>, borrow<R>       the plugin's own handle bytes, as a list<u8>
 *
 * Parameters come one after another in one buffer; results go out the same way.
 *
 * Reading: an mw_reader keeps the first error and turns every later read into a no-op that
 * returns 0, so a function reads all its parameters and checks once, at the end:
 *
 *     mw_reader in = mw_reader_new(params, params_len);
 *     uint64_t x = mw_read_u64(&in);
 *     if (!mw_read_end(&in)) return mw_reply_bad_params(&in, out);
 *
 * Writing: mw_writer_for(out) writes into the buffer the host lends for the results and moves
 * to a malloc'd one only when they outgrow it; mw_reply hands the result to the host as the
 * call's `out` (or turns an allocation failure into an error reply). Use mw_free_buf as the
 * table's free_buf. Errors go back as text with mw_reply_error, in place when they fit:
 *
 *     mw_writer w = mw_writer_for(out);
 *     mw_write_u64(&w, x + 1);
 *     return mw_reply(&w, out);
 *
 * Nothing here keeps global state: readers and writers are per call, so a plugin built on
 * them is as thread-safe as its own state.
 *
 * Strings and byte lists are read in place: mw_read_string and mw_read_bytes return pointers
 * into the parameter buffer, valid until the call returns. Strings are checked to be UTF-8.
 */
#ifndef MANIFOLD_WIRE_H
#define MANIFOLD_WIRE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "manifold_plugin.h"

/* ---------------------------------------------------------------------------------------- */
/* UTF-8                                                                                     */

/*
 * Decodes one UTF-8 scalar value from s[0..n) into *cp. Returns the bytes it took (1 to 4),
 * or 0 when they are not valid UTF-8 (overlong forms, surrogates and values past U+10FFFF
 * are invalid, as in Rust's str).
 */
static inline size_t mw_utf8_decode(const uint8_t *s, size_t n, uint32_t *cp) {
    if (n == 0) return 0;
    uint8_t c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t need;
    uint32_t v, min;
    if (c >= 0xc2 && c <= 0xdf) {
        need = 1, v = c & 0x1f, min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        need = 2, v = c & 0x0f, min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        need = 3, v = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (n - 1 < need) return 0;
    for (size_t i = 1; i <= need; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0;
        v = (v << 6) | (s[i] & 0x3f);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) return 0;
    *cp = v;
    return need + 1;
}

static inline bool mw_utf8_valid(const uint8_t *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        if (s[i] < 0x80) { /* the common case, without a call */
            i++;
            continue;
        }
        uint32_t cp;
        size_t used = mw_utf8_decode(s + i, n - i, &cp);
        if (used == 0) return false;
        i += used;
    }
    return true;
}

/* Whether cp is a Unicode scalar value (what a WIT char may hold). */
static inline bool mw_is_scalar(uint32_t cp) {
    return cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff);
}

/* ---------------------------------------------------------------------------------------- */
/* Reading                                                                                   */

typedef struct mw_reader {
    const uint8_t *data;
    size_t len;
    size_t pos;
    const char *error; /* the first error (a static string), NULL while every read succeeded */
    size_t error_at;   /* its byte offset */
} mw_reader;

static inline mw_reader mw_reader_new(const uint8_t *data, size_t len) {
    mw_reader r = {data, len, 0, NULL, 0};
    if (data == NULL) r.len = 0;
    return r;
}

/* Records an error (the first one wins); always returns false. */
static inline bool mw_reader_fail(mw_reader *r, const char *what, size_t at) {
    if (r->error == NULL) {
        r->error = what;
        r->error_at = at;
    }
    return false;
}

/* Whether every read so far succeeded. */
static inline bool mw_reader_ok(const mw_reader *r) { return r->error == NULL; }

/* The next n bytes, or NULL (after an error, or when fewer are left). */
static inline const uint8_t *mw_take(mw_reader *r, size_t n) {
    if (r->error != NULL) return NULL;
    if (r->len - r->pos < n) {
        mw_reader_fail(r, "value ends early", r->pos);
        return NULL;
    }
    if (n == 0) return (const uint8_t *)"";
    const uint8_t *p = r->data + r->pos;
    r->pos += n;
    return p;
}

/* An unsigned LEB128 integer that must fit in `bits` bits (at most 64). */
static inline uint64_t mw_read_uleb(mw_reader *r, unsigned bits) {
    size_t at = r->pos;
    uint64_t v = 0;
    unsigned shift = 0;
    for (;;) {
        const uint8_t *b = mw_take(r, 1);
        if (b == NULL) return 0;
        if (shift >= 64 || (shift == 63 && (*b & 0x7f) > 1)) {
            mw_reader_fail(r, "bad LEB128 integer", at);
            return 0;
        }
        v |= (uint64_t)(*b & 0x7f) << shift;
        shift += 7;
        if ((*b & 0x80) == 0) break;
    }
    if (bits < 64 && (v >> bits) != 0) {
        mw_reader_fail(r, "integer out of range for its type", at);
        return 0;
    }
    return v;
}

/* A signed LEB128 integer that must fit in `bits` bits (at most 64). */
static inline int64_t mw_read_sleb(mw_reader *r, unsigned bits) {
    size_t at = r->pos;
    uint64_t v = 0;
    unsigned shift = 0;
    uint8_t byte;
    for (;;) {
        const uint8_t *b = mw_take(r, 1);
        if (b == NULL) return 0;
        byte = *b;
        if (shift >= 64) {
            mw_reader_fail(r, "bad LEB128 integer", at);
            return 0;
        }
        v |= (uint64_t)(byte & 0x7f) << shift;
        shift += 7;
        if ((byte & 0x80) == 0) break;
    }
    if (shift < 64 && (byte & 0x40) != 0) v |= ~(uint64_t)0 << shift; /* sign-extend */
    int64_t s = (int64_t)v; /* two's complement, as every target of clang and gcc */
    if (bits < 64) {
        int64_t max = (int64_t)((UINT64_C(1) << (bits - 1)) - 1);
        if (s > max || s < -max - 1) {
            mw_reader_fail(r, "integer out of range for its type", at);
            return 0;
        }
    }
    return s;
}

static inline uint8_t mw_read_u8(mw_reader *r) {
    const uint8_t *b = mw_take(r, 1);
    return b ? *b : 0;
}
static inline int8_t mw_read_s8(mw_reader *r) { return (int8_t)mw_read_u8(r); }
static inline uint16_t mw_read_u16(mw_reader *r) { return (uint16_t)mw_read_uleb(r, 16); }
static inline uint32_t mw_read_u32(mw_reader *r) { return (uint32_t)mw_read_uleb(r, 32); }
static inline uint64_t mw_read_u64(mw_reader *r) { return mw_read_uleb(r, 64); }
static inline int16_t mw_read_s16(mw_reader *r) { return (int16_t)mw_read_sleb(r, 16); }
static inline int32_t mw_read_s32(mw_reader *r) { return (int32_t)mw_read_sleb(r, 32); }
static inline int64_t mw_read_s64(mw_reader *r) { return mw_read_sleb(r, 64); }

/* A one-byte tag that must be 0 or 1 (bool, option, result); `what` names it in errors. */
static inline bool mw_read_tag(mw_reader *r, const char *what) {
    size_t at = r->pos;
    const uint8_t *b = mw_take(r, 1);
    if (b == NULL) return false;
    if (*b > 1) return mw_reader_fail(r, what, at);
    return *b == 1;
}
static inline bool mw_read_bool(mw_reader *r) { return mw_read_tag(r, "invalid bool"); }
/* option<T>: whether a T follows. */
static inline bool mw_read_option(mw_reader *r) { return mw_read_tag(r, "invalid option tag"); }
/* result<T, E>: whether it is the error (an E follows) rather than ok (a T follows). */
static inline bool mw_read_result_is_err(mw_reader *r) {
    return mw_read_tag(r, "invalid result tag");
}

static inline float mw_read_f32(mw_reader *r) {
    const uint8_t *b = mw_take(r, 4);
    if (b == NULL) return 0;
    uint32_t bits = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
                    (uint32_t)b[3] << 24;
    float v;
    memcpy(&v, &bits, sizeof v);
    return v;
}

static inline double mw_read_f64(mw_reader *r) {
    const uint8_t *b = mw_take(r, 8);
    if (b == NULL) return 0;
    uint64_t bits = 0;
    for (int i = 7; i >= 0; i--) bits = bits << 8 | b[i];
    double v;
    memcpy(&v, &bits, sizeof v);
    return v;
}

/* A char: its code point (a Unicode scalar value). */
static inline uint32_t mw_read_char(mw_reader *r) {
    if (r->error != NULL) return 0;
    if (r->pos >= r->len) {
        mw_reader_fail(r, "value ends early", r->pos);
        return 0;
    }
    uint32_t cp;
    size_t used = mw_utf8_decode(r->data + r->pos, r->len - r->pos, &cp);
    if (used == 0) {
        mw_reader_fail(r, "invalid char", r->pos);
        return 0;
    }
    r->pos += used;
    return cp;
}

/*
 * A string's or list's length. Each element takes at least `min_size` bytes, so a length
 * that cannot fit in what is left is an error before anything is allocated for it.
 */
static inline size_t mw_read_len(mw_reader *r, size_t min_size) {
    size_t at = r->pos;
    size_t n = (size_t)mw_read_uleb(r, 32);
    if (r->error != NULL) return 0;
    if (min_size != 0 && n > (r->len - r->pos) / min_size) {
        mw_reader_fail(r, "length longer than the value", at);
        return 0;
    }
    return n;
}

/* A list<u8> (or a resource handle): a pointer into the parameters, and its length. */
static inline const uint8_t *mw_read_bytes(mw_reader *r, size_t *len) {
    *len = mw_read_len(r, 1);
    const uint8_t *p = mw_take(r, *len);
    if (p == NULL) *len = 0;
    return p;
}

/* A string, checked to be UTF-8 (not NUL-terminated). */
static inline const char *mw_read_string(mw_reader *r, size_t *len) {
    size_t at = r->pos;
    const uint8_t *p = mw_read_bytes(r, len);
    if (p == NULL) return NULL;
    if (!mw_utf8_valid(p, *len)) {
        mw_reader_fail(r, "invalid UTF-8 string", at);
        *len = 0;
        return NULL;
    }
    return (const char *)p;
}

/* A variant's or enum's case index, which must be below `cases`. */
static inline uint32_t mw_read_case(mw_reader *r, uint32_t cases) {
    size_t at = r->pos;
    uint32_t c = mw_read_u32(r);
    if (r->error == NULL && c >= cases) {
        mw_reader_fail(r, "unknown variant or enum case", at);
        return 0;
    }
    return c;
}

/* Flags of a type with `count` flags (1 to 64): bit i of the result is flag i. */
static inline uint64_t mw_read_flags(mw_reader *r, unsigned count) {
    size_t at = r->pos;
    if (count == 0 || count > 64) {
        mw_reader_fail(r, "mw_read_flags handles 1 to 64 flags", at);
        return 0;
    }
    size_t n = (count + 7) / 8;
    const uint8_t *b = mw_take(r, n);
    if (b == NULL) return 0;
    uint64_t bits = 0;
    for (size_t i = 0; i < n; i++) bits |= (uint64_t)b[i] << (8 * i);
    if (count < 64 && (bits >> count) != 0) {
        mw_reader_fail(r, "unknown flag set", at);
        return 0;
    }
    return bits;
}

/* After the last parameter: true when every read succeeded and nothing is left over. */
static inline bool mw_read_end(mw_reader *r) {
    if (r->error == NULL && r->pos != r->len) {
        mw_reader_fail(r, "trailing bytes after the last parameter", r->pos);
    }
    return r->error == NULL;
}

/* ---------------------------------------------------------------------------------------- */
/* Writing                                                                                   */

typedef struct mw_writer {
    uint8_t *ptr;
    size_t len;
    size_t cap;
    const char *error; /* the first error (out of memory, a value that cannot be encoded) */
    bool owned;        /* ptr is ours (malloc'd), not the host's buffer */
} mw_writer;

/* A writer with a malloc'd buffer of its own (grown on the first write). */
#define MW_WRITER_INIT {NULL, 0, 0, NULL, true}

/*
 * A writer that starts in the host's buffer `out` (call's output): results that fit are
 * written in place, with no allocation; past its room the writer moves to a malloc'd buffer
 * of its own. Reply with mw_reply(&w, out).
 */
static inline mw_writer mw_writer_for(const manifold_buf *out) {
    mw_writer w = {out->ptr, 0, out->ptr != NULL ? out->cap : 0, NULL, out->ptr == NULL};
    return w;
}

static inline void mw_writer_fail(mw_writer *w, const char *what) {
    if (w->error == NULL) w->error = what;
}

/* Room for n more bytes at the end; returns where they go (len already counts them), or NULL. */
static inline uint8_t *mw_extend(mw_writer *w, size_t n) {
    if (w->error != NULL) return NULL;
    if (w->cap - w->len < n) {
        if (n > SIZE_MAX / 2 - w->len) {
            mw_writer_fail(w, "result too large");
            return NULL;
        }
        size_t cap = w->cap * 2;
        if (cap < w->len + n) cap = w->len + n;
        if (cap < 64) cap = 64;
        uint8_t *p;
        if (w->owned) {
            p = (uint8_t *)realloc(w->ptr, cap);
        } else {
            /* Leaving the host's buffer: it stays the host's, we copy what we wrote. */
            p = (uint8_t *)malloc(cap);
            if (p != NULL && w->len != 0) memcpy(p, w->ptr, w->len);
        }
        if (p == NULL) {
            mw_writer_fail(w, "out of memory");
            return NULL;
        }
        w->ptr = p;
        w->cap = cap;
        w->owned = true;
    }
    uint8_t *at = w->ptr + w->len;
    w->len += n;
    return at;
}

static inline void mw_write_raw(mw_writer *w, const void *data, size_t n) {
    if (n == 0) return;
    uint8_t *at = mw_extend(w, n);
    if (at != NULL) memcpy(at, data, n);
}

static inline void mw_write_u8(mw_writer *w, uint8_t v) { mw_write_raw(w, &v, 1); }
static inline void mw_write_s8(mw_writer *w, int8_t v) { mw_write_u8(w, (uint8_t)v); }
static inline void mw_write_bool(mw_writer *w, bool v) { mw_write_u8(w, v ? 1 : 0); }

static inline void mw_write_uleb(mw_writer *w, uint64_t v) {
    uint8_t buf[10];
    size_t n = 0;
    do {
        uint8_t byte = v & 0x7f;
        v >>= 7;
        buf[n++] = v != 0 ? (uint8_t)(byte | 0x80) : byte;
    } while (v != 0);
    mw_write_raw(w, buf, n);
}

static inline void mw_write_sleb(mw_writer *w, int64_t value) {
    uint8_t buf[10];
    size_t n = 0;
    uint64_t v = (uint64_t)value;
    bool negative = value < 0;
    for (;;) {
        uint8_t byte = v & 0x7f;
        /* An arithmetic shift right by 7, spelled out on the unsigned value. */
        v = (v >> 7) | (negative ? ~(~(uint64_t)0 >> 7) : 0);
        bool done = (v == 0 && (byte & 0x40) == 0) || (v == ~(uint64_t)0 && (byte & 0x40) != 0);
        buf[n++] = done ? byte : (uint8_t)(byte | 0x80);
        if (done) break;
    }
    mw_write_raw(w, buf, n);
}

static inline void mw_write_u16(mw_writer *w, uint16_t v) { mw_write_uleb(w, v); }
static inline void mw_write_u32(mw_writer *w, uint32_t v) { mw_write_uleb(w, v); }
static inline void mw_write_u64(mw_writer *w, uint64_t v) { mw_write_uleb(w, v); }
static inline void mw_write_s16(mw_writer *w, int16_t v) { mw_write_sleb(w, v); }
static inline void mw_write_s32(mw_writer *w, int32_t v) { mw_write_sleb(w, v); }
static inline void mw_write_s64(mw_writer *w, int64_t v) { mw_write_sleb(w, v); }

static inline void mw_write_f32(mw_writer *w, float v) {
    uint32_t bits;
    memcpy(&bits, &v, sizeof bits);
    if (v != v) bits = UINT32_C(0x7fc00000); /* canonical NaN */
    uint8_t b[4];
    for (int i = 0; i < 4; i++) b[i] = (uint8_t)(bits >> (8 * i));
    mw_write_raw(w, b, 4);
}

static inline void mw_write_f64(mw_writer *w, double v) {
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    if (v != v) bits = UINT64_C(0x7ff8000000000000); /* canonical NaN */
    uint8_t b[8];
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)(bits >> (8 * i));
    mw_write_raw(w, b, 8);
}

/* A char from its code point, which must be a Unicode scalar value. */
static inline void mw_write_char(mw_writer *w, uint32_t cp) {
    uint8_t b[4];
    size_t n;
    if (!mw_is_scalar(cp)) {
        mw_writer_fail(w, "not a Unicode scalar value");
        return;
    }
    if (cp < 0x80) {
        b[0] = (uint8_t)cp, n = 1;
    } else if (cp < 0x800) {
        b[0] = (uint8_t)(0xc0 | cp >> 6), b[1] = (uint8_t)(0x80 | (cp & 0x3f)), n = 2;
    } else if (cp < 0x10000) {
        b[0] = (uint8_t)(0xe0 | cp >> 12), b[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
        b[2] = (uint8_t)(0x80 | (cp & 0x3f)), n = 3;
    } else {
        b[0] = (uint8_t)(0xf0 | cp >> 18), b[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
        b[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f)), b[3] = (uint8_t)(0x80 | (cp & 0x3f));
        n = 4;
    }
    mw_write_raw(w, b, n);
}

/* A list's or string's length (at most 2^32 - 1). */
static inline void mw_write_len(mw_writer *w, size_t n) {
    if ((uint64_t)n > UINT32_MAX) {
        mw_writer_fail(w, "list or string longer than 2^32 - 1");
        return;
    }
    mw_write_uleb(w, n);
}

/* A list<u8> (or a resource handle). */
static inline void mw_write_bytes(mw_writer *w, const void *data, size_t n) {
    mw_write_len(w, n);
    mw_write_raw(w, data, n);
}

/* A string; the caller guarantees UTF-8 (e.g. built from strings it read). */
static inline void mw_write_string(mw_writer *w, const char *s, size_t n) {
    mw_write_bytes(w, s, n);
}

/* A variant's or enum's case index. */
static inline void mw_write_case(mw_writer *w, uint32_t index) { mw_write_uleb(w, index); }

/* option<T>: 0 for none; 1, then write the T. */
static inline void mw_write_option(mw_writer *w, bool some) { mw_write_u8(w, some ? 1 : 0); }

/* result<T, E>: 0, then the T; or 1, then the E. */
static inline void mw_write_result(mw_writer *w, bool is_err) { mw_write_u8(w, is_err ? 1 : 0); }

/* Flags of a type with `count` flags (1 to 64): bit i of `bits` is flag i. */
static inline void mw_write_flags(mw_writer *w, unsigned count, uint64_t bits) {
    if (count == 0 || count > 64) {
        mw_writer_fail(w, "mw_write_flags handles 1 to 64 flags");
        return;
    }
    uint8_t b[8];
    size_t n = (count + 7) / 8;
    for (size_t i = 0; i < n; i++) b[i] = (uint8_t)(bits >> (8 * i));
    mw_write_raw(w, b, n);
}

/* ---------------------------------------------------------------------------------------- */
/* Replies                                                                                   */

/* The table's free_buf: every buffer these helpers hand the host comes from malloc (the
 * host never passes its own buffer back). */
static inline void mw_free_buf(void *ctx, manifold_buf buf) {
    (void)ctx;
    free(buf.ptr);
}

/* Fails the call with a message (printf-style); returns MANIFOLD_STATUS_ERROR. The message
 * goes into the host's buffer when it fits. */
__attribute__((format(printf, 2, 3))) static inline int32_t mw_reply_error(manifold_buf *out,
                                                                          const char *fmt,
                                                                          ...) {
    out->len = 0;
    va_list args;
    va_start(args, fmt);
    int n = vsnprintf(NULL, 0, fmt, args);
    va_end(args);
    if (n < 0) return MANIFOLD_STATUS_ERROR;
    size_t need = (size_t)n + 1; /* vsnprintf writes a NUL */
    if (out->ptr != NULL && need <= out->cap) {
        va_start(args, fmt);
        vsnprintf((char *)out->ptr, need, fmt, args);
        va_end(args);
        out->len = (size_t)n;
        return MANIFOLD_STATUS_ERROR;
    }
    /* Without memory for the message, the host still sees the failure, with no text. */
    uint8_t *msg = (uint8_t *)malloc(need);
    if (msg == NULL) return MANIFOLD_STATUS_ERROR;
    va_start(args, fmt);
    vsnprintf((char *)msg, need, fmt, args);
    va_end(args);
    out->ptr = msg;
    out->len = (size_t)n;
    out->cap = need;
    return MANIFOLD_STATUS_ERROR;
}

/* Fails the call because its parameters could not be read (after mw_read_end said false). */
static inline int32_t mw_reply_bad_params(const mw_reader *in, manifold_buf *out) {
    return mw_reply_error(out, "malformed parameters: %s at byte %zu",
                          in->error ? in->error : "unknown error", in->error_at);
}

/* Drops a writer's bytes without replying (e.g. when the call fails after writing). */
static inline void mw_writer_free(mw_writer *w) {
    if (w->owned) free(w->ptr);
    *w = (mw_writer)MW_WRITER_INIT;
}

/* Hands the writer's bytes to the host as the call's results; the writer is emptied. A
 * writer from mw_writer_for(out) that stayed in the host's buffer only sets out->len. */
static inline int32_t mw_reply(mw_writer *w, manifold_buf *out) {
    if (w->error != NULL) {
        const char *error = w->error;
        mw_writer_free(w);
        return mw_reply_error(out, "cannot encode the results: %s", error);
    }
    if (w->owned) {
        out->ptr = w->ptr;
        out->cap = w->cap;
    }
    out->len = w->len;
    *w = (mw_writer)MW_WRITER_INIT;
    return MANIFOLD_STATUS_OK;
}

#endif /* MANIFOLD_WIRE_H */
