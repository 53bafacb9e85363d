//! The rules every storage name obeys, whichever interface it comes from (a key-value bucket,
//! a blobstore container): names reach many backends (files, Redis keys, NATS buckets), and
//! a name refused everywhere is easier to reason about than one safe in only some places.
//! Each interface words its own errors from the [`NameProblem`].

/// The longest storage name, in bytes.
pub const MAX_NAME_BYTES: usize = 255;

/// Why a storage name was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameProblem {
    Empty,
    /// Its length in bytes.
    TooLong(usize),
    ControlCharacter(char),
    /// `/` or `\`.
    PathSeparator(char),
    /// `.` or `..`.
    DotName(String),
}

/// Checks a storage name: 1 to [`MAX_NAME_BYTES`] bytes of UTF-8 without control characters
/// (NUL included), without `/` or `\`, and not `.` or `..`. The checks run in that order, so
/// a huge name is refused before it is scanned.
pub fn check_storage_name(name: &str) -> Result<(), NameProblem> {
    check_name_basics(name)?;
    if let Some(c) = name.chars().find(|c| matches!(c, '/' | '\\')) {
        return Err(NameProblem::PathSeparator(c));
    }
    if name == "." || name == ".." {
        return Err(NameProblem::DotName(name.to_owned()));
    }
    Ok(())
}

/// The part of [`check_storage_name`] that names with a structure of their own (a blobstore
/// object's `a/b/c`) share: not empty, not too long, no control character.
pub fn check_name_basics(name: &str) -> Result<(), NameProblem> {
    if name.is_empty() {
        return Err(NameProblem::Empty);
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(NameProblem::TooLong(name.len()));
    }
    if let Some(c) = name.chars().find(|c| c.is_control()) {
        return Err(NameProblem::ControlCharacter(c));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_names() {
        for good in [
            "default",
            "a.b",
            "my files",
            "ünïcode",
            "x-1_2:3",
            "...",
            "100%",
        ] {
            assert_eq!(check_storage_name(good), Ok(()), "{good:?}");
        }
        let long = "x".repeat(256);
        for (bad, why) in [
            ("", NameProblem::Empty),
            (long.as_str(), NameProblem::TooLong(256)),
            ("a\0b", NameProblem::ControlCharacter('\0')),
            ("a/b", NameProblem::PathSeparator('/')),
            ("a\\b", NameProblem::PathSeparator('\\')),
            ("..", NameProblem::DotName("..".into())),
        ] {
            assert_eq!(check_storage_name(bad), Err(why), "{bad:?}");
        }
        assert_eq!(
            check_storage_name(&"é".repeat(128)),
            Err(NameProblem::TooLong(256))
        );
    }
}
