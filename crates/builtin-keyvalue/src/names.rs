//! Bucket and app names: which identifiers are acceptable, and how an app's bucket is named
//! in the database, so that two apps (or a crafted identifier) can never reach each other's
//! keys.

use std::fmt;

/// The longest bucket or app name, in bytes.
pub use manifold_provider::names::MAX_NAME_BYTES;
use manifold_provider::names::{NameProblem, check_storage_name};

/// Why a bucket or app name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidName {
    #[error("it is empty")]
    Empty,
    #[error("it is {0} bytes long; the limit is {MAX_NAME_BYTES}")]
    TooLong(usize),
    #[error("it contains a control character ({0:?}), e.g. NUL or a newline")]
    ControlCharacter(char),
    #[error("it contains `{0}`, which would make it look like a path")]
    PathSeparator(char),
    #[error("`{0}` is a path component, not a name")]
    DotName(String),
}

/// Checks a bucket name, whether it comes from a manifest grant or a guest's `open`.
///
/// A name is 1 to 255 bytes of UTF-8 without control characters (NUL included), without `/`
/// or `\`, and is not `.` or `..`. The embedded backend would cope with more, but names also
/// reach other backends (Redis keys, NATS buckets, directories), and a name that is refused
/// everywhere is easier to reason about than one that is safe in only some places.
pub fn check_bucket_name(name: &str) -> Result<(), InvalidName> {
    check_name(name)
}

/// Checks an app name: the same rules as a bucket name, except that `/` is allowed (the
/// table name splits at its *last* `/`, and a bucket name never contains one).
pub(crate) fn check_app_name(name: &str) -> Result<(), InvalidName> {
    match check_name(name) {
        Err(InvalidName::PathSeparator('/')) => check_name(&name.replace('/', "_")),
        other => other,
    }
}

fn check_name(name: &str) -> Result<(), InvalidName> {
    check_storage_name(name).map_err(InvalidName::from)
}

impl From<NameProblem> for InvalidName {
    fn from(problem: NameProblem) -> Self {
        match problem {
            NameProblem::Empty => InvalidName::Empty,
            NameProblem::TooLong(n) => InvalidName::TooLong(n),
            NameProblem::ControlCharacter(c) => InvalidName::ControlCharacter(c),
            NameProblem::PathSeparator(c) => InvalidName::PathSeparator(c),
            NameProblem::DotName(name) => InvalidName::DotName(name),
        }
    }
}

/// One app's bucket, the scope of its keys in every backend: `app/bucket` (the embedded
/// database's table name). Unambiguous because a bucket name never contains `/`, so the last
/// `/` separates the two.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ScopedBucket(String);

impl ScopedBucket {
    /// Both names must have passed their checks.
    pub(crate) fn new(app: &str, bucket: &str) -> ScopedBucket {
        debug_assert!(check_app_name(app).is_ok() && check_bucket_name(bucket).is_ok());
        ScopedBucket(format!("{app}/{bucket}"))
    }

    /// App `app`'s bucket `bucket`, if both names pass their checks.
    pub fn checked(app: &str, bucket: &str) -> Result<ScopedBucket, InvalidName> {
        check_app_name(app)?;
        check_bucket_name(bucket)?;
        Ok(ScopedBucket::new(app, bucket))
    }

    /// `app/bucket`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The app part.
    pub fn app(&self) -> &str {
        self.0.rsplit_once('/').map_or("", |(a, _)| a)
    }

    /// The bucket part.
    pub fn bucket(&self) -> &str {
        self.0.rsplit_once('/').map_or(&self.0, |(_, b)| b)
    }
}

impl fmt::Display for ScopedBucket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names() {
        for good in [
            "default",
            "cache",
            "a.b",
            "my cache",
            "ünïcode",
            "x-1_2:3",
            "...",
        ] {
            assert_eq!(check_bucket_name(good), Ok(()), "{good:?}");
        }
        let long = "x".repeat(256);
        let cases = [
            ("", InvalidName::Empty),
            (long.as_str(), InvalidName::TooLong(256)),
            ("a\0b", InvalidName::ControlCharacter('\0')),
            ("a\nb", InvalidName::ControlCharacter('\n')),
            ("../etc", InvalidName::PathSeparator('/')),
            ("a/b", InvalidName::PathSeparator('/')),
            ("a\\b", InvalidName::PathSeparator('\\')),
            (".", InvalidName::DotName(".".into())),
            ("..", InvalidName::DotName("..".into())),
        ];
        for (bad, why) in cases {
            assert_eq!(check_bucket_name(bad), Err(why), "{bad:?}");
        }
        assert_eq!(check_bucket_name(&"x".repeat(255)), Ok(()));
        // 255 bytes, not 255 characters.
        assert_eq!(
            check_bucket_name(&"é".repeat(128)),
            Err(InvalidName::TooLong(256))
        );
    }

    #[test]
    fn app_names_may_hold_slashes_but_tables_stay_apart() {
        assert_eq!(check_app_name("team/app"), Ok(()));
        assert!(check_app_name("").is_err());
        assert!(check_app_name("a\0").is_err());
        assert!(check_app_name("a\\b").is_err());
        let t = ScopedBucket::new("team/app", "cache");
        assert_eq!(t.as_str(), "team/app/cache");
        assert_eq!(t.bucket(), "cache");
        assert_eq!(t.app(), "team/app");
        assert_ne!(ScopedBucket::new("a", "b"), ScopedBucket::new("a/b", "c"));
    }
}
