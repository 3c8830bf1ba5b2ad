//! The server's memory allocator and its settings, in one place: the
//! server uses them, and the benchmarks include this file to measure what
//! the server does.

/// jemalloc in place of the system's allocator: glibc's spent about 40 % of
/// a scheduler pass sorting and merging its free lists, as sled's cache of
/// pages churns blocks of every size; with jemalloc the server uses a
/// fifth to a third less processor per request of the deadline hour
/// (docs/performance.md, twelfth round).
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's settings (read as a C string before `main`; the variable
/// `_RJEM_MALLOC_CONF` still overrides them):
/// - memory freed goes back to the system after a second instead of ten. An
///   export of every candidature churns through sled's cache of pages, and
///   what it freed, kept ten seconds, raised the server's peak by about five
///   megabytes at 100,000 candidatures. Given back sooner, the scheduler's
///   passes were slower (docs/performance.md, fourteenth round);
/// - one arena per processor, not four: each arena keeps its own free
///   pages, and the threads of a server (its workers, the blocking pool's,
///   sled's) spread over eight arenas on two processors held six to ten
///   megabytes more through an export of 100,000 candidatures, for no
///   measurable processor time (eighteenth round). jemalloc can tell which
///   processor a thread runs on under Linux only, and elsewhere complains
///   of the setting on standard error.
#[cfg(target_os = "linux")]
#[export_name = "_rjem_malloc_conf"]
static JEMALLOC_SETTINGS: &[u8; 57] = b"dirty_decay_ms:1000,muzzy_decay_ms:0,percpu_arena:percpu\0";

/// jemalloc's settings elsewhere: see the Linux ones.
#[cfg(all(not(target_env = "msvc"), not(target_os = "linux")))]
#[export_name = "_rjem_malloc_conf"]
static JEMALLOC_SETTINGS: &[u8; 37] = b"dirty_decay_ms:1000,muzzy_decay_ms:0\0";
