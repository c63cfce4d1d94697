//! The panic boundary: a panic inside the engine (or while carrying out its actions)
//! for one packet must not end the firewall. [`guarded`] turns it into an error with its
//! message and place, which the caller counts and logs; the packet is accepted.

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Mutex;

/// Where the last panic happened, for the log line written where it is caught (the
/// default hook would print to a stderr that is /dev/null once detached).
static LAST_PANIC_AT: Mutex<String> = Mutex::new(String::new());

pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        if let (Ok(mut at), Some(l)) = (LAST_PANIC_AT.lock(), info.location()) {
            // Line 0: built without panic locations (the router builds, cross/README.md).
            if l.line() != 0 {
                *at = format!("{}:{}", l.file(), l.line());
            }
        }
    }));
}

/// Runs `f`; a panic inside becomes `Err` with its message (and where it happened, when
/// the daemon's hook is installed), so one bad packet cannot end the firewall.
pub fn guarded<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(f)).map_err(panic_message)
}

// Not generic, so not repeated for each of guarded's callers.
fn panic_message(payload: Box<dyn Any + Send>) -> String {
    let msg = match payload.downcast_ref::<&str>() {
        Some(s) => s.to_string(),
        None => payload.downcast_ref::<String>().cloned().unwrap_or_else(|| "unknown panic".into()),
    };
    match LAST_PANIC_AT.lock().map(|mut at| std::mem::take(&mut *at)) {
        Ok(at) if !at.is_empty() => format!("{msg} at {at}"),
        _ => msg,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_is_caught_with_its_message_and_the_loop_goes_on() {
        assert_eq!(guarded(|| 7), Ok(7));
        let why = guarded(|| -> u8 { panic!("bad packet {}", 42) }).unwrap_err();
        assert!(why.starts_with("bad packet 42"), "{why}");
        let why = guarded(|| -> u8 { std::panic::panic_any(5u32) }).unwrap_err();
        assert!(why.starts_with("unknown panic"), "{why}");
        // Overflow checks are on in every profile: arithmetic panics are caught too.
        let big = std::hint::black_box(u8::MAX);
        assert!(guarded(|| big + 1).is_err());
    }
}
