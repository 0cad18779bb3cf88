//! Per-key limits: two token buckets (requests and audio seconds per minute)
//! and a cap on requests in flight.
//!
//! Audio seconds are only known after synthesis, so they are charged then;
//! the bucket may go below zero, and the key's next request waits until it
//! has refilled above zero.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::auth::KeyLimits;

/// Largest number of distinct keys tracked at once; beyond it, entries that
/// are idle and full are dropped.
const MAX_TRACKED: usize = 100_000;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    capacity: f64,
    per_sec: f64,
    updated: Instant,
}

impl Bucket {
    fn new(per_minute: u32, now: Instant) -> Self {
        let capacity = f64::from(per_minute);
        Self {
            tokens: capacity,
            capacity,
            per_sec: capacity / 60.0,
            updated: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let dt = now.saturating_duration_since(self.updated).as_secs_f64();
        self.tokens = (self.tokens + dt * self.per_sec).min(self.capacity);
        self.updated = now;
    }

    /// Time until `need` tokens are available.
    fn wait_for(&self, need: f64) -> Duration {
        let missing = need - self.tokens;
        if missing <= 0.0 || self.per_sec <= 0.0 {
            return Duration::ZERO;
        }
        Duration::from_secs_f64((missing / self.per_sec).min(3600.0))
    }

    fn full(&self) -> bool {
        self.tokens >= self.capacity
    }
}

#[derive(Debug)]
struct KeyState {
    requests: Bucket,
    audio: Bucket,
    in_flight: usize,
}

/// Why a request was refused by the limiter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Out of requests for this minute.
    Requests { retry_after: Duration },
    /// Out of audio seconds for this minute.
    Audio { retry_after: Duration },
    /// Too many requests of this key in flight.
    Concurrency,
}

impl Refusal {
    pub(crate) fn reason(self) -> &'static str {
        match self {
            Refusal::Requests { .. } => "rate_limit_requests",
            Refusal::Audio { .. } => "rate_limit_audio",
            Refusal::Concurrency => "key_concurrency",
        }
    }

    /// Whole seconds for the `Retry-After` header, at least 1.
    pub(crate) fn retry_after_secs(self) -> u64 {
        let d = match self {
            Refusal::Requests { retry_after } | Refusal::Audio { retry_after } => retry_after,
            Refusal::Concurrency => Duration::from_secs(1),
        };
        d.as_secs_f64().ceil().max(1.0) as u64
    }
}

/// The limiter shared by all requests.
#[derive(Debug)]
pub(crate) struct Limiter {
    requests_per_minute: u32,
    audio_seconds_per_minute: u32,
    max_concurrent: usize,
    keys: Mutex<HashMap<String, KeyState>>,
}

/// A request's slot; frees the key's in-flight count when dropped.
#[derive(Debug)]
pub(crate) struct Slot {
    limiter: Arc<Limiter>,
    key: String,
}

impl Slot {
    /// Charges the key for audio produced.
    pub(crate) fn charge_audio(&self, seconds: f64) {
        let mut keys = self.limiter.lock();
        if let Some(s) = keys.get_mut(&self.key) {
            s.audio.refill(Instant::now());
            s.audio.tokens -= seconds;
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut keys = self.limiter.lock();
        if let Some(s) = keys.get_mut(&self.key) {
            s.in_flight = s.in_flight.saturating_sub(1);
        }
    }
}

impl Limiter {
    pub(crate) fn new(
        requests_per_minute: u32,
        audio_seconds_per_minute: u32,
        max_concurrent: usize,
    ) -> Self {
        Self {
            requests_per_minute,
            audio_seconds_per_minute,
            max_concurrent,
            keys: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, KeyState>> {
        match self.keys.lock() {
            Ok(g) => g,
            // The map holds plain numbers; a panic elsewhere cannot leave
            // them in a state worse than slightly off counts.
            Err(p) => p.into_inner(),
        }
    }

    /// Takes one request token and an in-flight slot for `key`, or says why not.
    pub(crate) fn admit(self: &Arc<Self>, key: &str, own: KeyLimits) -> Result<Slot, Refusal> {
        let now = Instant::now();
        let mut keys = self.lock();
        if keys.len() >= MAX_TRACKED && !keys.contains_key(key) {
            keys.retain(|_, s| {
                s.requests.refill(now);
                s.audio.refill(now);
                s.in_flight > 0 || !(s.requests.full() && s.audio.full())
            });
        }
        let state = keys.entry(key.to_owned()).or_insert_with(|| KeyState {
            requests: Bucket::new(
                own.requests_per_minute.unwrap_or(self.requests_per_minute),
                now,
            ),
            audio: Bucket::new(
                own.audio_seconds_per_minute
                    .unwrap_or(self.audio_seconds_per_minute),
                now,
            ),
            in_flight: 0,
        });
        state.requests.refill(now);
        state.audio.refill(now);
        if state.audio.tokens <= 0.0 {
            return Err(Refusal::Audio {
                retry_after: state.audio.wait_for(0.001),
            });
        }
        if state.requests.tokens < 1.0 {
            return Err(Refusal::Requests {
                retry_after: state.requests.wait_for(1.0),
            });
        }
        if state.in_flight >= own.max_concurrent.unwrap_or(self.max_concurrent) {
            return Err(Refusal::Concurrency);
        }
        state.requests.tokens -= 1.0;
        state.in_flight += 1;
        Ok(Slot {
            limiter: Arc::clone(self),
            key: key.to_owned(),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn requests_bucket_empties_and_says_when_to_retry() {
        let l = Arc::new(Limiter::new(2, 1000, 10));
        let a = l.admit("k", KeyLimits::default()).unwrap();
        let b = l.admit("k", KeyLimits::default()).unwrap();
        let r = l.admit("k", KeyLimits::default()).unwrap_err();
        assert!(matches!(r, Refusal::Requests { .. }));
        // 2 per minute: one token every 30 s.
        assert!((29..=30).contains(&r.retry_after_secs()), "{r:?}");
        // Other keys are not affected.
        assert!(l.admit("other", KeyLimits::default()).is_ok());
        drop((a, b));
    }

    #[test]
    fn concurrency_cap_frees_on_drop() {
        let l = Arc::new(Limiter::new(100, 1000, 1));
        let a = l.admit("k", KeyLimits::default()).unwrap();
        assert_eq!(
            l.admit("k", KeyLimits::default()).unwrap_err(),
            Refusal::Concurrency
        );
        drop(a);
        assert!(l.admit("k", KeyLimits::default()).is_ok());
    }

    #[test]
    fn audio_seconds_are_charged_after_the_fact() {
        let l = Arc::new(Limiter::new(100, 60, 10));
        let a = l.admit("k", KeyLimits::default()).unwrap();
        a.charge_audio(61.0);
        drop(a);
        let r = l.admit("k", KeyLimits::default()).unwrap_err();
        assert!(matches!(r, Refusal::Audio { .. }), "{r:?}");
        assert!(r.retry_after_secs() >= 1);
    }
}
