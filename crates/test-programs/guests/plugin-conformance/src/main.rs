//! `plugin-conformance`: a wasi:cli command that calls every function of
//! `manifold:conformance/types@0.1.0` with edge values and checks every result
//! against the value it computes itself. The same guest, unchanged, runs
//! against every kind of provider (builtin, dylib, rpc, wasm). The contract
//! (output lines, exit status) is in `crates/test-programs/README.md`.

use std::fmt::Debug;
use std::io::{self, Write as _};
use std::process;

wit_bindgen::generate!({
    path: "../../wit/conformance.wit",
    world: "guest",
});

use manifold::conformance::types::{self, Color, Counter, Perms, Point, Shape};

/// The `ok` lines, in the order they are printed: one per function of the
/// interface (resource functions named `counter.*`).
const CHECKS: &[(&str, fn())] = &[
    ("bump", check_bump),
    ("shout", check_shout),
    ("reverse", check_reverse),
    ("sort", check_sort),
    ("add-points", check_add_points),
    ("scale", check_scale),
    ("next-color", check_next_color),
    ("toggle", check_toggle),
    ("swap", check_swap),
    ("first-word", check_first_word),
    ("checked-div", check_checked_div),
    ("inc", check_inc),
];

fn main() {
    for (function, check) in CHECKS {
        check();
        pass(function);
    }
    check_resources();
    println!("all {} checks passed", CHECKS.len() + RESOURCE_CHECKS);
    flush_stdout();
}

/// Compares by `Debug` text, which is exact for everything here: floats print
/// the shortest text that reads back to the same bits (so `-0.0` differs from
/// `0.0`), strings and chars print escaped.
fn expect<T: Debug>(function: &str, case: &str, expected: T, got: T) {
    let expected = format!("{expected:?}");
    let got = format!("{got:?}");
    if expected != got {
        let at = expected
            .chars()
            .zip(got.chars())
            .take_while(|(e, g)| e == g)
            .count();
        println!(
            "FAIL {function}: {case}: expected {} got {} (texts differ at character {at})",
            shorten(&expected, at),
            shorten(&got, at),
        );
        flush_stdout();
        process::exit(1);
    }
}

/// A long value's text around `at`, so a 64 KiB list does not flood the output.
fn shorten(text: &str, at: usize) -> String {
    const WIDTH: usize = 120;
    let count = text.chars().count();
    if count <= 2 * WIDTH {
        return text.to_owned();
    }
    let start = at.saturating_sub(WIDTH / 2);
    let middle: String = text.chars().skip(start).take(WIDTH).collect();
    let before = if start > 0 { "…" } else { "" };
    let after = if start + WIDTH < count { "…" } else { "" };
    format!("{before}{middle}{after} ({count} characters)")
}

fn pass(function: &str) {
    println!("ok {function}");
}

fn flush_stdout() {
    // Nothing sensible is left to do if stdout is gone.
    let _ = io::stdout().flush();
}

type Scalars = (u8, i8, u16, i16, u32, i32, u64, i64, f32, f64, bool, char);

fn bump(v: Scalars) -> Scalars {
    types::bump(v.0, v.1, v.2, v.3, v.4, v.5, v.6, v.7, v.8, v.9, v.10, v.11)
}

fn check_bump() {
    let cases: [(&str, Scalars, Scalars); 6] = [
        (
            "zeros",
            (0, 0, 0, 0, 0, 0, 0, 0, 0.0, 0.0, false, 'a'),
            (1, 1, 1, 1, 1, 1, 1, 1, 0.0, 0.0, true, 'b'),
        ),
        (
            "maximum values wrap",
            (
                u8::MAX,
                i8::MAX,
                u16::MAX,
                i16::MAX,
                u32::MAX,
                i32::MAX,
                u64::MAX,
                i64::MAX,
                f32::MAX / 2.0,
                f64::MAX / 2.0,
                true,
                '\u{10FFFE}',
            ),
            (
                0,
                i8::MIN,
                0,
                i16::MIN,
                0,
                i32::MIN,
                0,
                i64::MIN,
                f32::MAX,
                f64::MAX,
                false,
                '\u{10FFFF}',
            ),
        ),
        (
            "minimum values",
            (
                u8::MIN,
                i8::MIN,
                u16::MIN,
                i16::MIN,
                u32::MIN,
                i32::MIN,
                u64::MIN,
                i64::MIN,
                f32::MIN / 2.0,
                f64::MIN / 2.0,
                false,
                '\0',
            ),
            (
                1,
                i8::MIN + 1,
                1,
                i16::MIN + 1,
                1,
                i32::MIN + 1,
                1,
                i64::MIN + 1,
                f32::MIN,
                f64::MIN,
                true,
                '\u{1}',
            ),
        ),
        (
            "minus one and fractions",
            (
                7,
                -1,
                300,
                -1,
                70_000,
                -1,
                1 << 40,
                -1,
                -1.5,
                -0.25,
                true,
                'é',
            ),
            (
                8,
                0,
                301,
                0,
                70_001,
                0,
                (1 << 40) + 1,
                0,
                -3.0,
                -0.5,
                false,
                'ê',
            ),
        ),
        (
            "tiny floats and UTF-8 length changes",
            (
                127,
                -128,
                255,
                255,
                65_535,
                65_535,
                u64::from(u32::MAX),
                i64::from(i32::MIN),
                f32::MIN_POSITIVE,
                f64::from_bits(1),
                false,
                '\u{7F}',
            ),
            (
                128,
                -127,
                256,
                256,
                65_536,
                65_536,
                u64::from(u32::MAX) + 1,
                i64::from(i32::MIN) + 1,
                f32::MIN_POSITIVE * 2.0,
                f64::from_bits(2),
                true,
                '\u{80}',
            ),
        ),
        (
            "negative zero and astral chars",
            (
                1,
                -100,
                2,
                -30_000,
                3,
                -2_000_000_000,
                4,
                -(1 << 62),
                -0.0,
                -0.0,
                true,
                '😀',
            ),
            (
                2,
                -99,
                3,
                -29_999,
                4,
                -1_999_999_999,
                5,
                -(1 << 62) + 1,
                -0.0,
                -0.0,
                false,
                '😁',
            ),
        ),
    ];
    for (case, input, expected) in cases {
        expect("bump", case, expected, bump(input));
    }
    // Around the surrogate gap and the last code point of each UTF-8 length.
    for (from, to) in [
        ('\u{7FF}', '\u{800}'),
        ('\u{D7FE}', '\u{D7FF}'),
        ('\u{E000}', '\u{E001}'),
        ('\u{FFFF}', '\u{10000}'),
    ] {
        let got = bump((0, 0, 0, 0, 0, 0, 0, 0, 0.0, 0.0, false, from)).11;
        expect("bump", &format!("char {from:?}"), to, got);
    }
}

/// 64 KiB of text mixing ASCII letters with two- and four-byte characters.
fn long_text() -> String {
    let pattern = "abc xyz-é😀ß Q";
    pattern.repeat(64 * 1024 / pattern.len() + 1)
}

fn check_shout() {
    for (case, input, expected) in [
        ("empty", String::new(), String::new()),
        (
            "ASCII",
            "hello, World! 123 az AZ @[`{".to_owned(),
            "HELLO, WORLD! 123 AZ AZ @[`{".to_owned(),
        ),
        (
            "non-ASCII kept as is",
            "grüße, ÿ é 😀 abc".to_owned(),
            "GRüßE, ÿ é 😀 ABC".to_owned(),
        ),
        (
            "64 KiB",
            long_text(),
            long_text().replace("abc xyz", "ABC XYZ"),
        ),
    ] {
        expect("shout", case, expected, types::shout(&input));
    }
}

fn check_reverse() {
    let long: Vec<u8> = (0..64 * 1024u32)
        .map(|i| (i.wrapping_mul(7) ^ (i >> 8)) as u8)
        .collect();
    for (case, input) in [
        ("empty", Vec::new()),
        ("one byte", vec![42]),
        ("edge bytes", vec![0, 1, 127, 128, 254, 255]),
        ("64 KiB", long),
    ] {
        let mut expected = input.clone();
        expected.reverse();
        expect("reverse", case, expected, types::reverse(&input));
    }
}

fn check_sort() {
    let words = |list: &[&str]| list.iter().map(|w| (*w).to_owned()).collect::<Vec<_>>();
    let many: Vec<String> = (0..1000u32)
        .map(|i| format!("w{:04}", i.wrapping_mul(7919) % 1000))
        .collect();
    for (case, input) in [
        ("empty list", Vec::new()),
        ("one word", words(&["solo"])),
        ("ASCII", words(&["b", "a", "c"])),
        (
            "byte order, non-ASCII, empty strings, duplicates",
            words(&["é", "e", "Z", "a", "", "ab", "aa", "😀", "ß", "a", ""]),
        ),
        ("1000 words", many),
    ] {
        // `str`'s order is byte order.
        let mut expected = input.clone();
        expected.sort();
        expect("sort", case, expected, types::sort(&input));
    }
}

fn point(x: i32, y: i32, label: &str) -> Point {
    Point {
        x,
        y,
        label: label.to_owned(),
    }
}

fn check_add_points() {
    for (case, a, b, expected) in [
        (
            "small",
            point(1, 2, "a"),
            point(3, 4, "b"),
            point(4, 6, "a+b"),
        ),
        (
            "extremes, empty labels",
            point(i32::MIN, i32::MAX, ""),
            point(i32::MAX, i32::MIN, ""),
            point(-1, -1, "+"),
        ),
        (
            "negative, non-ASCII labels",
            point(-5, -7, "ünï"),
            point(-10, 3, "😀"),
            point(-15, -4, "ünï+😀"),
        ),
    ] {
        expect("add-points", case, expected, types::add_points(&a, &b));
    }
}

fn check_scale() {
    for (case, shape, k, expected) in [
        ("circle", Shape::Circle(2.5), 2.0, Shape::Circle(5.0)),
        (
            "circle by a negative fraction",
            Shape::Circle(1.5),
            -0.5,
            Shape::Circle(-0.75),
        ),
        (
            "rect truncates toward zero",
            Shape::Rect(point(-7, 9, "r")),
            1.5,
            Shape::Rect(point(-10, 13, "r")),
        ),
        (
            "rect by zero keeps the label",
            Shape::Rect(point(3, -4, "ünï")),
            0.0,
            Shape::Rect(point(0, 0, "ünï")),
        ),
        ("empty", Shape::Empty, 3.0, Shape::Empty),
    ] {
        expect("scale", case, expected, types::scale(&shape, k));
    }
}

fn check_next_color() {
    for (input, expected) in [
        (Color::Red, Color::Green),
        (Color::Green, Color::Blue),
        (Color::Blue, Color::Red),
    ] {
        let case = format!("{input:?}");
        expect("next-color", &case, expected, types::next_color(input));
    }
}

fn check_toggle() {
    for (case, input, expected) in [
        ("no flags", Perms::empty(), Perms::all()),
        ("all flags", Perms::all(), Perms::empty()),
        ("read", Perms::READ, Perms::WRITE | Perms::EXEC),
        ("write", Perms::WRITE, Perms::READ | Perms::EXEC),
        ("read exec", Perms::READ | Perms::EXEC, Perms::WRITE),
    ] {
        // The canonical ABI ignores bits beyond the last flag when it lifts flags, but
        // wit-bindgen keeps them, and they would show in `Debug`.
        let got = Perms::from_bits_truncate(types::toggle(input).bits());
        expect("toggle", case, expected, got);
    }
}

fn check_swap() {
    for (case, number, text) in [
        ("zero, empty", 0, String::new()),
        ("maximum, non-ASCII", u32::MAX, "ünï 😀".to_owned()),
        ("64 KiB string", 7, long_text()),
    ] {
        let got = types::swap((number, &text));
        expect("swap", case, (text, number), got);
    }
}

fn check_first_word() {
    for (input, expected) in [
        ("", None),
        ("   ", None),
        ("hello world", Some("hello")),
        ("single", Some("single")),
        ("ünï cödé 😀", Some("ünï")),
    ] {
        let case = format!("{input:?}");
        let expected = expected.map(str::to_owned);
        expect("first-word", &case, expected, types::first_word(input));
    }
}

fn check_checked_div() {
    let zero = || Err("division by zero".to_owned());
    for (a, b, expected) in [
        (7, 2, Ok(3)),
        // Truncated toward zero, as s64 division in Rust, C and Go.
        (-7, 2, Ok(-3)),
        (7, -2, Ok(-3)),
        (0, 5, Ok(0)),
        (i64::MIN, 1, Ok(i64::MIN)),
        (i64::MAX, -1, Ok(-i64::MAX)),
        (5, 0, zero()),
        (i64::MIN, 0, zero()),
    ] {
        let case = format!("{a} / {b}");
        expect("checked-div", &case, expected, types::checked_div(a, b));
    }
}

fn check_inc() {
    for (input, expected) in [(0, 1), (41, 42), (u64::MAX - 1, u64::MAX), (u64::MAX, 0)] {
        let case = format!("{input}");
        expect("inc", &case, expected, types::inc(input));
    }
}

/// How many `ok` lines `check_resources` prints.
const RESOURCE_CHECKS: usize = 6;

fn check_resources() {
    let live = types::live_counters;
    // Relative to what is alive now: a provider process may serve others.
    let base = live();

    let a = Counter::new(5);
    expect("counter.constructor", "live after one", base + 1, live());
    expect("counter.constructor", "start value", 5, a.value());
    let b = Counter::new(1 << 40);
    expect("counter.constructor", "live after two", base + 2, live());
    let zero = Counter::new(0);
    expect("counter.constructor", "zero start", 0, zero.value());
    let top = Counter::new(u64::MAX);
    expect(
        "counter.constructor",
        "maximum start",
        u64::MAX,
        top.value(),
    );
    pass("counter.constructor");

    expect("counter.add", "add 10", 15, a.add(10));
    expect("counter.add", "add 0", 15, a.add(0));
    expect(
        "counter.add",
        "add to zero",
        u64::MAX - 1,
        zero.add(u64::MAX - 1),
    );
    expect("counter.add", "other counter untouched", 1 << 40, b.value());
    pass("counter.add");

    expect("counter.value", "after adds", 15, a.value());
    expect("counter.value", "repeated", 15, a.value());
    pass("counter.value");

    expect(
        "total",
        "two counters",
        (1 << 40) + 15,
        types::total(&a, &b),
    );
    expect("total", "one counter twice", 30, types::total(&a, &a));
    expect("total", "borrows leave them alive", base + 4, live());
    pass("total");

    drop(zero);
    drop(top);
    expect("counter.drop", "two dropped", base + 2, live());
    drop(a);
    expect("counter.drop", "three dropped", base + 1, live());
    expect("counter.drop", "survivor intact", 1 << 40, b.value());
    drop(b);
    expect("counter.drop", "all dropped", base, live());
    pass("counter.drop");

    // Many handles at once, dropped out of creation order, so a provider's
    // handle table reuses slots while others are alive.
    let mut many: Vec<Option<Counter>> = (0..100u64).map(|i| Some(Counter::new(i))).collect();
    expect("live-counters", "100 created", base + 100, live());
    for (i, counter) in many.iter().enumerate() {
        let i = i as u64;
        let counter = counter.as_ref().expect("every slot is filled here");
        expect("live-counters", "add to each", 2 * i, counter.add(i));
    }
    for slot in many.iter_mut().step_by(2) {
        slot.take();
    }
    expect("live-counters", "even ones dropped", base + 50, live());
    let again: Vec<Counter> = (0..10u64).map(|i| Counter::new(1000 + i)).collect();
    expect("live-counters", "ten more", base + 60, live());
    for (i, counter) in again.iter().enumerate() {
        expect(
            "live-counters",
            "new values",
            1000 + i as u64,
            counter.value(),
        );
    }
    for (i, counter) in many.iter().enumerate() {
        if let Some(counter) = counter {
            expect("live-counters", "old values", 2 * i as u64, counter.value());
        }
    }
    drop(again);
    drop(many);
    expect("live-counters", "all dropped", base, live());
    pass("live-counters");
}
