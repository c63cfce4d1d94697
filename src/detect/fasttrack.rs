//! FastTrack (being written).
use super::{Detector, Hit, Protocol, Segment};
pub struct FastTrack;
impl Detector for FastTrack {
    fn protocol(&self) -> Protocol { Protocol::FastTrack }
    fn inspect(&self, _seg: &Segment<'_>) -> Option<Hit> { None }
}
