//! Container, object and app names: which identifiers are acceptable, and how a name becomes
//! one file name on disk, so that no identifier (`..`, `/etc`, NUL, …) can reach outside the
//! app's own directory, whatever the backend.

use std::fmt;

/// The longest name, in bytes, as stored: every `%`, `\`, and (in object names) `/` counts
/// three bytes, as does a leading `.`, because that is how they are written on disk.
pub use manifold_provider::names::MAX_NAME_BYTES;
use manifold_provider::names::{NameProblem, check_name_basics, check_storage_name};

/// Why a name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidName {
    #[error("it is empty")]
    Empty,
    #[error(
        "it is {0} bytes long as stored (`%`, `/`, `\\` and a leading `.` take 3 bytes each); \
         the limit is {MAX_NAME_BYTES}"
    )]
    TooLong(usize),
    #[error("it contains a control character ({0:?}), e.g. NUL or a newline")]
    ControlCharacter(char),
    #[error("it contains `{0}`, which would make it look like a path")]
    PathSeparator(char),
    #[error("`{0}` is a path component, not a name")]
    DotSegment(String),
    #[error("it starts or ends with `/` or has an empty segment (`//`)")]
    EmptySegment,
}

/// Checks a container name, from a manifest grant or a guest: 1 to 255 bytes (as stored) of
/// UTF-8 without control characters, `/` or `\`, and not `.` or `..`.
pub fn check_container_name(name: &str) -> Result<(), InvalidName> {
    check_storage_name(name).map_err(InvalidName::from)?;
    check_stored_length(name)
}

impl From<NameProblem> for InvalidName {
    fn from(problem: NameProblem) -> Self {
        match problem {
            NameProblem::Empty => InvalidName::Empty,
            NameProblem::TooLong(n) => InvalidName::TooLong(n),
            NameProblem::ControlCharacter(c) => InvalidName::ControlCharacter(c),
            NameProblem::PathSeparator(c) => InvalidName::PathSeparator(c),
            NameProblem::DotName(name) => InvalidName::DotSegment(name),
        }
    }
}

/// Checks an object name: like a container name, except that `/` may separate segments
/// (`images/2026/a.png`), none of them empty, `.` or `..`.
pub fn check_object_name(name: &str) -> Result<(), InvalidName> {
    check_common(name)?;
    if name.contains('\\') {
        return Err(InvalidName::PathSeparator('\\'));
    }
    for segment in name.split('/') {
        if segment.is_empty() {
            return Err(InvalidName::EmptySegment);
        }
        if segment == "." || segment == ".." {
            return Err(InvalidName::DotSegment(segment.to_owned()));
        }
    }
    check_stored_length(name)
}

/// Checks an app name: like an object name (`team/app` is allowed).
pub(crate) fn check_app_name(name: &str) -> Result<(), InvalidName> {
    check_object_name(name)
}

fn check_common(name: &str) -> Result<(), InvalidName> {
    // Checked before encoding, so a huge name costs nothing.
    Ok(check_name_basics(name)?)
}

fn check_stored_length(name: &str) -> Result<(), InvalidName> {
    let stored = file_name(name).len();
    if stored > MAX_NAME_BYTES {
        return Err(InvalidName::TooLong(stored));
    }
    Ok(())
}

/// The file name that stores `name`: the name itself, with `%`, `/`, `\`, control characters
/// and a leading `.` written `%XX`. Reversible ([`from_file_name`]), never empty, never `.`
/// or `..`, never hidden, never containing a path separator.
pub(crate) fn file_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for (i, c) in name.char_indices() {
        if matches!(c, '%' | '/' | '\\') || c.is_control() || (i == 0 && c == '.') {
            let mut buf = [0; 4];
            for byte in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{byte:02X}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The name a file name made by [`file_name`] stores; `None` for any other file name.
pub(crate) fn from_file_name(file: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(file.len());
    let mut rest = file.as_bytes();
    while let Some((&byte, tail)) = rest.split_first() {
        if byte == b'%' {
            let hex = std::str::from_utf8(tail.get(..2)?).ok()?;
            bytes.push(u8::from_str_radix(hex, 16).ok()?);
            rest = &tail[2..];
        } else {
            bytes.push(byte);
            rest = tail;
        }
    }
    let name = String::from_utf8(bytes).ok()?;
    (file_name(&name) == file).then_some(name)
}

/// One app's container: the scope of its objects in every backend. Both names have passed
/// their checks, so a backend may use them (or [`file_name`]s of them) as it likes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ScopedContainer {
    app: String,
    container: String,
}

impl ScopedContainer {
    /// App `app`'s container `container`, if both names pass their checks.
    pub fn checked(app: &str, container: &str) -> Result<ScopedContainer, InvalidName> {
        check_app_name(app)?;
        check_container_name(container)?;
        Ok(ScopedContainer {
            app: app.to_owned(),
            container: container.to_owned(),
        })
    }

    pub fn app(&self) -> &str {
        &self.app
    }

    /// The container's name, as the guest knows it.
    pub fn name(&self) -> &str {
        &self.container
    }
}

impl fmt::Display for ScopedContainer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.app, self.container)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_names() {
        for good in ["photos", "a.b", "my files", "ünïcode", "...", "100%"] {
            assert_eq!(check_container_name(good), Ok(()), "{good:?}");
        }
        let long = "x".repeat(256);
        let cases = [
            ("", InvalidName::Empty),
            (long.as_str(), InvalidName::TooLong(256)),
            ("a\0b", InvalidName::ControlCharacter('\0')),
            ("../etc", InvalidName::PathSeparator('/')),
            ("a/b", InvalidName::PathSeparator('/')),
            ("a\\b", InvalidName::PathSeparator('\\')),
            (".", InvalidName::DotSegment(".".into())),
            ("..", InvalidName::DotSegment("..".into())),
        ];
        for (bad, why) in cases {
            assert_eq!(check_container_name(bad), Err(why), "{bad:?}");
        }
        assert_eq!(check_container_name(&"x".repeat(255)), Ok(()));
        // `%` is stored as `%25`.
        assert_eq!(
            check_container_name(&"%".repeat(100)),
            Err(InvalidName::TooLong(300))
        );
    }

    #[test]
    fn object_names() {
        for good in [
            "a",
            "images/2026/a.png",
            "a/.../b",
            ".hidden",
            "x..y",
            "a b",
        ] {
            assert_eq!(check_object_name(good), Ok(()), "{good:?}");
        }
        let cases = [
            ("/etc/passwd", InvalidName::EmptySegment),
            ("a//b", InvalidName::EmptySegment),
            ("a/", InvalidName::EmptySegment),
            ("../x", InvalidName::DotSegment("..".into())),
            ("a/../../b", InvalidName::DotSegment("..".into())),
            ("a/./b", InvalidName::DotSegment(".".into())),
            ("a\\..\\b", InvalidName::PathSeparator('\\')),
            ("nul\0", InvalidName::ControlCharacter('\0')),
        ];
        for (bad, why) in cases {
            assert_eq!(check_object_name(bad), Err(why), "{bad:?}");
        }
    }

    #[test]
    fn file_names_round_trip_and_stay_in_their_directory() {
        for name in [
            "a",
            "images/2026/a.png",
            ".hidden",
            "..x",
            "100%",
            "%2F",
            "é/ü",
            "a\\b",
        ] {
            let file = file_name(name);
            assert!(!file.contains('/') && !file.contains('\\'), "{file}");
            assert!(!file.starts_with('.'), "{file}");
            assert_eq!(from_file_name(&file).as_deref(), Some(name), "{file}");
        }
        assert_eq!(file_name("a/b"), "a%2Fb");
        assert_eq!(file_name(".x"), "%2Ex");
        // Files we did not write are not objects.
        for stray in [".tmp123", "a%2", "a%zz", "a%2fb", "%61"] {
            assert_eq!(from_file_name(stray), None, "{stray}");
        }
    }
}
