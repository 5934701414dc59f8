//! How the node's memory is kept small: no transparent huge pages, SQLite's allocations made by
//! mimalloc, freed pages given back at once, and what bulk work freed given back at its end.

use std::ffi::{c_int, c_void};

use libmimalloc_sys::mi_option_t;

/// mimalloc's `mi_option_purge_delay` (its position in `mi_option_e`, mimalloc.h; the crate
/// exports no constant for it). A test checks it still names the option.
const PURGE_DELAY: mi_option_t = 15;

/// Called first thing in `main`, before anything is allocated in earnest:
///
/// - No transparent huge pages: mimalloc advises them on the regions it reserves, and a 2 MB
///   huge page counts whole in the resident set however little of it is in use (28 of a
///   PostgreSQL node's 62 MB at rest). `prctl` turns them off for the process, also where the
///   system's setting is `always`.
/// - Freed pages purged at once instead of after a second: under load each thread's freed
///   pages otherwise stay resident while it keeps allocating elsewhere.
/// - SQLite's allocations made by mimalloc (`sqlite_through_mimalloc`).
///
/// Each measured on a 100,000-item node, by phase (docs/benchmarks.md): with `malloc_trim`
/// below, the peak while creating fell from 223 to 136 MB on SQLite and the idle node from 106
/// to 61 MB; reads kept their rates, creates lost about 3 % (purging without huge pages splits
/// none).
pub fn set_up() {
    // SAFETY: PR_SET_THP_DISABLE takes plain integers and touches no memory of ours.
    if unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) } != 0 {
        eprintln!("note: could not turn off transparent huge pages (prctl): {}", std::io::Error::last_os_error());
    }
    // SAFETY: sets an option by number; mimalloc reads it when it next purges.
    unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, 0) };
    sqlite_through_mimalloc();
}

/// SQLite's allocations (its page caches, statements, rows) made by mimalloc instead of the C
/// library's malloc, and without SQLite's own count of the memory in use. glibc gives each thread
/// that contends an arena of its own and keeps what is freed in each: a SQLite node under reads
/// and creates held 34 MB in 16 arenas for 15 MB in use. mimalloc gives freed pages back at once
/// (above). The count is SQLite's memory status, a global mutex taken for every allocation, read
/// only by `sqlite3_memory_used` and the soft heap limit, which Baton uses neither of. Must run
/// before the first connection opens: SQLite takes its allocator when it initialises.
fn sqlite_through_mimalloc() {
    use libsqlite3_sys as ffi;

    unsafe extern "C" fn malloc(size: c_int) -> *mut c_void {
        // SAFETY: any size may be asked; SQLite asks only for positive ones.
        unsafe { libmimalloc_sys::mi_malloc(usize::try_from(size).unwrap_or(0)) }
    }
    unsafe extern "C" fn free(pointer: *mut c_void) {
        // SAFETY: SQLite frees only what `malloc` or `realloc` above gave it.
        unsafe { libmimalloc_sys::mi_free(pointer) }
    }
    unsafe extern "C" fn realloc(pointer: *mut c_void, size: c_int) -> *mut c_void {
        // SAFETY: as `free`, and SQLite asks only for positive sizes.
        unsafe { libmimalloc_sys::mi_realloc(pointer, usize::try_from(size).unwrap_or(0)) }
    }
    unsafe extern "C" fn size(pointer: *mut c_void) -> c_int {
        // SAFETY: as `free`; SQLite's allocations stay under 2 GB, which `c_int` holds.
        c_int::try_from(unsafe { libmimalloc_sys::mi_usable_size(pointer) }).unwrap_or(c_int::MAX)
    }
    unsafe extern "C" fn roundup(size: c_int) -> c_int {
        // SAFETY: a pure function of the size.
        let good = unsafe { libmimalloc_sys::mi_good_size(usize::try_from(size).unwrap_or(0)) };
        c_int::try_from(good).unwrap_or(size)
    }
    // SQLite calls `xInit` unconditionally and `xShutdown` only when there is one.
    unsafe extern "C" fn init(_: *mut c_void) -> c_int {
        ffi::SQLITE_OK
    }

    let methods = ffi::sqlite3_mem_methods {
        xMalloc: Some(malloc),
        xFree: Some(free),
        xRealloc: Some(realloc),
        xSize: Some(size),
        xRoundup: Some(roundup),
        xInit: Some(init),
        xShutdown: None,
        pAppData: std::ptr::null_mut(),
    };
    // SAFETY: called before SQLite initialises (from `set_up`, first thing in `main`); SQLite
    // copies the methods before returning, and every one of them is valid for the whole process.
    let configured = unsafe {
        ffi::sqlite3_config(ffi::SQLITE_CONFIG_MALLOC, &methods as *const ffi::sqlite3_mem_methods) == ffi::SQLITE_OK
            && ffi::sqlite3_config(ffi::SQLITE_CONFIG_MEMSTATUS, 0 as c_int) == ffi::SQLITE_OK
    };
    if !configured {
        eprintln!("note: SQLite keeps the C library's allocator (sqlite3_config refused mimalloc's)");
    }
}

/// Asks the allocators to give the system back the memory freed by all threads, now rather
/// than when each thread next allocates (mimalloc purges freed pages only then, and threads
/// that went idle never do). A bulk job frees much at its end: after the first index build of
/// 100,000 items a node idled at about 200 MB, and at about 80 MB with this call. libpq (and
/// SQLite in the test binaries, which do not run `set_up`) allocates through the C library's
/// malloc, whose arenas keep what it freed too: `malloc_trim` returns it. Costs a pass over the
/// allocators' memory: for the end of bulk work, not for every request. Without mimalloc as the
/// global allocator (the test binaries) the first call only tidies mimalloc's own empty heap.
pub fn release_freed() {
    // SAFETY: mi_collect takes no pointer and may be called from any thread at any time.
    unsafe { libmimalloc_sys::mi_collect(true) }
    // SAFETY: malloc_trim takes a size and is safe to call from any thread at any time.
    unsafe { libc::malloc_trim(0) };
}

#[cfg(test)]
mod tests {
    /// mimalloc's documented default for `mi_option_purge_delay` (1000 ms in mimalloc 3):
    /// another value here means the option's number changed with an upgrade.
    #[test]
    fn the_purge_delay_option_is_the_one_set() {
        // SAFETY: reads an option by number.
        assert_eq!(unsafe { libmimalloc_sys::mi_option_get(super::PURGE_DELAY) }, 1000);
    }
}
