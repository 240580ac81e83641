//! The embedded backend: every store trait over one SQLite file (rusqlite, SQLite compiled in).
//!
//! Design (see `docs/architecture.md` and `docs/data-model.md`):
//!
//! - **WAL mode**, one writer thread owning the only write connection, and a small pool of reader
//!   connections used from tokio's blocking pool (`spawn_blocking`). SQLite allows one writer at a
//!   time anyway; one writer thread avoids `SQLITE_BUSY` retries, while WAL lets readers run in
//!   parallel with it (a FETCH is never stuck behind a large APPEND). Nothing blocks the reactor.
//! - **Group commit**: the writer thread takes every write queued while it was busy, runs each in
//!   its own savepoint inside one `BEGIN IMMEDIATE` transaction and commits once, so concurrent
//!   writers share one WAL fsync. A caller is answered only after that commit: an acknowledged
//!   write is durable, and a write that fails rolls back to its savepoint without touching the
//!   others in the batch.
//! - **Every primitive is one transaction** (one savepoint of a committed transaction), so a process
//!   killed at any point leaves each primitive either fully applied or not at all.
//! - **Schema versioning**: a `meta` row holds the schema version; migrations run at open, each in its
//!   own transaction, and are idempotent. A file written by a newer binary is refused with a clear
//!   error instead of being touched.
//! - **Crash repair**: a `meta` row marks the database open. When a store is opened and finds the mark
//!   of a previous process that never closed cleanly, it recomputes what a use case spans several
//!   primitives for: `storage_used` of every user from its messages, blob reference counts from the
//!   messages that reference them, and drops unreferenced blobs (an append killed between storing its
//!   attachments and inserting the message). A lock file beside the database makes sure only one
//!   store has the file open, so this repair never races live writers.
//! - Message content is the [`crate::message::StoredMessage`] in a compact binary encoding of this
//!   module ([`codec`]), in its own table so metadata reads never touch it. Attachment blobs are kept
//!   in the database, content-addressed by hash with reference counts: one file to back up, and the
//!   reference change commits in the same transaction as everything else.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags, OptionalExtension};

use crate::model::ObjectId;
use crate::store::Backend;
use crate::{Error, ErrorKind, Result};

mod archive;
mod attachments;
mod auth;
pub mod codec;
mod forwarded;
mod journal;
mod mailboxes;
mod messages;
mod pop3;
mod schema;
mod search;
mod tasks;
mod threads;
mod users;

pub use schema::SCHEMA_VERSION;

/// How commits reach the disk (SQLite `PRAGMA synchronous` in WAL mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Synchronous {
    /// `FULL`: the WAL is fsynced at every commit; a commit survives power loss. The default.
    #[default]
    Full,
    /// `NORMAL`: fsync only at checkpoints; a commit survives a killed process but the last
    /// commits may roll back after power loss or an OS crash.
    Normal,
    /// Dovecot's `mail_fsync = optimized`: writes that create or change data which cannot be
    /// rebuilt (appends, copies, users, addresses, passwords, mailboxes, …) commit with `FULL`,
    /// flag changes and expunges with `NORMAL`. A `NORMAL` commit survives a killed process, and
    /// the WAL is a log: the next `FULL` commit (or checkpoint) makes every commit before it
    /// durable too, so after power loss the database is always a prefix of the commits, and at
    /// most the flag changes and expunges since the last durable commit are lost.
    Optimized,
}

/// How much durability one write asks for; [`Synchronous`] maps it to a commit mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Durability {
    /// Data that cannot be rebuilt: always `FULL` unless the store is `Normal`.
    Durable,
    /// Flag changes, expunges and their journal entries: `NORMAL` under `Optimized`.
    Relaxed,
}

impl Synchronous {
    /// Whether a commit holding a write of `d` is fsynced (`PRAGMA synchronous = FULL`).
    fn full_for(self, d: Durability) -> bool {
        match self {
            Self::Full => true,
            Self::Normal => false,
            Self::Optimized => d == Durability::Durable,
        }
    }
}

/// Options for [`SqliteStore::open_with`].
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// Commit durability.
    pub synchronous: Synchronous,
    /// Most idle reader connections kept open (more are opened under load and closed after use).
    pub max_idle_readers: usize,
    /// How long a statement waits for a lock held by another connection before failing.
    pub busy_timeout: Duration,
    /// Page cache per connection, in KiB.
    pub cache_kib: u32,
    /// How much of the file connections read through a memory map, in MiB (`PRAGMA
    /// mmap_size`). 0, the default, reads with `pread` into each connection's page cache.
    /// A map saves a copy per page once the file is in the OS cache, but a page fault reads
    /// around the faulting page as far as the device's read-ahead (8 MiB on the benchmark
    /// machine), mostly message content the scan does not need: the UID list of 100,000
    /// messages read from disk took 1.3 s with a map against 0.2 s without
    /// (`docs/benchmarks.md`). An I/O error while reading the map is a SIGBUS.
    pub mmap_mib: u32,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        Self {
            synchronous: Synchronous::Full,
            max_idle_readers: 4,
            busy_timeout: Duration::from_secs(10),
            cache_kib: 16 * 1024,
            mmap_mib: 0,
        }
    }
}

/// An open SQLite database implementing every store trait. Cheap to clone; the file is closed (and
/// marked cleanly closed) when the last clone is dropped.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    db: Arc<Db>,
}

/// What happened at open, for logs and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OpenReport {
    /// Schema version found in the file before migrations (0 for a new file).
    pub found_version: u32,
    /// Whether the previous process did not close the database and the crash repair ran.
    pub repaired: bool,
}

/// One queued write: runs inside the batch transaction and returns what to do once the batch's
/// commit outcome is known; `full` says whether its commit must be fsynced.
struct Job {
    run: Box<dyn FnOnce(&Connection) -> Completion + Send>,
    full: bool,
}
/// Answers the caller with its result, or with the commit error.
type Completion = Box<dyn FnOnce(Option<&Error>) + Send>;

/// What the writer thread has done since the store was opened, to see how well group commit
/// works (see [`SqliteStore::writer_stats`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WriterStats {
    /// Transactions committed (or failed at commit).
    pub batches: u64,
    /// Write jobs (one per primitive call) run in them.
    pub jobs: u64,
    /// Time spent in COMMIT (the WAL write and, with `synchronous=FULL`, its fsync).
    pub commit_time: Duration,
    /// Transactions committed with `synchronous=FULL` (the WAL fsynced at commit).
    pub full_batches: u64,
}

#[derive(Debug, Default)]
struct Counters {
    batches: AtomicU64,
    jobs: AtomicU64,
    commit_micros: AtomicU64,
    full_batches: AtomicU64,
}

/// Most writes committed together.
const MAX_BATCH: usize = 256;

#[derive(Debug)]
struct Db {
    /// Queue of the writer thread; `None` once closing.
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
    writer_thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    readers: Mutex<Vec<Connection>>,
    path: PathBuf,
    options: SqliteOptions,
    report: OpenReport,
    /// Counters the writer thread keeps.
    stats: Arc<Counters>,
    /// Held (with an exclusive lock) for as long as the database is open.
    _lock: File,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic inside a closure drops its transaction (rolled back), so the connection is usable.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` with default options.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(path, SqliteOptions::default()).await
    }

    /// Opens (creating if needed) the database at `path`: takes the lock file `<path>.lock`, sets WAL
    /// mode, runs migrations, and repairs after an unclean shutdown. Fails with
    /// [`ErrorKind::Conflict`] when another store (in this or another process) has the file open, and
    /// with [`ErrorKind::Backend`] when the file's schema is newer than this binary.
    pub async fn open_with(path: impl AsRef<Path>, options: SqliteOptions) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let db = blocking(move || Db::open(path, options)).await??;
        Ok(Self { db: Arc::new(db) })
    }

    /// What the open found (schema version, crash repair).
    pub fn open_report(&self) -> OpenReport {
        self.db.report
    }

    /// Counters of the writer thread: batches committed, jobs in them, time in COMMIT.
    pub fn writer_stats(&self) -> WriterStats {
        let c = &self.db.stats;
        WriterStats {
            batches: c.batches.load(Ordering::Relaxed),
            jobs: c.jobs.load(Ordering::Relaxed),
            commit_time: Duration::from_micros(c.commit_micros.load(Ordering::Relaxed)),
            full_batches: c.full_batches.load(Ordering::Relaxed),
        }
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.db.path
    }

    /// The backend bundle over this database (every handle shares the connections).
    pub fn backend(&self) -> Backend {
        let me = Arc::new(self.clone());
        Backend {
            users: me.clone(),
            addresses: me.clone(),
            mailboxes: me.clone(),
            messages: me.clone(),
            attachments: me.clone(),
            journal: me.clone(),
            threads: me.clone(),
            asps: me.clone(),
            archive: me.clone(),
            authlog: me.clone(),
            tasks: me,
        }
    }

    /// Runs `f` on the writer thread inside its own savepoint of a batch transaction. Answers after
    /// the batch committed; when `f` fails, only its own changes are rolled back.
    pub(crate) async fn write<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        self.write_with(Durability::Durable, f).await
    }

    /// [`Self::write`] for a flag change or an expunge: not fsynced under
    /// [`Synchronous::Optimized`].
    pub(crate) async fn write_relaxed<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        self.write_with(Durability::Relaxed, f).await
    }

    /// [`Self::write`] with the durability the caller's data needs.
    pub(crate) async fn write_with<T, F>(&self, durability: Durability, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel::<Result<T>>();
        let run = Box::new(move |conn: &Connection| -> Completion {
            let out = in_savepoint(conn, f);
            Box::new(move |commit_error: Option<&Error>| {
                let answer = match commit_error {
                    Some(e) => Err(e.clone()),
                    None => out,
                };
                let _ = tx.send(answer);
            })
        });
        let job = Job {
            run,
            full: self.db.options.synchronous.full_for(durability),
        };
        let sent = lock(&self.db.jobs)
            .as_ref()
            .map(|q| q.send(job).is_ok())
            .unwrap_or(false);
        if !sent {
            return Err(Error::new(ErrorKind::Backend, "sqlite writer is closed"));
        }
        rx.await
            .map_err(|_| Error::new(ErrorKind::Backend, "sqlite writer stopped"))?
    }

    /// Runs `f` in one read transaction (a consistent snapshot) on a reader connection, off the
    /// reactor. `BEGIN` and `ROLLBACK` go through the statement cache (rusqlite's `Transaction`
    /// parses them anew each time, a measurable part of a small read).
    pub(crate) async fn read<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let db = self.db.clone();
        blocking(move || {
            let conn = db.take_reader()?;
            run_cached(&conn, "BEGIN")?;
            let out = f(&conn);
            // Nothing to commit; ending the read transaction releases the WAL snapshot. A
            // connection that could not end it is closed rather than pooled.
            match run_cached(&conn, "ROLLBACK") {
                Ok(()) => db.give_reader(conn),
                Err(e) => {
                    tracing::warn!(error = %e, "sqlite read transaction did not end; connection closed");
                    drop(conn);
                }
            }
            out
        })
        .await?
    }
}

/// Runs blocking work on tokio's blocking pool, or inline when there is no runtime (an embedder
/// driving the futures with another executor).
async fn blocking<T, F>(f: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => handle
            .spawn_blocking(f)
            .await
            .map_err(|e| Error::new(ErrorKind::Backend, format!("sqlite task failed: {e}"))),
        Err(_) => Ok(f()),
    }
}

impl Db {
    fn open(path: PathBuf, options: SqliteOptions) -> Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| io_err(&path, e))?;
        }
        let lock_path = with_suffix(&path, ".lock");
        let lock_file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| io_err(&lock_path, e))?;
        match lock_file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(Error::new(
                    ErrorKind::Conflict,
                    format!("{} is already open in another store", path.display()),
                ));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io_err(&lock_path, e)),
        }
        let mut writer = open_conn(&path, &options, true)?;
        let found_version = schema::migrate(&mut writer)?;
        let was_open = get_meta(&writer, "open")?.as_deref() == Some("1");
        let repaired = was_open;
        if was_open {
            tracing::warn!(path = %path.display(), "database was not closed cleanly; repairing");
            schema::repair(&mut writer)?;
        }
        set_meta(&writer, "open", "1")?;
        let (tx, rx) = mpsc::channel::<Job>();
        let stats = Arc::new(Counters::default());
        let writer_stats = stats.clone();
        let full = options.synchronous != Synchronous::Normal;
        let handle = std::thread::Builder::new()
            .name("wildduck-sqlite-writer".into())
            .spawn(move || writer_loop(writer, full, rx, &writer_stats))
            .map_err(|e| Error::new(ErrorKind::Backend, format!("writer thread: {e}")))?;
        Ok(Self {
            jobs: Mutex::new(Some(tx)),
            writer_thread: Mutex::new(Some(handle)),
            readers: Mutex::new(Vec::new()),
            path,
            options,
            report: OpenReport {
                found_version,
                repaired,
            },
            stats,
            _lock: lock_file,
        })
    }

    fn take_reader(&self) -> Result<Connection> {
        if let Some(c) = lock(&self.readers).pop() {
            return Ok(c);
        }
        open_conn(&self.path, &self.options, false)
    }

    fn give_reader(&self, conn: Connection) {
        let mut pool = lock(&self.readers);
        if pool.len() < self.options.max_idle_readers {
            pool.push(conn);
        }
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        // Closing the queue ends the writer loop, which marks the file closed and checkpoints;
        // waiting for it keeps the lock file held until the file is consistent.
        drop(lock(&self.jobs).take());
        if let Some(h) = lock(&self.writer_thread).take()
            && h.join().is_err()
        {
            tracing::warn!("sqlite writer thread panicked");
        }
    }
}

/// Runs one job of a batch. A panicking job drops its answer channel (its caller sees an error)
/// and its savepoint is rolled back; the others go on.
fn run_job(conn: &Connection, job: Job) -> Option<Completion> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (job.run)(conn))) {
        Ok(c) => Some(c),
        Err(_) => {
            tracing::error!("sqlite write job panicked");
            let _ = conn.execute_batch("ROLLBACK TO w; RELEASE w");
            None
        }
    }
}

/// Runs `f` in a savepoint: released on success, rolled back (and released) on failure.
fn in_savepoint<T>(conn: &Connection, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
    run_cached(conn, "SAVEPOINT w")?;
    let out = f(conn);
    if out.is_err() {
        run_cached(conn, "ROLLBACK TO w")?;
    }
    run_cached(conn, "RELEASE w")?;
    out
}

/// Runs one statement without results through the statement cache (the writer runs these for
/// every job: parsing them each time was measurable).
fn run_cached(conn: &Connection, statement: &str) -> Result<()> {
    conn.prepare_cached(statement)
        .and_then(|mut s| s.execute([]))
        .map(drop)
        .map_err(sql)
}

/// The writer thread: batches queued writes into one transaction and one commit. `full` is the
/// connection's `synchronous` setting at start; a batch commits with its first job's setting,
/// and a later job that needs a fsync the batch would not do waits for the next batch (SQLite
/// refuses to change the setting inside a transaction). A job that needs no fsync may join a
/// fsynced batch.
fn writer_loop(conn: Connection, mut full: bool, jobs: mpsc::Receiver<Job>, stats: &Counters) {
    let mut carried: Option<Job> = None;
    loop {
        let first = match carried.take() {
            Some(job) => job,
            None => match jobs.recv() {
                Ok(job) => job,
                Err(_) => break,
            },
        };
        if first.full != full {
            let pragma = if first.full {
                "PRAGMA synchronous = FULL"
            } else {
                "PRAGMA synchronous = NORMAL"
            };
            match run_cached(&conn, pragma) {
                Ok(()) => full = first.full,
                // A fsync that cannot be promised is not run: the caller gets an error.
                Err(e) if first.full => {
                    tracing::warn!(error = %e, "sqlite could not switch to synchronous=FULL");
                    drop(first);
                    continue;
                }
                // Committing with FULL where NORMAL would do is only slower.
                Err(e) => {
                    tracing::warn!(error = %e, "sqlite could not switch to synchronous=NORMAL")
                }
            }
        }
        if let Err(e) = run_cached(&conn, "BEGIN IMMEDIATE") {
            // Nothing ran: dropping the job drops its answer channel, so its caller gets an
            // error and nothing was written.
            tracing::warn!(error = %e, "sqlite write batch could not start");
            drop(first);
            continue;
        }
        let mut completions = Vec::new();
        completions.extend(run_job(&conn, first));
        let mut ran = 1;
        // Every job queued before the commit joins it, also those queued while earlier jobs of
        // the batch ran: concurrent writers share one commit (one WAL fsync with FULL).
        while ran < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) if job.full && !full => {
                    carried = Some(job);
                    break;
                }
                Ok(job) => {
                    completions.extend(run_job(&conn, job));
                    ran += 1;
                }
                Err(_) => break,
            }
        }
        let commit_started = Instant::now();
        let commit_error = run_cached(&conn, "COMMIT").err();
        if commit_error.is_some() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        stats.batches.fetch_add(1, Ordering::Relaxed);
        if full {
            stats.full_batches.fetch_add(1, Ordering::Relaxed);
        }
        stats.jobs.fetch_add(ran as u64, Ordering::Relaxed);
        stats.commit_micros.fetch_add(
            u64::try_from(commit_started.elapsed().as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        for c in completions {
            c(commit_error.as_ref());
        }
    }
    if let Err(e) = set_meta(&conn, "open", "0") {
        tracing::warn!(error = %e, "could not mark the database closed");
    }
    // Fold the WAL back into the main file so a cleanly closed database is one file.
    if let Err(e) = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);") {
        tracing::warn!(error = %e, "checkpoint at close failed");
    }
}

fn open_conn(path: &Path, options: &SqliteOptions, writer: bool) -> Result<Connection> {
    let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    if writer {
        flags |= OpenFlags::SQLITE_OPEN_CREATE;
    }
    let conn = Connection::open_with_flags(path, flags).map_err(sql)?;
    conn.busy_timeout(options.busy_timeout).map_err(sql)?;
    // Under `Optimized` the writer switches per batch; it starts with FULL.
    let sync = match options.synchronous {
        Synchronous::Full | Synchronous::Optimized => "FULL",
        Synchronous::Normal => "NORMAL",
    };
    conn.execute_batch(&format!(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = {sync};
         PRAGMA foreign_keys = OFF;
         PRAGMA temp_store = MEMORY;
         PRAGMA cache_size = -{};
         PRAGMA mmap_size = {};",
        options.cache_kib,
        u64::from(options.mmap_mib) * 1024 * 1024
    ))
    .map_err(sql)?;
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .map_err(sql)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(Error::new(
            ErrorKind::Backend,
            format!("sqlite refused WAL mode (journal_mode is {mode})"),
        ));
    }
    // The query planner stability guarantee: without it SQLite plans `LIMIT ?` with the bound
    // value and marks the statement to be re-prepared whenever that parameter is bound again,
    // so every cached statement with a bound LIMIT was parsed and planned anew on each run.
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)
        .map_err(sql)?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

pub(crate) fn get_meta(conn: &Connection, key: &str) -> Result<Option<String>> {
    conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
        .optional()
        .map_err(sql)
}

pub(crate) fn set_meta(conn: &Connection, key: &str, value: &str) -> Result<()> {
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [key, value],
    )
    .map_err(sql)?;
    Ok(())
}

fn io_err(path: &Path, e: std::io::Error) -> Error {
    Error::new(ErrorKind::Backend, format!("{}: {e}", path.display()))
}

/// Maps a SQLite error: unique and primary-key clashes are [`ErrorKind::AlreadyExists`], anything
/// else is a backend error (details for logs only).
pub(crate) fn sql(e: rusqlite::Error) -> Error {
    if let rusqlite::Error::SqliteFailure(f, _) = &e
        && f.code == rusqlite::ErrorCode::ConstraintViolation
        && matches!(
            f.extended_code,
            rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
        )
    {
        return Error::new(ErrorKind::AlreadyExists, "duplicate key");
    }
    Error::new(ErrorKind::Backend, format!("sqlite: {e}"))
}

/// An id as the 12 raw bytes the tables store.
pub(crate) fn idb(id: ObjectId) -> [u8; 12] {
    id.bytes()
}

/// Reads a 12-byte id column.
pub(crate) fn id_at(row: &rusqlite::Row<'_>, idx: usize) -> rusqlite::Result<ObjectId> {
    let v: Vec<u8> = row.get(idx)?;
    let arr: [u8; 12] = v.as_slice().try_into().map_err(|_| {
        rusqlite::Error::FromSqlConversionFailure(
            idx,
            rusqlite::types::Type::Blob,
            "id is not 12 bytes".into(),
        )
    })?;
    Ok(ObjectId::from_bytes(arr))
}

/// Reads an optional 12-byte id column.
pub(crate) fn opt_id_at(row: &rusqlite::Row<'_>, idx: usize) -> rusqlite::Result<Option<ObjectId>> {
    let v: Option<Vec<u8>> = row.get(idx)?;
    Ok(v.and_then(|v| <[u8; 12]>::try_from(v.as_slice()).ok())
        .map(ObjectId::from_bytes))
}

/// Unsigned values are stored as SQLite integers (i64), clamped.
pub(crate) fn i(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Reads a non-negative integer column as u64 (negative or corrupt values read as 0).
pub(crate) fn u_at(row: &rusqlite::Row<'_>, idx: usize) -> rusqlite::Result<u64> {
    let v: i64 = row.get(idx)?;
    Ok(u64::try_from(v).unwrap_or(0))
}

/// A string list as JSON text.
pub(crate) fn json_list(v: &[String]) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}

/// Parses a JSON string list; anything unreadable is an empty list (old data must not break reads).
pub(crate) fn parse_list(s: Option<String>) -> Vec<String> {
    s.and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes queued while a batch is running join that batch's commit (group commit), and a
    /// failing write rolls back alone.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writes_queued_during_a_batch_share_its_commit() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteStore::open(dir.path().join("mail.db"))
            .await
            .expect("open");
        let before = store.writer_stats();
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let slow = {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .write(move |c| {
                        let _ = started_tx.send(());
                        // Long enough for every other write below to be queued meanwhile.
                        std::thread::sleep(Duration::from_millis(500));
                        set_meta(c, "slow", "1")
                    })
                    .await
            })
        };
        tokio::task::spawn_blocking(move || started_rx.recv())
            .await
            .expect("join")
            .expect("slow job started");
        let mut others = Vec::new();
        for k in 0..10 {
            let store = store.clone();
            others.push(tokio::spawn(async move {
                store
                    .write(move |c| {
                        set_meta(c, &format!("k{k}"), "v")?;
                        if k == 3 {
                            return Err(Error::invalid("this one fails"));
                        }
                        Ok(())
                    })
                    .await
            }));
        }
        slow.await.expect("join").expect("slow write");
        for (k, h) in others.into_iter().enumerate() {
            let r = h.await.expect("join");
            assert_eq!(r.is_err(), k == 3, "write {k}: {r:?}");
        }
        let after = store.writer_stats();
        assert_eq!(after.jobs - before.jobs, 11);
        assert_eq!(
            after.batches - before.batches,
            1,
            "one commit for all eleven"
        );
        let kept = store
            .read(|tx| {
                let n: i64 = tx
                    .query_row("SELECT COUNT(*) FROM meta WHERE key LIKE 'k%'", [], |r| {
                        r.get(0)
                    })
                    .map_err(sql)?;
                Ok(n)
            })
            .await
            .expect("read");
        assert_eq!(kept, 9, "only the failed write was rolled back");
    }
}
