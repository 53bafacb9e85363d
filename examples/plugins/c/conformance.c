/*
 * conformance.c: manifold:conformance/types@0.1.0 as a C dynamic-library plugin.
 *
 * Every function of crates/test-programs/wit/conformance.wit, including the `counter`
 * resource, served through the C ABI of include/manifold_plugin.h with the wire helpers of
 * manifold_wire.h. The conformance guest passes against it exactly as against the built-in
 * provider (tests/all/plugins_dylib.rs). Build it from the repository's root with
 *
 *     clang -shared -fPIC -O2 -Wall -Wextra -Werror -pthread -I include \
 *         -o libconformance.so examples/plugins/c/conformance.c
 *
 * and configure it in manifold.toml:
 *
 *     [plugins.c]
 *     kind = "dylib"
 *     path = "libconformance.so"
 *
 * The WIT the plugin declares is the repository's conformance.wit itself, assembled into the
 * library with `.incbin` (one source of truth, nothing generated); compile from elsewhere with
 * -DCONFORMANCE_WIT_PATH='"/path/to/conformance.wit"'.
 *
 * Threads: the host may call from several threads at once. Only the counter table is shared;
 * one mutex guards it. Everything else works on the call's own reader and writer.
 *
 * Bad input: every parameter is read through mw_reader, which checks lengths, ranges, UTF-8
 * and trailing bytes; a malformed call, an unknown function or a stale handle gets
 * MANIFOLD_STATUS_ERROR and a message, never a crash.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "manifold_plugin.h"
#include "manifold_wire.h"

#define INTERFACE "manifold:conformance/types@0.1.0"

/* ---------------------------------------------------------------------------------------- */
/* The WIT, embedded from the file the host's tests and the guest use.                        */

#ifndef CONFORMANCE_WIT_PATH
#define CONFORMANCE_WIT_PATH "crates/test-programs/wit/conformance.wit"
#endif

#if !defined(__ELF__)
#error "this example embeds its WIT with ELF assembler directives (Linux, BSD)"
#endif

__asm__(".pushsection .rodata\n"
        ".globl conformance_wit_start\n"
        ".hidden conformance_wit_start\n"
        ".globl conformance_wit_end\n"
        ".hidden conformance_wit_end\n"
        "conformance_wit_start:\n"
        ".incbin \"" CONFORMANCE_WIT_PATH "\"\n"
        "conformance_wit_end:\n"
        ".popsection\n");

extern const char conformance_wit_start[] __attribute__((visibility("hidden")));
extern const char conformance_wit_end[] __attribute__((visibility("hidden")));

/* ---------------------------------------------------------------------------------------- */
/* Counters: the resource. A handle is 8 bytes, the slot's index and its generation (both
 * little-endian u32), so a dropped or forged handle is recognised instead of reaching another
 * counter that reuses the slot. */

#define NO_SLOT UINT32_MAX
#define MAX_COUNTERS (UINT32_C(1) << 24)
#define HANDLE_LEN 8

typedef struct slot {
    uint64_t value;
    uint32_t generation; /* bumped when the counter is dropped */
    uint32_t next_free;  /* while free: the next free slot */
    bool live;
} slot;

static struct counters {
    pthread_mutex_t lock;
    slot *slots;
    uint32_t len, cap;
    uint32_t free_head;
    uint32_t live;
} counters = {PTHREAD_MUTEX_INITIALIZER, NULL, 0, 0, NO_SLOT, 0};

static void write_handle(mw_writer *w, uint32_t index, uint32_t generation) {
    uint8_t h[HANDLE_LEN];
    for (int i = 0; i < 4; i++) {
        h[i] = (uint8_t)(index >> (8 * i));
        h[4 + i] = (uint8_t)(generation >> (8 * i));
    }
    mw_write_bytes(w, h, sizeof h);
}

/* A handle as read from the parameters; checked against the table under its lock. */
typedef struct handle {
    uint32_t index, generation;
    bool well_formed;
} handle;

static handle read_handle(mw_reader *in) {
    handle h = {0, 0, false};
    size_t len;
    const uint8_t *b = mw_read_bytes(in, &len);
    if (b == NULL || len != HANDLE_LEN) return h;
    for (int i = 0; i < 4; i++) {
        h.index |= (uint32_t)b[i] << (8 * i);
        h.generation |= (uint32_t)b[4 + i] << (8 * i);
    }
    h.well_formed = true;
    return h;
}

/* The live counter a handle names, or NULL. Call with the lock held. */
static slot *lookup(handle h) {
    if (!h.well_formed || h.index >= counters.len) return NULL;
    slot *s = &counters.slots[h.index];
    return s->live && s->generation == h.generation ? s : NULL;
}

static int32_t bad_handle(manifold_buf *out) {
    return mw_reply_error(out, "unknown counter handle: not issued by this plugin, or dropped");
}

/* [constructor]counter(start: u64) -> own<counter> */
static int32_t counter_new(mw_reader *in, manifold_buf *out) {
    uint64_t start = mw_read_u64(in);
    if (!mw_read_end(in)) return mw_reply_bad_params(in, out);

    pthread_mutex_lock(&counters.lock);
    if (counters.live >= MAX_COUNTERS) {
        pthread_mutex_unlock(&counters.lock);
        return mw_reply_error(out, "too many live counters (%u)", (unsigned)MAX_COUNTERS);
    }
    uint32_t index = counters.free_head;
    if (index != NO_SLOT) {
        counters.free_head = counters.slots[index].next_free;
    } else {
        if (counters.len == counters.cap) {
            uint32_t cap = counters.cap ? counters.cap * 2 : 64;
            slot *grown = (slot *)realloc(counters.slots, (size_t)cap * sizeof(slot));
            if (grown == NULL) {
                pthread_mutex_unlock(&counters.lock);
                return mw_reply_error(out, "out of memory for a new counter");
            }
            counters.slots = grown;
            counters.cap = cap;
        }
        index = counters.len++;
        counters.slots[index].generation = 0;
    }
    slot *s = &counters.slots[index];
    s->value = start;
    s->live = true;
    s->next_free = NO_SLOT;
    counters.live++;
    uint32_t generation = s->generation;
    pthread_mutex_unlock(&counters.lock);

    mw_writer w = mw_writer_for(out);
    write_handle(&w, index, generation);
    return mw_reply(&w, out);
}

/* [method]counter.add(self: borrow<counter>, n: u64) -> u64 */
static int32_t counter_add(mw_reader *in, manifold_buf *out) {
    handle h = read_handle(in);
    uint64_t n = mw_read_u64(in);
    if (!mw_read_end(in)) return mw_reply_bad_params(in, out);
    pthread_mutex_lock(&counters.lock);
    slot *s = lookup(h);
    uint64_t value = 0;
    if (s != NULL) value = s->value += n; /* unsigned: wraps */
    pthread_mutex_unlock(&counters.lock);
    if (s == NULL) return bad_handle(out);
    mw_writer w = mw_writer_for(out);
    mw_write_u64(&w, value);
    return mw_reply(&w, out);
}

/* [method]counter.value(self: borrow<counter>) -> u64 */
static int32_t counter_value(mw_reader *in, manifold_buf *out) {
    handle h = read_handle(in);
    if (!mw_read_end(in)) return mw_reply_bad_params(in, out);
    pthread_mutex_lock(&counters.lock);
    slot *s = lookup(h);
    uint64_t value = s != NULL ? s->value : 0;
    pthread_mutex_unlock(&counters.lock);
    if (s == NULL) return bad_handle(out);
    mw_writer w = mw_writer_for(out);
    mw_write_u64(&w, value);
    return mw_reply(&w, out);
}

/* [drop]counter(handle): the guest dropped its handle (a Manifold call, see manifold_plugin.h). */
static int32_t counter_drop(mw_reader *in, manifold_buf *out) {
    handle h = read_handle(in);
    if (!mw_read_end(in)) return mw_reply_bad_params(in, out);
    pthread_mutex_lock(&counters.lock);
    slot *s = lookup(h);
    if (s != NULL) {
        s->live = false;
        s->generation++;
        s->next_free = counters.free_head;
        counters.free_head = h.index;
        counters.live--;
    }
    pthread_mutex_unlock(&counters.lock);
    if (s == NULL) return bad_handle(out);
    out->len = 0; /* no results */
    return MANIFOLD_STATUS_OK;
}

/* total(a: borrow<counter>, b: borrow<counter>) -> u64 */
static int32_t total(mw_reader *in, manifold_buf *out) {
    handle a = read_handle(in);
    handle b = read_handle(in);
    if (!mw_read_end(in)) return mw_reply_bad_params(in, out);
    pthread_mutex_lock(&counters.lock);
    slot *sa = lookup(a), *sb = lookup(b);
    uint64_t sum = sa != NULL && sb != NULL ? sa->value + sb->value : 0;
    pthread_mutex_unlock(&counters.lock);
    if (sa == NULL || sb == NULL) return bad_handle(out);
    mw_writer w = mw_writer_for(out);
    mw_write_u64(&w, sum);
    return mw_reply(&w, out);
}

/* live-counters() -> u32 */
static int32_t live_counters(mw_reader *in, manifold_buf *out) {
    if (!mw_read_end(in)) return mw_reply_bad_params(in, out);
    pthread_mutex_lock(&counters.lock);
    uint32_t live = counters.live;
    pthread_mutex_unlock(&counters.lock);
    mw_writer w = mw_writer_for(out);
    mw_write_u32(&w, live);
    return mw_reply(&w, out);
}

/* ---------------------------------------------------------------------------------------- */
/* Plain functions                                                                           */

/* bump: integers + 1 (wrapping), floats * 2, bool negated, char the next code point. */
static int32_t bump(mw_reader *in, manifold_buf *out) {
    uint8_t a = mw_read_u8(in);
    int8_t b = mw_read_s8(in);
    uint16_t c = mw_read_u16(in);
    int16_t d = mw_read_s16(in);
    uint32_t e = mw_read_u32(in);
    int32_t f = mw_read_s32(in);
    uint64_t g = mw_read_u64(in);
    int64_t h = mw_read_s64(in);
    float i = mw_read_f32(in);
    double j = mw_read_f64(in);
    bool k = mw_read_bool(in);
    uint32_t l = mw_read_char(in);
    if (!mw_read_end(in)) return mw_reply_bad_params(in, out);
    if (!mw_is_scalar(l + 1)) {
        return mw_reply_error(out,
                              "bump: no character follows U+%04X (the WIT leaves this edge "
                              "undefined)",
                              (unsigned)l);
    }
    mw_writer w = mw_writer_for(out);
    /* Signed wrapping without overflow: add in the unsigned type, convert back (clang and gcc
     * define the conversion as two's complement). */
    mw_write_u8(&w, (uint8_t)(a + 1u));
    mw_write_s8(&w, (int8_t)(uint8_t)((uint8_t)b + 1u));
    mw_write_u16(&w, (uint16_t)(c + 1u));
    mw_write_s16(&w, (int16_t)(uint16_t)((uint16_t)d + 1u));
    mw_write_u32(&w, e + 1u);
    mw_write_s32(&w, (int32_t)((uint32_t)f + 1u));
    mw_write_u64(&w, g + 1u);
    mw_write_s64(&w, (int64_t)((uint64_t)h + 1u));
    mw_write_f32(&w, i * 2.0f);
    mw_write_f64(&w, j * 2.0);
    mw_write_bool(&w, !k);
    mw_write_char(&w, l + 1);
    return mw_reply(&w, out);
}

/* shout: ASCII letters upper-cased, everything else kept. */
static int32_t shout(mw_reader *in, manifold_buf *out) {
    size_t len;
    const char *s = mw_read_string(in, &len);
    if (!mw_read_end(in)) return mw_reply_bad_params(in, out);
    mw_writer w = mw_writer_for(out);
    mw_write_len(&w, len);
    uint8_t *dst = len ? mw_extend(&w, len) : NULL;
    for (size_t i = 0; dst != NULL && i < len; i++) {
        char ch = s[i];
        dst[i] = (uint8_t)(ch >= 'a' && ch <= 'z' ? ch - 'a' + 'A' : ch);
    }
    return mw_reply(&w, out);
}

/* reverse: the bytes in reverse order. */
static int32_t reverse(mw_reader *in, manifold_buf *out) {
    size_t len;
    const uint8_t *b = mw_read_bytes(in, &len);
    if (!mw_read_end(in)) return mw_reply_bad_params(in, out);
    mw_writer w = mw_writer_for(out);
    mw_write_len(&w, len);
    uint8_t *dst = len ? mw_extend(&w, len) : NULL;
    for (size_t i = 0; dst != NULL && i < len; i++) dst[i] = b[len - 1 - i];
    return mw_reply(&w, out);
}

typedef struct str {
    const char *ptr;
    size_t len;
} str;

/* Byte order, a prefix first: what Rust's `str` order and memcmp-based sorts agree on. */
static int compare_str(const void *pa, const void *pb) {
    const str *a = (const str *)pa, *b = (const str *)pb;
    size_t n = a->len < b->len ? a->len : b->len;
    int c = n ? memcmp(a->ptr, b->ptr, n) : 0;
    if (c != 0) return c;
    return (a->len > b->len) - (a->len < b->len);
}

/* sort: the strings in byte order. */
static int32_t sort(mw_reader *in, manifold_buf *out) {
    size_t n = mw_read_len(in, 1); /* each string takes at least its length byte */
    str *words = n ? (str *)malloc(n * sizeof(str)) : NULL;
    if (n && words == NULL) return mw_reply_error(out, "out of memory for %zu strings", n);
    for (size_t i = 0; i < n; i++) words[i].ptr = mw_read_string(in, &words[i].len);
    if (!mw_read_end(in)) {
        free(words);
        return mw_reply_bad_params(in, out);
    }
    if (n > 1) qsort(words, n, sizeof(str), compare_str);
    mw_writer w = mw_writer_for(out);
    mw_write_len(&w, n);
    for (size_t i = 0; i < n; i++) mw_write_string(&w, words[i].ptr, words[i].len);
    free(words);
    return mw_reply(&w, out);
}

typedef struct point {
    int32_t x, y;
    str label;
} point;

static point read_point(mw_reader *in) {
    point p;
    p.x = mw_read_s32(in);
    p.y = mw_read_s32(in);
    p.label.ptr = mw_read_string(in, &p.label.len);
    return p;
}

static void write_point(mw_writer *w, int32_t x, int32_t y, str label) {
    mw_write_s32(w, x);
    mw_write_s32(w, y);
    mw_write_string(w, label.ptr, label.len);
}

static int32_t wrapping_add_s32(int32_t a, int32_t b) {
    return (int32_t)((uint32_t)a + (uint32_t)b);
}

/* add-points: the sum (wrapping), labels joined with "+". */
static int32_t add_points(mw_reader *in, manifold_buf *out) {
    point a = read_point(in);
    point b = read_point(in);
    if (!mw_read_end(in)) return mw_reply_bad_params(in, out);
    mw_writer w = mw_writer_for(out);
    mw_write_s32(&w, wrapping_add_s32(a.x, b.x));
    mw_write_s32(&w, wrapping_add_s32(a.y, b.y));
    mw_write_len(&w, a.label.len + 1 + b.label.len);
    mw_write_raw(&w, a.label.ptr, a.label.len);
    mw_write_raw(&w, "+", 1);
    mw_write_raw(&w, b.label.ptr, b.label.len);
    return mw_reply(&w, out);
}

/* Truncates toward zero, saturating at the ends and taking NaN to 0 (as Rust's `as`): a plain
 * C cast of an out-of-range double is undefined behaviour. */
static int32_t truncate_to_s32(double v) {
    if (v != v) return 0;
    if (v <= (double)INT32_MIN) return INT32_MIN;
    if (v >= (double)INT32_MAX) return INT32_MAX;
    return (int32_t)v;
}

enum { SHAPE_CIRCLE, SHAPE_RECT, SHAPE_EMPTY, SHAPE_CASES };

/* scale: circle(r * k), rect with x and y times k (truncated), label kept; empty stays. */
static int32_t scale(mw_reader *in, manifold_buf *out) {
    uint32_t which = mw_read_case(in, SHAPE_CASES);
    double radius = 0;
    point p = {0, 0, {"", 0}};
    if (which == SHAPE_CIRCLE) radius = mw_read_f64(in);
    if (which == SHAPE_RECT) p = read_point(in);
    double k = mw_read_f64(in);
    if (!mw_read_end(in)) return mw_reply_bad_params(in, out);
    mw_writer w = mw_writer_for(out);
    mw_write_case(&w, which);
    if (which == SHAPE_CIRCLE) mw_write_f64(&w, radius * k);
    if (which == SHAPE_RECT) {
        write_point(&w, truncate_to_s32((double)p.x * k), truncate_to_s32((double)p.y * k),
                    p.label);
    }
    return mw_reply(&w, out);
}

/* next-color: red -> green -> blue -> red. */
static int32_t next_color(mw_reader *in, manifold_buf *out) {
    uint32_t c = mw_read_case(in, 3);
    if (!mw_read_end(in)) return mw_reply_bad_params(in, out);
    mw_writer w = mw_writer_for(out);
    mw_write_case(&w, (c + 1) % 3);
    return mw_reply(&w, out);
}

/* toggle: every flag of perms (read, write, exec) flipped. */
static int32_t toggle(mw_reader *in, manifold_buf *out) {
    uint64_t perms = mw_read_flags(in, 3);
    if (!mw_read_end(in)) return mw_reply_bad_params(in, out);
    mw_writer w = mw_writer_for(out);
    mw_write_flags(&w, 3, ~perms & 0x7);
    return mw_reply(&w, out);
}

/* swap: tuple<u32, string> -> tuple<string, u32>. */
static int32_t swap(mw_reader *in, manifold_buf *out) {
    uint32_t number = mw_read_u32(in);
    size_t len;
    const char *text = mw_read_string(in, &len);
    if (!mw_read_end(in)) return mw_reply_bad_params(in, out);
    mw_writer w = mw_writer_for(out);
    mw_write_string(&w, text, len);
    mw_write_u32(&w, number);
    return mw_reply(&w, out);
}

/* first-word: the first space-separated word, none for a blank string. */
static int32_t first_word(mw_reader *in, manifold_buf *out) {
    size_t len;
    const char *s = mw_read_string(in, &len);
    if (!mw_read_end(in)) return mw_reply_bad_params(in, out);
    size_t start = 0;
    while (start < len && s[start] == ' ') start++;
    size_t end = start;
    while (end < len && s[end] != ' ') end++;
    mw_writer w = mw_writer_for(out);
    mw_write_option(&w, end > start);
    /* Splitting at an ASCII space keeps both sides UTF-8. */
    if (end > start) mw_write_string(&w, s + start, end - start);
    return mw_reply(&w, out);
}

/* checked-div: a / b truncated toward zero, or error "division by zero". */
static int32_t checked_div(mw_reader *in, manifold_buf *out) {
    int64_t a = mw_read_s64(in);
    int64_t b = mw_read_s64(in);
    if (!mw_read_end(in)) return mw_reply_bad_params(in, out);
    mw_writer w = mw_writer_for(out);
    if (b == 0) {
        static const char message[] = "division by zero";
        mw_write_result(&w, true);
        mw_write_string(&w, message, sizeof message - 1);
    } else {
        /* INT64_MIN / -1 overflows (a trap on x86); the WIT leaves it undefined, and like the
         * built-in provider this wraps to INT64_MIN. */
        int64_t q = (a == INT64_MIN && b == -1) ? INT64_MIN : a / b;
        mw_write_result(&w, false);
        mw_write_s64(&w, q);
    }
    return mw_reply(&w, out);
}

/* inc: x + 1 (wrapping). */
static int32_t inc(mw_reader *in, manifold_buf *out) {
    uint64_t x = mw_read_u64(in);
    if (!mw_read_end(in)) return mw_reply_bad_params(in, out);
    mw_writer w = mw_writer_for(out);
    mw_write_u64(&w, x + 1);
    return mw_reply(&w, out);
}

/* ---------------------------------------------------------------------------------------- */
/* The ABI                                                                                   */

typedef struct function {
    const char *name; /* the wRPC name: "counter.add" for a method, "counter" for a constructor */
    int32_t (*fn)(mw_reader *in, manifold_buf *out);
} function;

static const function functions[] = {
    {"bump", bump},
    {"shout", shout},
    {"reverse", reverse},
    {"sort", sort},
    {"add-points", add_points},
    {"scale", scale},
    {"next-color", next_color},
    {"toggle", toggle},
    {"swap", swap},
    {"first-word", first_word},
    {"checked-div", checked_div},
    {"inc", inc},
    {"counter", counter_new},
    {"counter.add", counter_add},
    {"counter.value", counter_value},
    {"[drop]counter", counter_drop},
    {"total", total},
    {"live-counters", live_counters},
};

static bool equals(const uint8_t *s, size_t len, const char *z) {
    size_t n = strlen(z);
    return len == n && (n == 0 || memcmp(s, z, n) == 0);
}

#define FUNCTION_COUNT (sizeof functions / sizeof functions[0])

/* Once per function, when the host loads the plugin: the index into `functions`. */
static int64_t lookup_function(void *ctx, const uint8_t *instance, size_t instance_len,
                               const uint8_t *func, size_t func_len) {
    (void)ctx;
    if (instance == NULL || func == NULL || !equals(instance, instance_len, INTERFACE)) {
        return MANIFOLD_NO_FUNCTION;
    }
    for (size_t i = 0; i < FUNCTION_COUNT; i++) {
        if (equals(func, func_len, functions[i].name)) return (int64_t)i;
    }
    return MANIFOLD_NO_FUNCTION;
}

static int32_t call(void *ctx, uint64_t index, const uint8_t *params, size_t params_len,
                    manifold_buf *out) {
    (void)ctx; /* the state is the one static counter table */
    if (out == NULL) return MANIFOLD_STATUS_ERROR;
    if (index >= FUNCTION_COUNT) {
        return mw_reply_error(out, INTERFACE " has no function number %llu",
                              (unsigned long long)index);
    }
    mw_reader in = mw_reader_new(params, params_len);
    return functions[index].fn(&in, out);
}

static manifold_plugin_v2 table;
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void init_table(void) {
    table.abi_version = MANIFOLD_PLUGIN_ABI_VERSION;
    table.wit = conformance_wit_start;
    table.wit_len = (size_t)(conformance_wit_end - conformance_wit_start);
    table.ctx = NULL;
    table.lookup = lookup_function;
    table.call = call;
    table.free_buf = mw_free_buf;
}

__attribute__((visibility("default"))) const manifold_plugin_v2 *
manifold_plugin_entry(uint32_t host_abi_version) {
    if (host_abi_version != MANIFOLD_PLUGIN_ABI_VERSION) return NULL; /* refuse the host */
    pthread_once(&table_once, init_table);
    return &table;
}
