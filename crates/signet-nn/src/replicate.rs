//! Replicas of a loaded model that share its weights.
//!
//! tch's tensors are `Send` but not `Sync`, so one model value cannot run on two threads at
//! once. A replica holds new handles to the very same tensor storage (`shallow_clone`): it
//! costs no weight memory, and any number of replicas may run at the same time, each on its
//! own thread, because inference only ever reads the weights.

use tch::Tensor;

/// A value whose tensors can be shared with a copy of it (see the module documentation).
///
/// Implementations must only read their tensors during inference; an in-place change through
/// one replica would be seen by all of them.
pub trait Replicate {
    /// A copy holding new handles to the same tensors.
    fn replicate(&self) -> Self;
}

impl Replicate for Tensor {
    fn replicate(&self) -> Self {
        self.shallow_clone()
    }
}

impl<T: Replicate> Replicate for Vec<T> {
    fn replicate(&self) -> Self {
        self.iter().map(Replicate::replicate).collect()
    }
}

impl<T: Replicate> Replicate for Option<T> {
    fn replicate(&self) -> Self {
        self.as_ref().map(Replicate::replicate)
    }
}

impl<A: Replicate, B: Replicate> Replicate for (A, B) {
    fn replicate(&self) -> Self {
        (self.0.replicate(), self.1.replicate())
    }
}

impl<A: Replicate, B: Replicate, C: Replicate, D: Replicate> Replicate for (A, B, C, D) {
    fn replicate(&self) -> Self {
        (
            self.0.replicate(),
            self.1.replicate(),
            self.2.replicate(),
            self.3.replicate(),
        )
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn replicas_share_storage() {
        let t = Tensor::from_slice(&[1.0f32, 2.0, 3.0]);
        let r = t.replicate();
        assert_eq!(t.data_ptr(), r.data_ptr());
        let v = vec![Some(t.shallow_clone()), None];
        let rv = v.replicate();
        assert_eq!(rv.len(), 2);
        assert!(rv[1].is_none());
        assert_eq!(rv[0].as_ref().unwrap().data_ptr(), t.data_ptr());
    }
}
