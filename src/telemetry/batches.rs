//! Log lines written in batches by a thread of their own. A request appends its line to
//! a shared buffer (one copy under a lock) and goes on; the thread writes what gathered
//! once [`GATHER`] has passed since the first of them, or at once when [`SOON`] bytes
//! wait. Nothing is dropped: past `full` bytes waiting, a request waits for the
//! thread to take them. Idle, the thread sleeps until a line comes. Each `write` is
//! kept whole, as `tracing-subscriber` writes each line: in one.
//!
//! `tracing-appender`, which this replaces, hands each line to its thread over a
//! channel whose receiver spins on `sched_yield`, and writes each burst as soon as its
//! queue is empty: under load, that was a write and a yield for most lines, and 6 % of
//! the service's CPU beside `{ __typename }` (`bench/profiling.md`, seventh round).
use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use tracing_subscriber::fmt::MakeWriter;

/// How long the first line of a batch waits for others to join it.
const GATHER: Duration = Duration::from_millis(50);
/// Bytes waiting that are written without waiting for [`GATHER`] to pass (or `full`,
/// if less: requests are waiting then).
const SOON: usize = 64 * 1024;
/// Bytes waiting past which a request waits for the writer: about as much as the
/// 128,000 short lines that `tracing-appender` queued.
pub const FULL: usize = 16 * 1024 * 1024;

/// What the requests write into (a [`MakeWriter`]); cloned into the logging layer.
#[derive(Clone)]
pub struct Batches(Arc<Shared>);

/// Writes what is still waiting, then stops the writer, when dropped.
pub struct Guard {
    shared: Arc<Shared>,
    writer: Option<JoinHandle<()>>,
}

struct Shared {
    waiting: Mutex<Waiting>,
    /// Told when the first line of a batch comes, when [`SOON`] bytes wait, and when
    /// closing.
    line_came: Condvar,
    /// Told when the writer has taken what waited.
    taken: Condvar,
    /// Bytes waiting that the writer takes at once.
    soon: usize,
    /// Bytes waiting past which a request waits.
    full: usize,
}

#[derive(Default)]
struct Waiting {
    bytes: Vec<u8>,
    closing: bool,
}

/// Batches of lines written to `out` by a thread of its own; requests wait past `full`
/// bytes waiting.
pub fn spawn(out: impl Write + Send + 'static, full: usize) -> std::io::Result<(Batches, Guard)> {
    let shared = Arc::new(Shared {
        waiting: Mutex::default(),
        line_came: Condvar::new(),
        taken: Condvar::new(),
        soon: SOON.min(full),
        full,
    });
    let writer = {
        let shared = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("log-writer".into())
            .spawn(move || write_batches(&shared, out))?
    };
    Ok((
        Batches(Arc::clone(&shared)),
        Guard {
            shared,
            writer: Some(writer),
        },
    ))
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Waiting> {
        // A writer that panicked half-way left whole lines or none: the bytes stay usable.
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The writer thread: each batch taken under the lock and written outside it.
fn write_batches(shared: &Shared, mut out: impl Write) {
    let mut batch = Vec::new();
    loop {
        let closing = {
            let mut waiting = shared.lock();
            while waiting.bytes.is_empty() && !waiting.closing {
                waiting = shared.line_came.wait(waiting).unwrap_or_else(PoisonError::into_inner);
            }
            if waiting.bytes.len() < shared.soon && !waiting.closing {
                waiting = shared
                    .line_came
                    .wait_timeout(waiting, GATHER)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
            std::mem::swap(&mut batch, &mut waiting.bytes);
            waiting.closing
        };
        shared.taken.notify_all();
        // Nowhere to report a failed write to stderr but stderr: the batch is dropped.
        let _ = out.write_all(&batch).and_then(|()| out.flush());
        batch.clear();
        // A burst does not keep its memory: the next batches fit in this.
        batch.shrink_to(SOON);
        if closing && shared.lock().bytes.is_empty() {
            return;
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.shared.lock().closing = true;
        self.shared.line_came.notify_one();
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

/// One line on its way into the batch.
pub struct Line<'a>(&'a Shared);

impl Write for Line<'_> {
    fn write(&mut self, line: &[u8]) -> std::io::Result<usize> {
        let shared = self.0;
        let mut waiting = shared.lock();
        while waiting.bytes.len() >= shared.full && !waiting.closing {
            waiting = shared.taken.wait(waiting).unwrap_or_else(PoisonError::into_inner);
        }
        let first = waiting.bytes.is_empty();
        waiting.bytes.extend_from_slice(line);
        let soon = waiting.bytes.len() >= shared.soon && waiting.bytes.len() - line.len() < shared.soon;
        drop(waiting);
        if first || soon {
            shared.line_came.notify_one();
        }
        Ok(line.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Batches {
    type Writer = Line<'a>;

    fn make_writer(&'a self) -> Line<'a> {
        Line(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    /// A sink the test reads while the writer thread writes into it.
    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl Write for Sink {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Sink {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }

        fn len(&self) -> usize {
            self.0.lock().unwrap().len()
        }
    }

    /// Waits, up to 10 s, for the writer thread to make `done` true.
    fn wait_until(done: impl Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !done() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn every_line_of_every_thread_arrives_whole_and_in_its_order() {
        let sink = Sink::default();
        let (batches, guard) = spawn(sink.clone(), 1024).unwrap();
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let batches = batches.clone();
                std::thread::spawn(move || {
                    for i in 0..5_000 {
                        let line = format!("thread {t} line {i}\n");
                        batches.make_writer().write_all(line.as_bytes()).unwrap();
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        drop(guard);
        let text = sink.text();
        assert_eq!(text.lines().count(), 20_000);
        for t in 0..4 {
            let prefix = format!("thread {t} line ");
            let order: Vec<usize> = text
                .lines()
                .filter_map(|line| line.strip_prefix(&prefix))
                .map(|i| i.parse().unwrap())
                .collect();
            assert_eq!(order, (0..5_000).collect::<Vec<_>>());
        }
    }

    #[test]
    fn a_lone_line_is_written_without_another_coming() {
        let sink = Sink::default();
        let (batches, _guard) = spawn(sink.clone(), FULL).unwrap();
        batches.make_writer().write_all(b"alone\n").unwrap();
        wait_until(|| sink.len() > 0);
        assert_eq!(sink.text(), "alone\n");
    }

    #[test]
    fn a_burst_does_not_keep_its_memory_once_written() {
        let sink = Sink::default();
        let (batches, _guard) = spawn(sink.clone(), FULL).unwrap();
        let burst = vec![b'x'; 4 * 1024 * 1024];
        batches.make_writer().write_all(&burst).unwrap();
        wait_until(|| sink.len() >= burst.len());
        assert_eq!(sink.len(), burst.len());
        batches.make_writer().write_all(b"after\n").unwrap();
        wait_until(|| sink.len() >= burst.len() + 6);
        assert_eq!(sink.len(), burst.len() + 6);
        // The buffer the burst grew is the one requests write into now.
        assert!(batches.0.lock().bytes.capacity() <= SOON);
    }

    #[test]
    fn a_request_waits_when_full_and_goes_on_once_the_writer_took_the_batch() {
        /// A sink whose each write waits until told.
        struct Held(Sink, std::sync::mpsc::Receiver<()>);
        impl Write for Held {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                let _ = self.1.recv();
                self.0.write(bytes)
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let sink = Sink::default();
        let (release, held) = std::sync::mpsc::channel();
        let (batches, guard) = spawn(Held(sink.clone(), held), 8).unwrap();
        // The writer takes this one and is held writing it.
        batches.make_writer().write_all(b"first\n").unwrap();
        wait_until(|| batches.0.lock().bytes.is_empty());
        // Fills the buffer: the next line must wait for the writer to take it.
        batches.make_writer().write_all(b"second!!\n").unwrap();
        let waiting = {
            let batches = batches.clone();
            std::thread::spawn(move || batches.make_writer().write_all(b"third\n").unwrap())
        };
        std::thread::sleep(Duration::from_millis(100));
        assert!(!waiting.is_finished(), "a line was added past the limit");
        assert_eq!(batches.0.lock().bytes, b"second!!\n");
        for _ in 0..3 {
            release.send(()).unwrap();
        }
        waiting.join().unwrap();
        drop(guard);
        assert_eq!(sink.text(), "first\nsecond!!\nthird\n");
    }
}
