//! The shipped binaries keep panic=unwind so that the daemon can contain a panic (for example
//! around one packet's engine call) instead of dying. This proves that unwinding really works on
//! the target the tests run on: on the cross targets (`make test-cross`) the unwinder comes from
//! a std built from source and zig's libunwind, which nothing else exercises.

use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe};

/// Records that it was dropped: unwinding must run destructors on the way out.
struct Guard<'a>(&'a Cell<bool>);

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        self.0.set(true);
    }
}

#[test]
fn a_panic_is_caught_and_the_thread_goes_on() {
    let quiet = panic::take_hook();
    panic::set_hook(Box::new(|_| {}));
    let depth = std::hint::black_box(7usize);
    let dropped = Cell::new(false);
    let caught = panic::catch_unwind(AssertUnwindSafe(|| {
        let _guard = Guard(&dropped);
        let table = [1u8, 2, 3];
        // An out-of-bounds index through a few frames: what a parser bug would look like.
        fn nested(t: &[u8], i: usize, d: usize) -> u8 {
            if d == 0 { t[i] } else { nested(t, i, d - 1) }
        }
        nested(&table, depth, depth)
    }));
    panic::set_hook(quiet);
    let payload = caught.expect_err("the out-of-bounds index must panic and unwind");
    let message = payload.downcast_ref::<String>().map(String::as_str).unwrap_or("");
    assert!(message.contains("index out of bounds"), "unexpected panic payload: {message:?}");
    assert!(dropped.get(), "unwinding skipped a destructor");
}
