//! A windowed maximum: the largest acknowledgement aggregation seen over
//! the last few round trips.
//!
//! A monotonic deque: each new sample evicts the older samples it
//! dominates, so the front is always the window's maximum and the deque
//! never holds more than one entry per distinct key in the window.

use std::collections::VecDeque;

/// The maximum of the samples taken over the last `window` keys (round
/// trips here): a sample taken at key `k` counts until key `k + window`.
#[derive(Debug, Clone)]
pub(crate) struct MaxFilter {
    window: u64,
    samples: VecDeque<(u64, f64)>,
}

impl MaxFilter {
    pub(crate) const fn new(window: u64) -> Self {
        Self {
            window,
            samples: VecDeque::new(),
        }
    }

    /// Adds `value` sampled at `key` (keys never go backwards).
    pub(crate) fn update(&mut self, key: u64, value: f64) {
        self.expire(key);
        if let Some(&(last_key, last)) = self.samples.back() {
            if last_key == key && last >= value {
                return;
            }
        }
        while self.samples.back().is_some_and(|&(_, v)| v <= value) {
            self.samples.pop_back();
        }
        self.samples.push_back((key, value));
    }

    /// Forgets samples that have left the window as of `key`.
    pub(crate) fn expire(&mut self, key: u64) {
        while self
            .samples
            .front()
            .is_some_and(|&(k, _)| k.saturating_add(self.window) <= key)
        {
            self.samples.pop_front();
        }
    }

    /// The largest sample in the window, 0 if none.
    pub(crate) fn get(&self) -> f64 {
        self.samples.front().map_or(0.0, |&(_, v)| v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_window_maximum_and_forgets_old_samples() {
        let mut f = MaxFilter::new(3);
        assert_eq!(f.get(), 0.0);
        f.update(0, 10.0);
        f.update(1, 5.0);
        f.update(1, 4.0);
        assert_eq!(f.get(), 10.0);
        f.update(2, 7.0);
        assert_eq!(f.get(), 10.0);
        // Key 3: the sample of key 0 has left the window.
        f.update(3, 1.0);
        assert_eq!(f.get(), 7.0);
        f.expire(5);
        assert_eq!(f.get(), 1.0);
        f.expire(6);
        assert_eq!(f.get(), 0.0);
        assert!(f.samples.is_empty());
    }

    #[test]
    fn stays_small_under_many_samples() {
        let mut f = MaxFilter::new(10);
        for i in 0..10_000u64 {
            f.update(i / 50, (i % 97) as f64);
        }
        assert!(f.samples.len() <= 11, "{}", f.samples.len());
    }
}
