//! A retry budget (as in Finagle and gRPC): retries may be at most a share of the requests
//! seen over a sliding window, plus a small floor, so that a failing backend gets a trickle
//! of retries instead of a storm.

use std::sync::Mutex;

use tokio::time::Instant;

const BUCKETS: usize = 10;

/// A budget's window: requests and retries over the last ten seconds, and the retries it
/// allows.
#[derive(Debug, Clone, Copy, serde::Serialize, utoipa::ToSchema)]
pub struct BudgetUsage {
    pub requests: u32,
    pub retries: u32,
    pub allowed: u32,
}

/// Requests and retries per second over the last ten seconds.
#[derive(Debug)]
pub struct RetryBudget {
    ratio: f64,
    floor: u32,
    epoch: Instant,
    inner: Mutex<Window>,
}

#[derive(Debug, Default)]
struct Window {
    /// (second since epoch, requests, retries) per bucket.
    buckets: [(u64, u32, u32); BUCKETS],
}

impl RetryBudget {
    /// Retries may be `percent` of the requests in the window, plus `floor` per window.
    pub fn new(percent: u8, floor: u32) -> Self {
        Self {
            ratio: f64::from(percent) / 100.0,
            floor,
            epoch: Instant::now(),
            inner: Mutex::new(Window::default()),
        }
    }

    /// Counts one request.
    pub fn deposit(&self) {
        self.with_bucket(|bucket| bucket.1 = bucket.1.saturating_add(1));
    }

    /// Takes one retry from the budget, if there is room.
    pub fn try_withdraw(&self) -> bool {
        let second = self.second();
        let mut window = self.lock();
        let (requests, retries) = Self::sums(&window, second);
        let allowed = f64::from(requests) * self.ratio + f64::from(self.floor);
        if f64::from(retries) + 1.0 > allowed {
            return false;
        }
        let bucket = Self::bucket(&mut window, second);
        bucket.2 = bucket.2.saturating_add(1);
        true
    }

    /// The requests and retries of the window, and the retries it allows.
    pub fn usage(&self) -> BudgetUsage {
        let (requests, retries) = Self::sums(&self.lock(), self.second());
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // small, positive
        let allowed = (f64::from(requests) * self.ratio + f64::from(self.floor)) as u32;
        BudgetUsage {
            requests,
            retries,
            allowed,
        }
    }

    fn sums(window: &Window, second: u64) -> (u32, u32) {
        window
            .buckets
            .iter()
            .filter(|(at, _, _)| second.saturating_sub(*at) < BUCKETS as u64)
            .fold((0_u32, 0_u32), |(req, ret), (_, r, t)| {
                (req.saturating_add(*r), ret.saturating_add(*t))
            })
    }

    fn with_bucket(&self, update: impl FnOnce(&mut (u64, u32, u32))) {
        let second = self.second();
        let mut window = self.lock();
        update(Self::bucket(&mut window, second));
    }

    fn bucket(window: &mut Window, second: u64) -> &mut (u64, u32, u32) {
        let slot = &mut window.buckets[usize::try_from(second).unwrap_or(0) % BUCKETS];
        if slot.0 != second {
            *slot = (second, 0, 0);
        }
        slot
    }

    fn second(&self) -> u64 {
        self.epoch.elapsed().as_secs()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Window> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const WINDOW: Duration = Duration::from_secs(BUCKETS as u64);

    #[tokio::test(start_paused = true)]
    async fn retries_are_capped_at_a_share_of_requests_plus_the_floor() {
        let budget = RetryBudget::new(20, 2);
        for _ in 0..10 {
            budget.deposit();
        }
        let granted = (0..10).filter(|_| budget.try_withdraw()).count();
        assert_eq!(granted, 4, "20 % of 10 requests, plus 2");
    }

    #[tokio::test(start_paused = true)]
    async fn the_budget_refills_as_the_window_slides() {
        let budget = RetryBudget::new(0, 1);
        assert!(budget.try_withdraw());
        assert!(!budget.try_withdraw());
        tokio::time::advance(WINDOW).await;
        assert!(budget.try_withdraw());
    }
}
