//! Time as the engine sees it: milliseconds on a monotonic clock chosen by the caller.
//!
//! The engine never reads a clock. The daemon passes a monotonic reading, `inspect`
//! passes capture timestamps and tests pass whatever they like.

use core::fmt;

/// A point in time, in milliseconds since an arbitrary epoch chosen by the caller.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Millis(pub u64);

impl Millis {
    pub const ZERO: Millis = Millis(0);

    pub const fn from_secs(secs: u64) -> Millis {
        Millis(secs.saturating_mul(1000))
    }

    /// `self + ms`, saturating instead of overflowing (time never wraps in practice,
    /// but a hostile capture timestamp must not panic under overflow checks).
    pub const fn plus(self, ms: u64) -> Millis {
        Millis(self.0.saturating_add(ms))
    }

    pub const fn plus_secs(self, secs: u32) -> Millis {
        self.plus((secs as u64).saturating_mul(1000))
    }

    /// Milliseconds from `earlier` to `self`, zero if `earlier` is later.
    pub const fn since(self, earlier: Millis) -> u64 {
        self.0.saturating_sub(earlier.0)
    }

    /// Whole seconds from `self` until `later`, rounded up, zero if already past.
    pub const fn secs_until(self, later: Millis) -> u32 {
        let ms = later.0.saturating_sub(self.0);
        let secs = ms.div_ceil(1000);
        if secs > u32::MAX as u64 {
            u32::MAX
        } else {
            secs as u32
        }
    }
}

impl fmt::Display for Millis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:03}", self.0 / 1000, self.0 % 1000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates() {
        assert_eq!(Millis(u64::MAX).plus(5), Millis(u64::MAX));
        assert_eq!(Millis(5).since(Millis(10)), 0);
        assert_eq!(Millis(1000).secs_until(Millis(2001)), 2);
        assert_eq!(Millis(3000).secs_until(Millis(2000)), 0);
        assert_eq!(Millis::from_secs(u64::MAX), Millis(u64::MAX));
    }
}
