//! Single instance: a launch with a model link (`hubble hubble://model/org/name`) hands the link
//! to the window already running and exits, so clicking links in a browser reuses one window.
//!
//! On Unix the first window listens on a Unix domain socket (`$XDG_RUNTIME_DIR/hubble.sock`,
//! else `$HF_HOME/hubble/instance.sock`, mode 0600). The protocol is one line each way:
//! `open <hubble:// URL>\n` → `ok\n` or `error: <why>\n`; the listener parses the link again, so a
//! hostile local client gets an error, not a page. A socket file nobody answers on (a crashed
//! instance) is removed and replaced. A launch without a link always opens its own window.
//! Elsewhere every launch opens its own window.

use std::path::{Path, PathBuf};

use crate::link::ModelLink;

/// What a launch should do.
pub enum Claim {
    /// Open a window; the listener (when one could be set up) serves later launches.
    Open(Option<Listener>),
    /// The running window took the link: exit.
    HandedOver,
}

/// Where the socket lives for a user whose `HF_HOME` is `hf_home`.
pub fn socket_path(hf_home: &Path) -> PathBuf {
    match std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from) {
        Some(dir) if dir.is_absolute() => dir.join("hubble.sock"),
        _ => hf_home.join("hubble").join("instance.sock"),
    }
}

pub use imp::{Listener, Serving, claim};

#[cfg(unix)]
mod imp {
    use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    use std::os::unix::net::{UnixListener, UnixStream};
    use std::path::{Path, PathBuf};
    use std::time::Duration;

    use super::Claim;
    use crate::link::ModelLink;

    /// How long either side waits for the other's line.
    const TIMEOUT: Duration = Duration::from_secs(3);

    /// The longest request line read.
    const MAX_LINE: u64 = 1024;

    /// A bound socket, not yet accepting.
    pub struct Listener {
        socket: UnixListener,
        path: PathBuf,
    }

    /// Keeps the socket served; dropping it removes the socket file (if it is still this one).
    pub struct Serving {
        path: PathBuf,
        inode: Option<(u64, u64)>,
    }

    /// Hands `link` to a running instance at `path`, or sets up the listener for this one.
    /// Failures to listen are reported on stderr and leave this launch without one.
    pub fn claim(path: &Path, link: Option<&ModelLink>) -> Claim {
        match UnixStream::connect(path) {
            Ok(stream) => {
                let Some(link) = link else {
                    // Another window runs and keeps the socket; this one opens its own.
                    return Claim::Open(None);
                };
                match hand_over(stream, link) {
                    Ok(()) => return Claim::HandedOver,
                    Err(why) => {
                        eprintln!(
                            "hubble: the running window did not take the link ({why}); opening a new one"
                        );
                        return Claim::Open(None);
                    }
                }
            }
            Err(e) if e.kind() == ErrorKind::ConnectionRefused => {
                // A stale socket from an instance that is gone.
                if let Err(e) = std::fs::remove_file(path) {
                    eprintln!(
                        "hubble: could not remove the stale socket {}: {e}",
                        path.display()
                    );
                    return Claim::Open(None);
                }
            }
            Err(_) => {}
        }
        match bind(path) {
            Ok(listener) => Claim::Open(Some(listener)),
            Err(e) => {
                eprintln!(
                    "hubble: links from other launches won't reach this window (socket {}: {e})",
                    path.display()
                );
                Claim::Open(None)
            }
        }
    }

    fn hand_over(mut stream: UnixStream, link: &ModelLink) -> Result<(), String> {
        stream
            .set_read_timeout(Some(TIMEOUT))
            .map_err(|e| e.to_string())?;
        stream
            .set_write_timeout(Some(TIMEOUT))
            .map_err(|e| e.to_string())?;
        writeln!(stream, "open {}", link.to_url()).map_err(|e| e.to_string())?;
        let mut answer = String::new();
        BufReader::new(stream.take(MAX_LINE))
            .read_line(&mut answer)
            .map_err(|e| e.to_string())?;
        match answer.trim_end() {
            "ok" => Ok(()),
            "" => Err("no answer".into()),
            other => Err(other.to_string()),
        }
    }

    fn bind(path: &Path) -> std::io::Result<Listener> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let socket = UnixListener::bind(path)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        Ok(Listener {
            socket,
            path: path.to_path_buf(),
        })
    }

    impl Listener {
        /// Accepts launches on a background thread, passing each valid link to `deliver`.
        pub fn serve(self, deliver: impl Fn(ModelLink) + Send + 'static) -> Serving {
            let inode = std::fs::metadata(&self.path)
                .ok()
                .map(|m| (m.dev(), m.ino()));
            let serving = Serving {
                path: self.path.clone(),
                inode,
            };
            let spawned = std::thread::Builder::new()
                .name("hubble-instance".into())
                .spawn(move || {
                    for stream in self.socket.incoming().flatten() {
                        if let Some(link) = answer(stream) {
                            deliver(link);
                        }
                    }
                });
            if let Err(e) = spawned {
                eprintln!("hubble: could not start the link listener: {e}");
            }
            serving
        }
    }

    /// Reads one request, answers it, and returns its link if it was valid.
    fn answer(mut stream: UnixStream) -> Option<ModelLink> {
        stream.set_read_timeout(Some(TIMEOUT)).ok()?;
        stream.set_write_timeout(Some(TIMEOUT)).ok()?;
        let mut line = String::new();
        BufReader::new((&stream).take(MAX_LINE))
            .read_line(&mut line)
            .ok()?;
        let parsed = match line.trim_end_matches('\n').strip_prefix("open ") {
            Some(url) => ModelLink::parse(url).map_err(|e| e.to_string()),
            None => Err("expected `open <link>`".to_string()),
        };
        let reply = match &parsed {
            Ok(_) => "ok".to_string(),
            Err(why) => format!("error: {why}"),
        };
        // The link is used even if the client left before reading the answer.
        let _ = writeln!(stream, "{reply}");
        parsed.ok()
    }

    impl Drop for Serving {
        fn drop(&mut self) {
            let current = std::fs::metadata(&self.path)
                .ok()
                .map(|m| (m.dev(), m.ino()));
            if current.is_some() && current == self.inode {
                let _ = std::fs::remove_file(&self.path);
            }
        }
    }
}

#[cfg(not(unix))]
mod imp {
    use std::path::Path;

    use super::Claim;
    use crate::link::ModelLink;

    /// No listener exists on this platform.
    pub enum Listener {}

    /// Nothing to keep alive on this platform.
    pub struct Serving;

    /// Every launch opens its own window here.
    pub fn claim(_path: &Path, _link: Option<&ModelLink>) -> Claim {
        Claim::Open(None)
    }

    impl Listener {
        /// Unreachable: no listener is ever made here.
        pub fn serve(self, _deliver: impl Fn(ModelLink) + Send + 'static) -> Serving {
            match self {}
        }
    }
}

/// The link a launch would hand over, for messages.
pub fn describe(link: &ModelLink) -> String {
    match &link.revision {
        Some(revision) => format!("{} at {revision}", link.repo),
        None => link.repo.to_string(),
    }
}

#[cfg(all(test, unix))]
mod tests {
    use std::io::{BufRead, BufReader, Write};
    use std::os::unix::net::{UnixListener, UnixStream};
    use std::sync::mpsc;
    use std::time::Duration;

    use super::*;

    fn link(text: &str) -> ModelLink {
        ModelLink::parse(text).unwrap()
    }

    #[test]
    fn a_second_launch_hands_its_link_to_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hubble.sock");
        let Claim::Open(Some(listener)) = claim(&path, None) else {
            panic!("the first launch should listen");
        };
        let (tx, rx) = mpsc::channel();
        let serving = listener.serve(move |link| tx.send(link).unwrap());
        // A launch without a link opens its own window and leaves the socket alone.
        assert!(matches!(claim(&path, None), Claim::Open(None)));
        let wanted = link("hubble://model/org/name?revision=refs%2Fpr%2F2");
        assert!(matches!(claim(&path, Some(&wanted)), Claim::HandedOver));
        assert_eq!(rx.recv_timeout(Duration::from_secs(5)).unwrap(), wanted);

        // A hostile client gets an error and nothing is delivered.
        let mut raw = UnixStream::connect(&path).unwrap();
        writeln!(raw, "open hubble://model/../etc?revision=x").unwrap();
        let mut answer = String::new();
        BufReader::new(&raw).read_line(&mut answer).unwrap();
        assert!(answer.starts_with("error: "), "{answer}");
        assert!(rx.recv_timeout(Duration::from_millis(200)).is_err());

        drop(serving);
        assert!(!path.exists(), "the socket is removed on exit");
    }

    #[test]
    fn a_stale_socket_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hubble.sock");
        drop(UnixListener::bind(&path).unwrap()); // leaves the file, nobody listening
        assert!(path.exists());
        let wanted = link("org/name");
        let Claim::Open(Some(listener)) = claim(&path, Some(&wanted)) else {
            panic!("a stale socket should be replaced");
        };
        let (tx, rx) = mpsc::channel();
        let _serving = listener.serve(move |link| tx.send(link).unwrap());
        assert!(matches!(claim(&path, Some(&wanted)), Claim::HandedOver));
        assert_eq!(rx.recv_timeout(Duration::from_secs(5)).unwrap(), wanted);
    }
}
