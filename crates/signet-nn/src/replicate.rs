//! Replicas of a loaded model that share its weights.
//!
//! tch's tensors are `Send` but not `Sync`, so one model value cannot run on two threads at
//! once. A replica holds new handles to the very same tensor storage (`shallow_clone`): it
//! costs no weight memory, and any number of replicas may run at the same time, each on its
//! own thread, because inference only ever reads the weights.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

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

/// Implements [`Replicate`] for a struct by replicating each named field, and cloning the
/// fields listed after `clone` (settings, not tensors):
///
/// ```
/// use signet_nn::tch::Tensor;
/// use signet_nn::{replicate_fields, Replicate};
///
/// struct Layer {
///     weight: Tensor,
///     bias: Option<Tensor>,
///     name: String,
/// }
/// replicate_fields!(Layer { weight, bias } clone { name });
///
/// let layer = Layer {
///     weight: Tensor::from_slice(&[1.0f32, 2.0]),
///     bias: None,
///     name: "proj".to_owned(),
/// };
/// let copy = layer.replicate();
/// assert_eq!(copy.weight.data_ptr(), layer.weight.data_ptr());
/// assert_eq!(copy.name, "proj");
/// ```
#[macro_export]
macro_rules! replicate_fields {
    ($ty:ident { $($field:ident),* $(,)? } $(clone { $($copied:ident),* $(,)? })?) => {
        impl $crate::Replicate for $ty {
            fn replicate(&self) -> Self {
                $ty {
                    $($field: $crate::Replicate::replicate(&self.$field),)*
                    $($($copied: ::std::clone::Clone::clone(&self.$copied),)*)?
                }
            }
        }
    };
}

/// A loaded model shared by threads: each call takes a replica ([`Pool::get`]), making one
/// when every replica is busy, and gives it back when its [`Lease`] is dropped. Replicas share
/// the weights' storage, so the pool grows only by tensor handles, up to the number of calls
/// that ever ran at once.
#[derive(Debug)]
pub struct Pool<T> {
    /// The model as loaded: replicas are made from it, and it never runs.
    prototype: Mutex<T>,
    /// Replicas not in use (shared with the leases out).
    idle: Arc<Mutex<Vec<T>>>,
    /// Replicas made, in use or not.
    made: AtomicUsize,
}

impl<T: Replicate> Pool<T> {
    /// A pool over `model`, with one replica ready.
    pub fn new(model: T) -> Pool<T> {
        Pool {
            idle: Arc::new(Mutex::new(vec![model.replicate()])),
            made: AtomicUsize::new(1),
            prototype: Mutex::new(model),
        }
    }

    /// An idle replica, or a new one when every replica is busy.
    pub fn get(&self) -> Lease<T> {
        let ready = lock(&self.idle).pop();
        let model = ready.unwrap_or_else(|| {
            self.made.fetch_add(1, Ordering::Relaxed);
            lock(&self.prototype).replicate()
        });
        Lease {
            model: Some(model),
            idle: Arc::clone(&self.idle),
        }
    }

    /// Replicas made so far: the most calls that ever ran at once.
    pub fn replicas(&self) -> usize {
        self.made.load(Ordering::Relaxed)
    }

    /// `f` of the model as loaded (for what does not run it: its settings).
    pub fn inspect<R>(&self, f: impl FnOnce(&T) -> R) -> R {
        f(&lock(&self.prototype))
    }

    /// The model as loaded; the replicas are dropped with the pool.
    pub fn into_inner(self) -> T {
        match self.prototype.into_inner() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        }
    }
}

/// A replica taken from a [`Pool`]; it goes back to the pool when dropped.
#[derive(Debug)]
pub struct Lease<T> {
    /// Always `Some` until dropped.
    model: Option<T>,
    idle: Arc<Mutex<Vec<T>>>,
}

impl<T> std::ops::Deref for Lease<T> {
    type Target = T;

    fn deref(&self) -> &T {
        match &self.model {
            Some(m) => m,
            // Only `drop` takes the model out.
            None => unreachable!("a lease holds its replica until dropped"),
        }
    }
}

impl<T> Drop for Lease<T> {
    fn drop(&mut self) {
        if let Some(model) = self.model.take() {
            lock(&self.idle).push(model);
        }
    }
}

/// Locks `m`. A pool is never left half-changed (a replica is pushed or popped whole, and
/// inference only reads weights), so a panic elsewhere cannot poison it.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
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

    #[test]
    fn a_pool_lends_replicas_and_makes_one_per_call_at_once() {
        let t = Tensor::from_slice(&[1.0f32, 2.0]);
        let pool = Pool::new(t.shallow_clone());
        {
            let a = pool.get();
            assert_eq!(a.data_ptr(), t.data_ptr());
            assert_eq!(pool.replicas(), 1);
            let b = pool.get();
            assert_eq!(b.data_ptr(), t.data_ptr());
            assert_eq!(pool.replicas(), 2);
        }
        // Both came back: two more calls at once make none.
        let (_a, _b) = (pool.get(), pool.get());
        assert_eq!(pool.replicas(), 2);
        assert_eq!(pool.inspect(|m| m.numel()), 2);
    }
}
