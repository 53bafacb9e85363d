//! Clearing the Unix address of a plugin the host starts: a socket left by an earlier run
//! must go before the plugin can bind it again, but the address is written by a person, and
//! a typo (`unix:./data.db`) must not delete whatever file it names.

use std::io::ErrorKind;
use std::os::unix::fs::FileTypeExt as _;
use std::path::Path;

/// Removes the socket at `path`, if there is one. Nothing there is fine; anything that is
/// not a socket (a regular file, a directory, a symbolic link — not followed — or a device)
/// is left alone and is an error that names the path and what is there.
pub(crate) fn remove_stale_socket(path: &Path) -> anyhow::Result<()> {
    let metadata = match std::fs::symlink_metadata(path) {
        Ok(metadata) => metadata,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            return Err(anyhow::Error::new(e).context(format!(
                "cannot inspect the plugin's address {}",
                path.display()
            )));
        }
    };
    let kind = metadata.file_type();
    if kind.is_socket() {
        return match std::fs::remove_file(path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(anyhow::Error::new(e).context(format!(
                "cannot remove the old socket at the plugin's address {}",
                path.display()
            ))),
        };
    }
    let what = if kind.is_file() {
        "a regular file"
    } else if kind.is_dir() {
        "a directory"
    } else if kind.is_symlink() {
        "a symbolic link"
    } else if kind.is_fifo() {
        "a named pipe"
    } else if kind.is_block_device() || kind.is_char_device() {
        "a device"
    } else {
        "not a socket"
    };
    anyhow::bail!(
        "the plugin's address {} is {what}, not a socket; refusing to delete it — fix the \
         plugin's `address` (or remove that file yourself if it is no longer needed)",
        path.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_regular_file_at_the_address_survives_and_the_error_says_what_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data.db");
        std::fs::write(&path, b"precious").unwrap();
        let err = format!("{:#}", remove_stale_socket(&path).unwrap_err());
        assert!(err.contains("is a regular file, not a socket"), "{err}");
        assert!(err.contains("refusing to delete it"), "{err}");
        assert!(err.contains(&path.display().to_string()), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), b"precious");
    }

    #[test]
    fn a_directory_or_a_symbolic_link_is_refused_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("sub");
        std::fs::create_dir(&sub).unwrap();
        let err = format!("{:#}", remove_stale_socket(&sub).unwrap_err());
        assert!(err.contains("is a directory, not a socket"), "{err}");
        assert!(sub.is_dir());

        // A link to a socket is still a link: it is not followed, and not removed.
        let socket = dir.path().join("real.sock");
        let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        let link = dir.path().join("link.sock");
        std::os::unix::fs::symlink(&socket, &link).unwrap();
        let err = format!("{:#}", remove_stale_socket(&link).unwrap_err());
        assert!(err.contains("is a symbolic link, not a socket"), "{err}");
        assert!(std::fs::symlink_metadata(&link).is_ok());
        assert!(socket.exists());
    }

    #[test]
    fn an_old_socket_is_removed_and_a_missing_one_is_fine() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plugin.sock");
        drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
        assert!(
            std::fs::symlink_metadata(&path).is_ok(),
            "the socket stays after close"
        );
        remove_stale_socket(&path).unwrap();
        assert!(std::fs::symlink_metadata(&path).is_err());
        remove_stale_socket(&path).unwrap();
        // A new plugin can bind the address again.
        std::os::unix::net::UnixListener::bind(&path).unwrap();
    }
}
