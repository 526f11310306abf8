//! Memory accounting like Redis's `zmalloc`: a counting global allocator, so `used_memory` (INFO,
//! `maxmemory` eviction) is the number of bytes the process has allocated and not freed, not the RSS.
//!
//! [`CountingAlloc`] wraps the system allocator. A binary opts in with
//! `#[global_allocator] static A: redlink_engine::alloc::CountingAlloc = CountingAlloc;` (the
//! `redlink` binary does, and so do the tests that exercise `maxmemory`). Without it [`used_memory`]
//! falls back to the resident set size, which is coarser but still grows with the data set.
//!
//! Lua's heap is not data: like Redis (whose Lua has its own allocator, outside `zmalloc`), the bytes
//! held by the Lua states are reported apart (INFO `used_memory_lua`) and subtracted from
//! [`used_memory`], so a script's garbage never makes `maxmemory` evict keys or refuse writes. The
//! Lua states allocate through this same global allocator (mlua's allocator calls `std::alloc`), and
//! each state knows its own heap size exactly (mlua counts every allocation of the state); the
//! scripting module reports each change of it with [`lua_add`] (after every script, at every
//! `redis.call`, and every 1000 Lua instructions), which costs one relaxed atomic add. The count can
//! lag only while one C function of a script runs (e.g. a long `string.rep`), and then the script
//! holds the keyspace gate, so no eviction acts on the stale figure.
//!
//! Why per-thread counter slots: a single global atomic updated by every allocation on every core
//! would bounce one cache line between cores. Each thread adds to one of [`SLOTS`] cache-line padded
//! atomics (chosen once per thread), so the update is an uncontended relaxed `fetch_add`; readers sum
//! the slots. Nothing is buffered per thread, so a thread that exits loses no bytes and the total does
//! not drift.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicIsize, AtomicU64, AtomicUsize, Ordering};

/// Number of counter slots threads are spread over.
pub const SLOTS: usize = 32;

#[repr(align(128))]
struct Slot(AtomicIsize);

#[allow(clippy::declare_interior_mutable_const)]
const ZERO: Slot = Slot(AtomicIsize::new(0));
static COUNTERS: [Slot; SLOTS] = [ZERO; SLOTS];
static NEXT_SLOT: AtomicUsize = AtomicUsize::new(0);
static INSTALLED: AtomicBool = AtomicBool::new(false);
static PEAK: AtomicU64 = AtomicU64::new(0);
/// Bytes held by the Lua states of every engine of the process (see the module's documentation).
static LUA: AtomicIsize = AtomicIsize::new(0);

thread_local! {
    // No destructor, so it is usable at any point of a thread's life, including its teardown.
    static MY_SLOT: Cell<usize> = const { Cell::new(usize::MAX) };
}

#[inline]
fn account(delta: isize) {
    let slot = MY_SLOT
        .try_with(|s| {
            let mut v = s.get();
            if v == usize::MAX {
                v = NEXT_SLOT.fetch_add(1, Ordering::Relaxed) % SLOTS;
                s.set(v);
            }
            v
        })
        .unwrap_or(0);
    COUNTERS[slot].0.fetch_add(delta, Ordering::Relaxed);
}

/// The system allocator, counting the bytes allocated.
#[derive(Debug, Default, Clone, Copy)]
pub struct CountingAlloc;

// SAFETY: every call is forwarded unchanged to `System`; the bookkeeping only touches atomics and a
// destructor-less thread-local, neither of which allocates.
unsafe impl GlobalAlloc for CountingAlloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            account(layout.size() as isize);
        }
        p
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            account(layout.size() as isize);
        }
        p
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.dealloc(ptr, layout) };
        account(-(layout.size() as isize));
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            account(new_size as isize - layout.size() as isize);
        }
        p
    }
}

/// Whether [`CountingAlloc`] is the global allocator (it has counted at least one allocation).
pub fn installed() -> bool {
    if INSTALLED.load(Ordering::Relaxed) {
        return true;
    }
    let any = COUNTERS.iter().any(|c| c.0.load(Ordering::Relaxed) != 0);
    if any {
        INSTALLED.store(true, Ordering::Relaxed);
    }
    any
}

/// Bytes allocated through [`CountingAlloc`] and not yet freed.
pub fn allocated() -> u64 {
    let sum: isize = COUNTERS.iter().map(|c| c.0.load(Ordering::Relaxed)).sum();
    sum.max(0) as u64
}

/// A Lua state's heap grew (or shrank, negative) by `delta` bytes.
pub fn lua_add(delta: isize) {
    LUA.fetch_add(delta, Ordering::Relaxed);
}

/// Bytes held by the Lua states of the process.
pub fn lua_memory() -> u64 {
    LUA.load(Ordering::Relaxed).max(0) as u64
}

/// Redis's `used_memory`: allocator-counted bytes, or the resident set size when [`CountingAlloc`]
/// is not installed, without the Lua states' heaps. Also records the peak.
pub fn used_memory() -> u64 {
    let used = if installed() {
        allocated()
    } else {
        crate::info::rss_bytes()
    }
    .saturating_sub(lua_memory());
    // A plain load first: the read-modify-write (a contended cache line) only when it is a new peak.
    if used > PEAK.load(Ordering::Relaxed) {
        PEAK.fetch_max(used, Ordering::Relaxed);
    }
    used
}

/// The highest [`used_memory`] seen (INFO `used_memory_peak`).
pub fn peak() -> u64 {
    PEAK.load(Ordering::Relaxed)
}
