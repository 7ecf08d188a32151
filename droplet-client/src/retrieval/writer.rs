//! A file appended to by a thread of its own, from a queue of buffers bounded in bytes: the
//! blocks a retrieval receives are handed over without a copy and written while the network
//! side goes on verifying the next ones (copying into the page cache is the largest single
//! cost of a retrieval to disk). A full queue makes the caller wait: back-pressure onto the
//! transfer.

use std::collections::VecDeque;
use std::fs::File;
use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

use bytes::Bytes;

#[derive(Default)]
struct Queue {
    buffers: VecDeque<Bytes>,
    /// Bytes handed over and not yet written.
    queued: usize,
    /// Bytes written to the file.
    written: u64,
    closed: bool,
    /// The write that failed; nothing is written after it.
    error: Option<(std::io::ErrorKind, String)>,
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
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue::default()),
            changed: Condvar::new(),
        });
        let s = shared.clone();
        let thread = std::thread::Builder::new()
            .name("retrieval-writer".into())
            .spawn(move || write_loop(&s, file))?;
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
            if q.buffers.is_empty() && q.queued == 0 {
                return Err(std::io::Error::other(format!(
                    "byte {upto} of the file was never handed over"
                )));
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

fn write_loop(shared: &Shared, mut file: File) {
    loop {
        let data = {
            let mut q = shared.lock();
            loop {
                if let Some(d) = q.buffers.front() {
                    break d.clone();
                }
                if q.closed {
                    return;
                }
                q = shared.wait(q);
            }
        };
        let result = file.write_all(&data);
        let mut q = shared.lock();
        q.buffers.pop_front();
        q.queued -= data.len();
        q.written += data.len() as u64;
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
    }
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
