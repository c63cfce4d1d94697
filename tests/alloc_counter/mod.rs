//! A global allocator that counts allocations between `start()` and `stop()`, for the
//! tests that prove a hot path allocates nothing. It counts only the thread that called
//! `start()`: the test harness's own threads allocate whenever they like (a loaded CI
//! machine saw a few such allocations land inside a flood test). Each test binary
//! installs it itself:
//! `#[global_allocator] static GLOBAL: alloc_counter::Counting = alloc_counter::Counting;`

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

pub struct Counting;

thread_local! {
    // A const-initialised Cell needs no allocation and no destructor, so the allocator
    // may read it.
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}
static ALLOCS: AtomicUsize = AtomicUsize::new(0);

fn counting() -> bool {
    COUNTING.try_with(Cell::get).unwrap_or(false)
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if counting() {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if counting() {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        System.realloc(ptr, layout, new_size)
    }
}

/// Starts counting from zero.
pub fn start() {
    ALLOCS.store(0, Ordering::SeqCst);
    COUNTING.with(|c| c.set(true));
}

/// Stops counting; returns the allocations (and reallocations) since `start()`.
pub fn stop() -> usize {
    COUNTING.with(|c| c.set(false));
    ALLOCS.load(Ordering::SeqCst)
}
