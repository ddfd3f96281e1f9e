//! GCRA (the generic cell rate algorithm): one timestamp per key, the theoretical arrival
//! time, says how much of the quota is used. Hand-written because the same arithmetic must
//! run in Redis (one atomic script, shared by every gateway instance) and in process (the
//! fallback while Redis is away), and the two must agree.

use std::{collections::HashMap, sync::Mutex, time::Duration};

use tokio::time::Instant;

/// `limit` requests per `period`, all of them allowed in a burst.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub limit: u32,
    pub period: Duration,
}

impl Quota {
    fn period_us(self) -> u64 {
        u64::try_from(self.period.as_micros()).unwrap_or(u64::MAX)
    }

    /// Whether the spacing of its requests is a whole microsecond at least: the arrival
    /// times are counted in microseconds, and a spacing of zero would limit nothing.
    pub fn is_countable(self) -> bool {
        self.interval_us() > 0
    }

    fn interval_us(self) -> u64 {
        self.period_us() / u64::from(self.limit.max(1))
    }
}

/// The answer for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    /// Requests still allowed now.
    pub remaining: u32,
    /// Until the quota is whole again.
    pub reset: Duration,
    /// Until the next request would be allowed (zero when allowed).
    pub retry_after: Duration,
}

/// The GCRA step: given the stored arrival time (`tat`, microseconds) and `now`, the decision
/// and the arrival time to store (`None` when refused: nothing changes).
pub fn step(quota: Quota, tat: Option<u64>, now: u64) -> (Decision, Option<u64>) {
    let period = quota.period_us();
    let interval = quota.interval_us();
    let tat = tat.unwrap_or(now).max(now);
    let new_tat = tat + interval;
    let allow_at = new_tat.saturating_sub(period);
    if now < allow_at {
        let decision = Decision {
            allowed: false,
            remaining: 0,
            reset: Duration::from_micros(tat - now),
            retry_after: Duration::from_micros(allow_at - now),
        };
        return (decision, None);
    }
    let used = new_tat - now;
    let remaining = (period.saturating_sub(used)) / interval.max(1);
    let decision = Decision {
        allowed: true,
        remaining: u32::try_from(remaining).unwrap_or(u32::MAX),
        reset: Duration::from_micros(used),
        retry_after: Duration::ZERO,
    };
    (decision, Some(new_tat))
}

/// The same step in Redis, atomic, timed by Redis's own clock so that every gateway instance
/// agrees. Returns `{allowed, remaining, reset_us, retry_after_us}`.
pub const SCRIPT: &str = r"
local period = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - period
if now < allow_at then
  return {0, 0, tat - now, allow_at - now}
end
local used = new_tat - now
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.ceil(used / 1000) + 1)
return {1, math.floor((period - used) / interval), used, 0}
";

/// The arguments [`SCRIPT`] takes for `quota`.
pub fn script_args(quota: Quota) -> [u64; 2] {
    [quota.period_us(), quota.interval_us()]
}

/// The fallback: the same algorithm in this process's memory.
#[derive(Debug)]
pub struct LocalLimiter {
    epoch: Instant,
    arrivals: Mutex<HashMap<String, u64>>,
}

/// Entries beyond which expired arrival times are swept.
const SWEEP_AT: usize = 10_000;

impl Default for LocalLimiter {
    fn default() -> Self {
        Self {
            epoch: Instant::now(),
            arrivals: Mutex::new(HashMap::new()),
        }
    }
}

impl LocalLimiter {
    /// Counts one request against `key`.
    pub fn check(&self, key: &str, quota: Quota) -> Decision {
        let now = u64::try_from(self.epoch.elapsed().as_micros()).unwrap_or(u64::MAX);
        let mut arrivals = self
            .arrivals
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (decision, stored) = step(quota, arrivals.get(key).copied(), now);
        if let Some(tat) = stored {
            if arrivals.len() >= SWEEP_AT {
                arrivals.retain(|_, tat| *tat > now);
            }
            arrivals.insert(key.to_owned(), tat);
        }
        decision
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUOTA: Quota = Quota {
        limit: 5,
        period: Duration::from_secs(10),
    };

    #[test]
    fn a_full_burst_is_allowed_then_one_request_per_interval() {
        let mut tat = None;
        for expected_remaining in (0..5).rev() {
            let (decision, stored) = step(QUOTA, tat, 0);
            assert!(decision.allowed);
            assert_eq!(decision.remaining, expected_remaining);
            tat = stored;
        }
        let (refused, stored) = step(QUOTA, tat, 0);
        assert!(!refused.allowed);
        assert_eq!(stored, None, "a refusal uses nothing");
        assert_eq!(refused.retry_after, Duration::from_secs(2));
        assert_eq!(refused.reset, Duration::from_secs(10));

        let (later, _) = step(QUOTA, tat, 2_000_000);
        assert!(later.allowed, "one interval later one more fits");
        assert_eq!(later.remaining, 0);
    }

    #[tokio::test(start_paused = true)]
    async fn the_local_limiter_keeps_keys_apart_and_refills() {
        let limiter = LocalLimiter::default();
        for _ in 0..5 {
            assert!(limiter.check("a", QUOTA).allowed);
        }
        assert!(!limiter.check("a", QUOTA).allowed);
        assert!(limiter.check("b", QUOTA).allowed);
        tokio::time::advance(Duration::from_secs(10)).await;
        assert_eq!(limiter.check("a", QUOTA).remaining, 4);
    }
}
