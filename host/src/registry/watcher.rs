//! Watches the plugin directory and reports which plugin files changed, once each file
//! has settled.
//!
//! Editors and `cp` write a file in steps, so an event is not a change yet. A file is
//! reported when it has had no event for the debounce time **and** is not being written:
//! on Linux a write counts until the writer closes the file (inotify's `CLOSE_WRITE`),
//! however long it pauses. A file that never sees a close (other platforms, or a writer
//! that keeps it open) is reported after [`STALLED_WRITE`] without events. A rename into
//! the directory (an atomic save) is a complete file at once.
//!
//! `NAME.wasm`, its sidecar `NAME.toml` and its signature `NAME.wasm.sig` are one
//! plugin: a change of any reports `NAME.wasm`. Hidden files (`.NAME…`) are ignored.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::event::{AccessKind, AccessMode, EventKind, ModifyKind};
use notify::{RecommendedWatcher, RecursiveMode, Watcher as _};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// A file written to, not closed, and without events for this long is taken as written.
pub const STALLED_WRITE: Duration = Duration::from_secs(10);

/// What the watcher reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// These plugin files (`DIR/NAME.wasm`) may have been created, replaced or deleted.
    Files(Vec<PathBuf>),
    /// Events were lost (the kernel queue overflowed): look at every file again.
    Rescan,
}

/// A running watch of one directory; dropping it stops watching.
pub struct Watcher {
    _inner: RecommendedWatcher,
}

/// What is known of one file with pending events.
struct Pending {
    last_event: Instant,
    /// Written to and not closed since.
    writing: bool,
}

/// Starts watching `dir`; settled changes arrive on the returned channel, which closes
/// when the [`Watcher`] is dropped.
pub fn watch(
    dir: &Path,
    debounce: Duration,
) -> Result<(Watcher, mpsc::UnboundedReceiver<Change>), notify::Error> {
    let (raw_tx, raw_rx) = mpsc::unbounded_channel();
    let mut inner = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        // The receiver is gone only when watching stops.
        let _ = raw_tx.send(event);
    })?;
    inner.watch(dir, RecursiveMode::NonRecursive)?;
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(settle(dir.to_path_buf(), debounce, raw_rx, tx));
    Ok((Watcher { _inner: inner }, rx))
}

/// The plugin file a changed `path` belongs to, if any.
fn plugin_file(dir: &Path, path: &Path) -> Option<PathBuf> {
    let name = path.file_name()?.to_str()?;
    if name.starts_with('.') {
        return None;
    }
    let stem = name
        .strip_suffix(".wasm")
        .or_else(|| name.strip_suffix(".toml"))
        .or_else(|| name.strip_suffix(".wasm.sig"))?;
    (!stem.is_empty()).then(|| dir.join(format!("{stem}.wasm")))
}

async fn settle(
    dir: PathBuf,
    debounce: Duration,
    mut raw: mpsc::UnboundedReceiver<notify::Result<notify::Event>>,
    out: mpsc::UnboundedSender<Change>,
) {
    let mut pending: HashMap<PathBuf, Pending> = HashMap::new();
    loop {
        let next = pending
            .values()
            .map(|p| p.last_event + if p.writing { STALLED_WRITE } else { debounce })
            .min();
        let event = match next {
            Some(deadline) => tokio::select! {
                event = raw.recv() => event,
                () = tokio::time::sleep_until(deadline) => {
                    let now = Instant::now();
                    let mut ready: Vec<PathBuf> = Vec::new();
                    pending.retain(|file, p| {
                        let quiet = if p.writing { STALLED_WRITE } else { debounce };
                        let settled = now >= p.last_event + quiet;
                        if settled {
                            ready.push(file.clone());
                        }
                        !settled
                    });
                    ready.sort();
                    if out.send(Change::Files(ready)).is_err() {
                        return;
                    }
                    continue;
                }
            },
            None => raw.recv().await,
        };
        let Some(event) = event else { return };
        let event = match event {
            Ok(event) => event,
            Err(e) => {
                tracing::warn!("watching {}: {e}; rescanning", dir.display());
                if out.send(Change::Rescan).is_err() {
                    return;
                }
                continue;
            }
        };
        if event.need_rescan() {
            if out.send(Change::Rescan).is_err() {
                return;
            }
            continue;
        }
        let now = Instant::now();
        for path in &event.paths {
            let Some(file) = plugin_file(&dir, path) else {
                continue;
            };
            match event.kind {
                // Opening (pier itself reads the file) is not a change.
                EventKind::Access(AccessKind::Open(_) | AccessKind::Read) => {}
                EventKind::Access(AccessKind::Close(AccessMode::Write)) => {
                    pending
                        .entry(file)
                        .and_modify(|p| {
                            p.writing = false;
                            p.last_event = now;
                        })
                        .or_insert(Pending {
                            last_event: now,
                            writing: false,
                        });
                }
                EventKind::Access(_) => {}
                EventKind::Modify(ModifyKind::Data(_) | ModifyKind::Any) => {
                    let p = pending.entry(file).or_insert(Pending {
                        last_event: now,
                        writing: true,
                    });
                    p.writing = true;
                    p.last_event = now;
                }
                _ => {
                    let p = pending.entry(file).or_insert(Pending {
                        last_event: now,
                        writing: false,
                    });
                    p.last_event = now;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_component_and_its_sidecar_are_one_plugin() {
        let dir = Path::new("/p");
        assert_eq!(
            plugin_file(dir, Path::new("/p/hello.wasm")),
            Some(PathBuf::from("/p/hello.wasm"))
        );
        assert_eq!(
            plugin_file(dir, Path::new("/p/hello.toml")),
            Some(PathBuf::from("/p/hello.wasm"))
        );
        assert_eq!(
            plugin_file(dir, Path::new("/p/hello.wasm.sig")),
            Some(PathBuf::from("/p/hello.wasm"))
        );
        assert_eq!(plugin_file(dir, Path::new("/p/.hello.wasm.swp")), None);
        assert_eq!(plugin_file(dir, Path::new("/p/hello.wasm.tmp")), None);
        assert_eq!(plugin_file(dir, Path::new("/p/.wasm")), None);
    }
}
