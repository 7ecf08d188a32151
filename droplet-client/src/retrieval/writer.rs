//! A file appended to by a thread of its own, from a queue of buffers bounded in bytes: the
//! blocks a retrieval receives are handed over without a copy and written while the network
//! side goes on verifying the next ones. A full queue makes the caller wait: back-pressure
//! onto the transfer.
//!
//! Copying into the page cache is the largest single cost of a retrieval to disk (on a VM,
//! more than a second of CPU per GiB, faulting in fresh pages). Where the file system takes
//! direct I/O, [`QueuedFile::direct`] stages the data in one aligned buffer and writes it
//! around the page cache: a user-space copy into memory that is reused, then DMA. What has to
//! be visible before the end (read back while the retrieval runs) and the unaligned tail go
//! through the page cache; a direct write of the same range later is kept coherent by the
//! kernel.

use std::collections::VecDeque;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

use bytes::Bytes;

#[derive(Default)]
struct Queue {
    buffers: VecDeque<Bytes>,
    /// Bytes handed over and not yet written.
    queued: usize,
    /// Bytes in the file (visible to a reader).
    written: u64,
    /// Bytes the writer took (some perhaps staged, not yet visible).
    handed: u64,
    /// A caller waits for bytes handed over to be visible in the file.
    flush: bool,
    closed: bool,
    /// The write that failed; nothing is written after it.
    error: Option<(std::io::ErrorKind, String)>,
}

impl Queue {
    /// Bytes taken by the writer and not yet visible in the file.
    fn staged(&self) -> u64 {
        self.handed - self.written
    }
}

struct Shared {
    queue: Mutex<Queue>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn wait<'a>(&self, q: MutexGuard<'a, Queue>) -> MutexGuard<'a, Queue> {
        self.changed.wait(q).unwrap_or_else(|e| e.into_inner())
    }
}

fn failed(q: &Queue) -> std::io::Result<()> {
    match &q.error {
        Some((kind, message)) => Err(std::io::Error::new(*kind, message.clone())),
        None => Ok(()),
    }
}

pub struct QueuedFile {
    shared: Arc<Shared>,
    limit: usize,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for QueuedFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueuedFile").field("limit", &self.limit).finish()
    }
}

impl QueuedFile {
    /// Append to `file` from a queue of at most `limit` bytes (one buffer larger than that is
    /// taken alone).
    pub fn new(file: File, limit: usize) -> std::io::Result<Self> {
        Self::start(Appender::buffered(file), limit)
    }

    /// [`Self::new`] for the file at `path` (opened as `file`, empty), written with direct
    /// I/O where its file system takes it.
    pub fn direct(file: File, path: &Path, limit: usize) -> std::io::Result<Self> {
        Self::start(Appender::direct(file, path), limit)
    }

    fn start(appender: Appender, limit: usize) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue::default()),
            changed: Condvar::new(),
        });
        let s = shared.clone();
        let thread = std::thread::Builder::new()
            .name("retrieval-writer".into())
            .spawn(move || write_loop(&s, appender))?;
        Ok(QueuedFile {
            shared,
            limit,
            thread: Some(thread),
        })
    }

    /// Queue `data` for the file, waiting while the queue is full. An earlier write's failure
    /// is returned here.
    pub fn push(&self, data: Bytes) -> std::io::Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        let mut q = self.shared.lock();
        while q.error.is_none() && q.queued > 0 && q.queued + data.len() > self.limit {
            q = self.shared.wait(q);
        }
        failed(&q)?;
        q.queued += data.len();
        q.buffers.push_back(data);
        drop(q);
        self.shared.changed.notify_all();
        Ok(())
    }

    /// Wait until the first `upto` bytes handed over are in the file.
    pub fn written_to(&self, upto: u64) -> std::io::Result<()> {
        let mut q = self.shared.lock();
        loop {
            failed(&q)?;
            if q.written >= upto {
                return Ok(());
            }
            if q.buffers.is_empty() && q.queued == 0 && !q.flush {
                if q.written + q.staged() >= upto {
                    // Handed over, staged for a direct write: made visible now.
                    q.flush = true;
                    self.shared.changed.notify_all();
                } else {
                    return Err(std::io::Error::other(format!(
                        "byte {upto} of the file was never handed over"
                    )));
                }
            }
            q = self.shared.wait(q);
        }
    }

    /// Write what is queued, stop the thread, and say whether every write succeeded.
    pub fn close(&mut self) -> std::io::Result<()> {
        self.shared.lock().closed = true;
        self.shared.changed.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        failed(&self.shared.lock())
    }
}

impl Drop for QueuedFile {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

fn write_loop(shared: &Shared, mut appender: Appender) {
    loop {
        let data = {
            let mut q = shared.lock();
            loop {
                if let Some(d) = q.buffers.front() {
                    break Some(d.clone());
                }
                if q.flush || q.closed {
                    break None;
                }
                q = shared.wait(q);
            }
        };
        let result = match &data {
            Some(d) => appender.append(d),
            None => appender.make_visible(),
        };
        let mut q = shared.lock();
        if let Some(d) = &data {
            q.buffers.pop_front();
            q.queued -= d.len();
        } else {
            q.flush = false;
        }
        q.written = appender.visible;
        q.handed = appender.handed;
        let end = data.is_none() && q.closed;
        if let Err(e) = result {
            q.error = Some((e.kind(), e.to_string()));
            q.buffers.clear();
            q.queued = 0;
            drop(q);
            shared.changed.notify_all();
            return;
        }
        drop(q);
        shared.changed.notify_all();
        if end {
            return;
        }
    }
}

/// Direct I/O's alignment of buffers, offsets and lengths (the largest logical block size
/// Linux file systems use).
const ALIGN: usize = 4096;
/// The staging buffer of a direct writer.
const STAGE: usize = 8 << 20;

/// The file end of a [`QueuedFile`]: writes at increasing offsets, through the page cache or
/// staged for direct writes.
struct Appender {
    file: File,
    direct: Option<Direct>,
    /// Bytes handed over.
    handed: u64,
    /// Bytes in the file (visible to a reader).
    visible: u64,
}

/// A direct-I/O descriptor of the file and its staging buffer (`ALIGN` more than `STAGE`, to
/// start on an aligned address): the bytes from file offset `at` (aligned) not yet written
/// directly.
struct Direct {
    fd: File,
    stage: Vec<u8>,
    start: usize,
    staged: usize,
    at: u64,
}

impl Appender {
    fn buffered(file: File) -> Self {
        Appender {
            file,
            direct: None,
            handed: 0,
            visible: 0,
        }
    }

    fn direct(file: File, path: &Path) -> Self {
        let mut a = Self::buffered(file);
        a.direct = open_direct(path).map(|fd| {
            let stage = vec![0u8; STAGE + ALIGN];
            let start = stage.as_ptr().align_offset(ALIGN).min(ALIGN);
            Direct {
                fd,
                stage,
                start,
                staged: 0,
                at: 0,
            }
        });
        a
    }

    fn append(&mut self, mut data: &[u8]) -> std::io::Result<()> {
        let Some(d) = self.direct.as_mut() else {
            self.file.write_all_at(data, self.handed)?;
            self.handed += data.len() as u64;
            self.visible = self.handed;
            return Ok(());
        };
        self.handed += data.len() as u64;
        while !data.is_empty() {
            let n = data.len().min(STAGE - d.staged);
            let from = d.start + d.staged;
            d.stage[from..from + n].copy_from_slice(&data[..n]);
            d.staged += n;
            data = &data[n..];
            if d.staged == STAGE {
                let full = &d.stage[d.start..d.start + STAGE];
                match d.fd.write_all_at(full, d.at) {
                    Ok(()) => {}
                    // Refused after all (an unaligned device): through the page cache.
                    Err(e) if e.raw_os_error() == Some(libc::EINVAL) => self.file.write_all_at(full, d.at)?,
                    Err(e) => return Err(e),
                }
                d.at += STAGE as u64;
                d.staged = 0;
                self.visible = self.visible.max(d.at);
            }
        }
        Ok(())
    }

    /// Every byte handed over, visible in the file: the staged ones written through the page
    /// cache (and kept staged: the next direct write covers them again, the same bytes).
    fn make_visible(&mut self) -> std::io::Result<()> {
        if let Some(d) = &self.direct
            && d.staged > 0
        {
            self.file.write_all_at(&d.stage[d.start..d.start + d.staged], d.at)?;
        }
        self.visible = self.handed;
        Ok(())
    }
}

/// `path` opened for direct writes, if its file system takes them.
#[cfg(target_os = "linux")]
fn open_direct(path: &Path) -> Option<File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_DIRECT)
        .open(path)
        .ok()
}

#[cfg(not(target_os = "linux"))]
fn open_direct(_: &Path) -> Option<File> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_are_written_in_order_behind_a_bounded_queue() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f");
        let mut w = QueuedFile::new(File::create(&path).expect("create"), 10).expect("writer");
        let mut want = Vec::new();
        for i in 0..200u8 {
            let chunk = vec![i; usize::from(i % 7) + 1];
            want.extend_from_slice(&chunk);
            w.push(Bytes::from(chunk)).expect("push");
        }
        // A buffer larger than the whole queue is still taken.
        want.extend_from_slice(&[9; 64]);
        w.push(Bytes::from(vec![9; 64])).expect("a large buffer");
        w.written_to(want.len() as u64).expect("written");
        assert_eq!(std::fs::read(&path).expect("read"), want);
        w.close().expect("close");
        assert!(w.written_to(want.len() as u64 + 1).is_err(), "never handed over");
    }

    #[test]
    fn a_direct_writer_stages_makes_visible_on_demand_and_ends_with_every_byte() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f");
        let file = File::create(&path).expect("create");
        let mut w = QueuedFile::direct(file, &path, 4 << 20).expect("writer");
        // Odd sizes across several stages (8 MiB each), read back at points on the way (the
        // staged bytes written through the page cache, then again directly).
        let mut want = Vec::new();
        let mut seed = 7u64;
        for i in 0..40u64 {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let len = (seed >> 44) as usize + 1;
            let chunk: Vec<u8> = (0..len).map(|j| (j as u64 ^ seed ^ i) as u8).collect();
            want.extend_from_slice(&chunk);
            w.push(Bytes::from(chunk)).expect("push");
            if i % 9 == 4 {
                let upto = want.len() as u64;
                w.written_to(upto).expect("visible");
                let got = std::fs::read(&path).expect("read");
                assert_eq!(&got[..want.len()], &want[..], "visible after {i} buffers");
            }
        }
        assert!(want.len() > 2 * STAGE, "more than two stages: {}", want.len());
        w.close().expect("close");
        assert_eq!(std::fs::read(&path).expect("read"), want);
    }

    #[test]
    fn a_failed_write_is_reported_and_nothing_follows_it() {
        // /dev/full: every write fails with "no space left on device".
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .expect("/dev/full");
        let mut w = QueuedFile::new(full, 1 << 20).expect("writer");
        let _ = w.push(Bytes::from_static(b"data"));
        let e = w.close().expect_err("the write failed");
        assert_eq!(e.kind(), std::io::ErrorKind::StorageFull);
        assert!(w.push(Bytes::from_static(b"more")).is_err());
    }
}
