//! Per-key limits: two token buckets (requests and audio seconds per minute)
//! and a cap on requests in flight; and per client address, a bucket of
//! refused credentials.
//!
//! Audio seconds are weighed before synthesis: the worker estimates the
//! request's audio (see `signet::SpeechStream::estimate_seconds`) and
//! reserves it, or the request is refused with 429 while the key's bucket
//! holds less (a request larger than a whole minute's allowance needs a full
//! bucket). After synthesis the reservation is settled against the audio
//! made, so the bucket may go below zero when a request came out longer than
//! its estimate; the key's next request then waits until it has refilled.

use std::collections::HashMap;
use std::net::IpAddr;
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
    /// Audio seconds reserved before synthesis.
    reserved: f64,
}

impl Slot {
    /// Reserves a request's estimated seconds of audio from the key's
    /// allowance, or says when to retry: the bucket must hold the estimate
    /// (or, for an estimate above a minute's allowance, be full).
    pub(crate) fn reserve_audio(&mut self, estimate: f64) -> Result<(), Refusal> {
        let mut keys = self.limiter.lock();
        if let Some(s) = keys.get_mut(&self.key) {
            s.audio.refill(Instant::now());
            let need = estimate.min(s.audio.capacity).max(0.0);
            if s.audio.tokens < need {
                return Err(Refusal::Audio {
                    retry_after: s.audio.wait_for(need),
                });
            }
            s.audio.tokens -= estimate;
            self.reserved += estimate;
        }
        Ok(())
    }

    /// Settles the key's allowance with the audio produced: the reservation
    /// is given back and `seconds` taken.
    pub(crate) fn charge_audio(&mut self, seconds: f64) {
        let mut keys = self.limiter.lock();
        if let Some(s) = keys.get_mut(&self.key) {
            s.audio.refill(Instant::now());
            s.audio.tokens = (s.audio.tokens + self.reserved - seconds).min(s.audio.capacity);
        }
        self.reserved = 0.0;
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
            reserved: 0.0,
        })
    }
}

/// Refused credentials per client address: a token bucket each, spent by
/// every 401. An address whose bucket is empty is refused (429) before its
/// credentials are looked at.
#[derive(Debug)]
pub(crate) struct AuthFailures {
    per_minute: u32,
    peers: Mutex<HashMap<IpAddr, Bucket>>,
}

impl AuthFailures {
    pub(crate) fn new(per_minute: u32) -> Self {
        Self {
            per_minute,
            peers: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<IpAddr, Bucket>> {
        match self.peers.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// `Err(retry after)` while `peer` has used up its failures.
    pub(crate) fn check(&self, peer: IpAddr) -> Result<(), Duration> {
        let now = Instant::now();
        let mut peers = self.lock();
        match peers.get_mut(&peer) {
            Some(b) => {
                b.refill(now);
                if b.tokens < 1.0 {
                    Err(b.wait_for(1.0))
                } else {
                    Ok(())
                }
            }
            None => Ok(()),
        }
    }

    /// Counts one refused credential from `peer`.
    pub(crate) fn failed(&self, peer: IpAddr) {
        let now = Instant::now();
        let mut peers = self.lock();
        if peers.len() >= MAX_TRACKED && !peers.contains_key(&peer) {
            peers.retain(|_, b| {
                b.refill(now);
                !b.full()
            });
            if peers.len() >= MAX_TRACKED {
                // Too many addresses failing at once to remember them all:
                // forget the oldest half rather than grow without bound.
                let mut ages: Vec<Instant> = peers.values().map(|b| b.updated).collect();
                ages.sort_unstable();
                let cut = ages.get(ages.len() / 2).copied().unwrap_or(now);
                peers.retain(|_, b| b.updated > cut);
            }
        }
        let b = peers
            .entry(peer)
            .or_insert_with(|| Bucket::new(self.per_minute, now));
        b.refill(now);
        b.tokens -= 1.0;
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
    fn audio_seconds_are_settled_after_the_fact() {
        let l = Arc::new(Limiter::new(100, 60, 10));
        let mut a = l.admit("k", KeyLimits::default()).unwrap();
        a.reserve_audio(10.0).unwrap();
        a.charge_audio(61.0);
        drop(a);
        let r = l.admit("k", KeyLimits::default()).unwrap_err();
        assert!(matches!(r, Refusal::Audio { .. }), "{r:?}");
        assert!(r.retry_after_secs() >= 1);
    }

    #[test]
    fn estimated_audio_is_reserved_before_synthesis() {
        let l = Arc::new(Limiter::new(100, 60, 10));
        let mut a = l.admit("k", KeyLimits::default()).unwrap();
        a.reserve_audio(50.0).unwrap();
        // The second request's estimate does not fit in what is left.
        let mut b = l.admit("k", KeyLimits::default()).unwrap();
        let r = b.reserve_audio(20.0).unwrap_err();
        assert!(matches!(r, Refusal::Audio { .. }), "{r:?}");
        // 10 s missing at 1 s per second.
        assert!((10..=11).contains(&r.retry_after_secs()), "{r:?}");
        // The first came out shorter: the rest goes back to the bucket.
        a.charge_audio(30.0);
        b.reserve_audio(20.0).unwrap();
        // A request larger than a minute's allowance needs a full bucket.
        let mut c = l.admit("other", KeyLimits::default()).unwrap();
        c.reserve_audio(90.0).unwrap();
        // ...and leaves it overdrawn: the key's next request waits.
        assert!(matches!(
            l.admit("other", KeyLimits::default()),
            Err(Refusal::Audio { .. })
        ));
    }

    #[test]
    fn failed_credentials_are_limited_per_address() {
        let f = AuthFailures::new(3);
        let (a, b): (IpAddr, IpAddr) = ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
        for _ in 0..3 {
            assert!(f.check(a).is_ok());
            f.failed(a);
        }
        let wait = f.check(a).unwrap_err();
        assert!(
            wait > Duration::from_secs(10) && wait <= Duration::from_secs(20),
            "{wait:?}"
        );
        assert!(f.check(b).is_ok());
    }
}
