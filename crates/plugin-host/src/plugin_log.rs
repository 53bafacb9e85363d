//! What a started plugin writes to stdout and stderr, copied into the host's log line by
//! line: each line capped in length and with control characters escaped, so a plugin can
//! neither grow the host's memory with a line that never ends nor forge log lines (a `\n`,
//! `\r` or terminal escape inside what it writes shows as `\n`, `\r`, `\u{1b}`).
//!
//! stderr lines are logged at WARN (always shown), stdout lines at INFO (shown by `serve`,
//! and by `run` with `-v`), each with `plugin` and `stream` fields.

use tokio::io::{AsyncRead, AsyncReadExt as _};

/// The longest line logged; the rest of a longer line is left out, and the line says how
/// much was.
pub(crate) const MAX_LINE: usize = 8 << 10;

/// Copies `stream` into the log until it ends.
pub(crate) async fn forward(mut stream: impl AsyncRead + Unpin, plugin: String, stderr: bool) {
    let mut lines = LineSplitter::default();
    let mut chunk = vec![0u8; 8 << 10];
    let log = |line: String| {
        if stderr {
            tracing::warn!(plugin, stream = "stderr", "{line}");
        } else {
            tracing::info!(plugin, stream = "stdout", "{line}");
        }
    };
    loop {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => lines.push(&chunk[..n], log),
        }
    }
    lines.finish(log);
}

/// Splits bytes into capped, escaped lines.
#[derive(Default)]
pub(crate) struct LineSplitter {
    line: Vec<u8>,
    /// Bytes of the current line left out beyond [`MAX_LINE`].
    cut: usize,
}

impl LineSplitter {
    pub fn push(&mut self, mut bytes: &[u8], mut emit: impl FnMut(String)) {
        while !bytes.is_empty() {
            let end = bytes.iter().position(|&b| b == b'\n');
            let (part, rest, complete) = match end {
                Some(i) => (&bytes[..i], &bytes[i + 1..], true),
                None => (bytes, &[][..], false),
            };
            let room = MAX_LINE - self.line.len();
            let kept = part.len().min(room);
            self.line.extend_from_slice(&part[..kept]);
            self.cut += part.len() - kept;
            if complete {
                self.emit(&mut emit);
            }
            bytes = rest;
        }
    }

    /// The last line, if the stream ended without a newline.
    pub fn finish(&mut self, mut emit: impl FnMut(String)) {
        if !self.line.is_empty() || self.cut > 0 {
            self.emit(&mut emit);
        }
    }

    fn emit(&mut self, emit: &mut impl FnMut(String)) {
        let line = self.line.strip_suffix(b"\r").unwrap_or(&self.line);
        let mut text = escape(&String::from_utf8_lossy(line));
        if self.cut > 0 {
            text.push_str(&format!(
                " [… {} more bytes of this line left out]",
                self.cut
            ));
        }
        emit(text);
        self.line.clear();
        self.cut = 0;
    }
}

/// `text` with control characters and bidirectional-text controls escaped (a tab stays).
fn escape(text: &str) -> String {
    let forging = |c: char| {
        (c.is_control() && c != '\t')
            || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    if !text.chars().any(forging) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if forging(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(chunks: &[&[u8]]) -> Vec<String> {
        let mut lines = Vec::new();
        let mut splitter = LineSplitter::default();
        for chunk in chunks {
            splitter.push(chunk, |l| lines.push(l));
        }
        splitter.finish(|l| lines.push(l));
        lines
    }

    #[test]
    fn lines_are_split_across_chunks_and_the_last_one_is_kept() {
        assert_eq!(
            split(&[b"one\ntw", b"o\r\nthr", b"ee"]),
            ["one", "two", "three"]
        );
    }

    #[test]
    fn control_characters_cannot_forge_log_lines_or_colour_the_terminal() {
        let lines = split(&[b"ok\rINFO fake line\x1b[31m red \xe2\x80\xae evil\tTab\n"]);
        assert_eq!(
            lines,
            ["ok\\rINFO fake line\\u{1b}[31m red \\u{202e} evil\tTab"]
        );
        assert_eq!(split(&[b"not \xff utf-8\n"]), ["not \u{fffd} utf-8"]);
    }

    #[test]
    fn a_line_that_never_ends_is_capped_and_says_how_much_was_left_out() {
        let long = vec![b'x'; 3 * MAX_LINE];
        let mut splitter = LineSplitter::default();
        let mut lines = Vec::new();
        for chunk in long.chunks(1000) {
            splitter.push(chunk, |l| lines.push(l));
        }
        // Held in memory: never more than the cap.
        assert!(splitter.line.len() <= MAX_LINE);
        splitter.push(b"\nnext\n", |l| lines.push(l));
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with(&"x".repeat(MAX_LINE)));
        assert!(
            lines[0].ends_with(&format!(
                " [… {} more bytes of this line left out]",
                2 * MAX_LINE
            )),
            "{}",
            &lines[0][MAX_LINE..]
        );
        assert_eq!(lines[1], "next");
    }
}
