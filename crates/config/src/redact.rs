//! Backend URLs in messages: the password or token of each server hidden, everything else
//! kept, so an error or a log line names the server without handing its credentials to
//! whoever reads the log. Every message that shows a Redis or NATS URL goes through
//! [`redact_url`].

/// Query parameters that carry a secret (`redis+unix:///run/redis.sock?pass=…`).
const SECRET_PARAMS: [&str; 3] = ["pass", "password", "token"];

/// `url` (one URL or a comma-separated list, as [`split_url_list`] reads it) with the password
/// and any token (a user info without `:`) replaced by `***`, keeping scheme, user, host,
/// port and path:
/// `redis://alice:s3cret@db:6379/0` is shown as `redis://alice:***@db:6379/0`,
/// `nats://t0ken@a:4222, nats://b:4222` as `nats://***@a:4222, nats://b:4222`.
///
/// Text that is not a well-formed URL is handled too, erring on the side of hiding: without
/// a clear end of the user info (a password holding an unescaped `/`, `?` or `#`), everything
/// between `//` and the last `@` is hidden.
pub fn redact_url(url: &str) -> String {
    split_url_list(url)
        .into_iter()
        .map(redact_one)
        .collect::<Vec<_>>()
        .join(",")
}

/// The URLs of a comma-separated list (a NATS cluster's servers), untrimmed. A comma separates
/// two URLs only where the text after it (spaces aside) starts with a scheme (`nats://`,
/// `tls://`); any other comma belongs to the URL before it, e.g. to its password.
pub fn split_url_list(list: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    for (comma, _) in list.match_indices(',') {
        if starts_with_scheme(list[comma + 1..].trim_start()) {
            parts.push(&list[start..comma]);
            start = comma + 1;
        }
    }
    parts.push(&list[start..]);
    parts
}

/// `text` (a message) with every URL in it redacted by [`redact_url`]: a URL runs from its
/// scheme to the next space or quote.
pub(crate) fn redact_urls_in(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(colon) = rest.find("://") {
        let start = rest[..colon]
            .char_indices()
            .rev()
            .find(|&(_, c)| !is_scheme_char(c))
            .map_or(0, |(i, c)| i + c.len_utf8());
        let after = colon + 3;
        let end = rest[after..]
            .find(|c: char| c.is_whitespace() || c == '"' || c == '\'')
            .map_or(rest.len(), |i| after + i);
        out.push_str(&rest[..start]);
        out.push_str(&redact_url(&rest[start..end]));
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

fn is_scheme_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')
}

/// Whether `text` starts with `SCHEME://` (a letter, then letters, digits, `+`, `-`, `.`).
fn starts_with_scheme(text: &str) -> bool {
    let Some((scheme, _)) = text.split_once("://") else {
        return false;
    };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic()) && chars.all(is_scheme_char)
}

fn redact_one(url: &str) -> String {
    let (prefix, rest) = match url.find("//") {
        Some(slashes) => url.split_at(slashes + 2),
        None => ("", url),
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    // `redis+unix:///path` has no authority, so an `@` in its path is not a user's. Otherwise
    // the user info ends at the last `@`: in the authority when the URL is well formed, or
    // further on when the password holds an unescaped `/`, `?` or `#` (hide all of it).
    let at = if authority.is_empty() {
        None
    } else {
        rest.rfind('@')
    };
    let (userinfo, tail) = match at {
        Some(at) => (Some(&rest[..at]), &rest[at + 1..]),
        None => (None, rest),
    };
    let mut out = String::with_capacity(url.len());
    out.push_str(prefix);
    if let Some(userinfo) = userinfo {
        match userinfo.split_once(':') {
            Some((user, _password)) => {
                out.push_str(user);
                out.push_str(":***");
            }
            // Alone it is a NATS token; in a Redis URL a user name without a password, which
            // the client never sends, so most likely a password written without its `:`.
            None if userinfo.is_empty() => {}
            None => out.push_str("***"),
        }
        out.push('@');
    }
    out.push_str(&redact_query(tail));
    out
}

/// `tail` (host, port, path, query, fragment) with the values of [`SECRET_PARAMS`] hidden.
fn redact_query(tail: &str) -> String {
    let Some((before, query)) = tail.split_once('?') else {
        return tail.to_owned();
    };
    let (query, fragment) = match query.split_once('#') {
        Some((query, fragment)) => (query, Some(fragment)),
        None => (query, None),
    };
    let query = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((key, _)) if SECRET_PARAMS.iter().any(|p| p.eq_ignore_ascii_case(key)) => {
                format!("{key}=***")
            }
            _ => pair.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&");
    match fragment {
        Some(fragment) => format!("{before}?{query}#{fragment}"),
        None => format!("{before}?{query}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_is_hidden_and_the_rest_kept() {
        for (url, shown) in [
            (
                "redis://alice:s3cret@db.internal:6379/2",
                "redis://alice:***@db.internal:6379/2",
            ),
            ("rediss://:s3cret@db:6380", "rediss://:***@db:6380"),
            (
                "nats://kv:s3cret@127.0.0.1:4222",
                "nats://kv:***@127.0.0.1:4222",
            ),
            ("tls://kv:s3cret@[::1]:4222", "tls://kv:***@[::1]:4222"),
            // A password with `@` or `:` written unescaped: the host is after the last `@`.
            ("redis://u:p@ss:w@host:1", "redis://u:***@host:1"),
        ] {
            assert_eq!(redact_url(url), shown, "{url}");
        }
    }

    /// A lone user info is a NATS token, or in a Redis URL a password missing its `:` (a user
    /// without a password is never sent): hidden either way.
    #[test]
    fn a_token_or_a_user_alone_is_hidden() {
        assert_eq!(redact_url("nats://s3cret@a:4222"), "nats://***@a:4222");
        assert_eq!(redact_url("redis://s3cret@db:6379"), "redis://***@db:6379");
        assert_eq!(redact_url("tls://s3cret@a:4222"), "tls://***@a:4222");
        assert_eq!(redact_url("postgres://s3cret@a"), "postgres://***@a");
    }

    #[test]
    fn urls_without_credentials_are_unchanged() {
        for url in [
            "redis://127.0.0.1:6379",
            "rediss://db:6380/0",
            "redis+unix:///run/redis@main/redis.sock?db=1",
            "unix:///tmp/redis.sock",
            "nats://a:4222, tls://b:4222",
            "not a url",
            "",
        ] {
            assert_eq!(redact_url(url), url);
        }
    }

    #[test]
    fn a_password_in_the_query_is_hidden() {
        assert_eq!(
            redact_url("redis+unix:///run/redis.sock?db=1&user=u&pass=s3cret#x"),
            "redis+unix:///run/redis.sock?db=1&user=u&pass=***#x"
        );
        assert_eq!(
            redact_url("unix:///tmp/r.sock?PASSWORD=s3cret"),
            "unix:///tmp/r.sock?PASSWORD=***"
        );
    }

    /// Text no URL parser would accept still never shows the secret.
    #[test]
    fn unparseable_urls_hide_everything_up_to_the_last_at() {
        for (url, shown) in [
            // A `/`, `?` or `#` in the password ends the authority too early.
            ("redis://u:pa/ss@host:6379", "redis://u:***@host:6379"),
            ("redis://pa/ss@host", "redis://***@host"),
            ("nats://u:a?b#c@host:4222", "nats://u:***@host:4222"),
            ("redis://u:a//b@host", "redis://u:***@host"),
            // No `//` at all.
            ("u:s3cret@host:6379", "u:***@host:6379"),
            ("redis:u:s3cret@host", "redis:***@host"),
            ("s3cret@host", "***@host"),
            // Half a URL.
            ("redis://u:s3cret@", "redis://u:***@"),
            ("redis://@host", "redis://@host"),
            ("//:s3cret@", "//:***@"),
        ] {
            let got = redact_url(url);
            assert_eq!(got, shown, "{url}");
            assert!(!got.contains("s3cret") && !got.contains("ss@"), "{got}");
        }
    }

    #[test]
    fn each_url_of_a_list_is_redacted() {
        assert_eq!(
            redact_url("nats://alice:s3cret@a:4222, tls://t0ken@b:4222,nats://c:4222"),
            "nats://alice:***@a:4222, tls://***@b:4222,nats://c:4222"
        );
        // A comma that does not start another URL is part of this one (here its password).
        assert_eq!(
            redact_url("nats://u:s3,cr,et@a:4222,nats://v:pw@b"),
            "nats://u:***@a:4222,nats://v:***@b"
        );
        assert_eq!(
            split_url_list("nats://a:1, tls://b:2,c:3"),
            ["nats://a:1", " tls://b:2,c:3"]
        );
        assert_eq!(split_url_list("nats://u:a,b@h"), ["nats://u:a,b@h"]);
    }

    #[test]
    fn urls_inside_a_message_are_redacted() {
        assert_eq!(
            redact_urls_in(
                "3 | url = \"redis://u:s3cret@db:1\", b = 'nats://t0k@x:2, tls://y'\n  |  ^\n"
            ),
            "3 | url = \"redis://u:***@db:1\", b = 'nats://***@x:2, tls://y'\n  |  ^\n"
        );
        assert_eq!(redact_urls_in("no url: here"), "no url: here");
        assert_eq!(redact_urls_in("://s3cret@x é://"), "://***@x é://");
    }

    /// Whatever the text, the result does not panic and never holds the secret that follows
    /// a `:` in the user info.
    #[test]
    fn odd_text_never_panics() {
        for url in [
            "://",
            "//",
            "@",
            ":@",
            "a,b,,",
            ",nats://x",
            "nats://,",
            "?pass",
            "x?pass=",
            "é://ü:s3cret@ö",
            "redis://[::1",
            "redis://u:s3cret@[::1]:1?pass=s3cret",
        ] {
            let got = redact_url(url);
            assert!(!got.contains("s3cret"), "{url} -> {got}");
        }
    }
}
