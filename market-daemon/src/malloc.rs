//! The C allocator's settings for a long-running daemon.
//!
//! glibc's malloc gives threads that allocate at once arenas of their own, up to eight per
//! core, and keeps what is freed in each arena for that arena's reuse. A daemon whose work
//! moves between tokio's workers and blocking threads (a 10,000-deal listing, a tracker pass,
//! a batch import) leaves freed memory scattered over many arenas, and its resident memory
//! grows to about twice what it holds: droplet with 10,000 deals sat at 136 MiB idle and
//! 238 MiB after thirty listings, against 69 and 137 MiB with two arenas (BENCHMARKS.md,
//! "Soak"). Tried and dropped: mimalloc, whose per-thread heaps kept more (740 MiB while the
//! soak imported its deals, against about 200).
#![allow(unsafe_code)]

/// Arenas glibc may create; `MALLOC_ARENA_MAX` in the environment still wins.
const ARENAS: i32 = 2;

/// Cap glibc's malloc arenas at [`ARENAS`] unless `MALLOC_ARENA_MAX` is set. Call it first in
/// `main`, before any thread starts. Does nothing with other C libraries.
pub fn limit_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only sets a tunable of glibc's allocator; it is called before the
        // daemon starts any thread, and its result (whether the value was taken) needs no
        // action: without it the daemon runs as before.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, ARENAS);
        }
    }
}
