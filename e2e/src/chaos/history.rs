//! What happened during a run, in the order it happened: to each order (what was tried,
//! what was answered) and to the platform (the faults), so that an order that breaks a
//! promise can be told with everything that went on around it.

use std::{
    collections::HashMap,
    fmt::Write,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

/// The run's log, shared by its actors.
#[derive(Debug, Clone)]
pub struct History {
    started: Instant,
    inner: Arc<Mutex<Entries>>,
}

#[derive(Debug, Default)]
struct Entries {
    orders: HashMap<String, Vec<(Duration, String)>>,
    /// Faults begun and ended, and what else happened to the platform.
    faults: Vec<(Duration, String)>,
    begun: usize,
    notes: Vec<String>,
}

impl History {
    /// A log whose times count from now.
    pub fn new() -> Self {
        Self {
            started: Instant::now(),
            inner: Arc::default(),
        }
    }

    /// Time since the run started.
    pub fn now(&self) -> Duration {
        self.started.elapsed()
    }

    /// Something about `order`.
    pub fn order(&self, order: &str, what: impl Into<String>) {
        let at = self.now();
        if let Ok(mut entries) = self.inner.lock() {
            entries
                .orders
                .entry(order.to_owned())
                .or_default()
                .push((at, what.into()));
        }
    }

    /// A fault begins.
    pub fn fault(&self, what: impl Into<String>) {
        let at = self.now();
        if let Ok(mut entries) = self.inner.lock() {
            entries.begun += 1;
            entries.faults.push((at, what.into()));
        }
    }

    /// Something else happened to the platform: a fault ends, trouble beginning one.
    pub fn platform(&self, what: impl Into<String>) {
        let at = self.now();
        if let Ok(mut entries) = self.inner.lock() {
            entries.faults.push((at, what.into()));
        }
    }

    /// A line for the run's report.
    pub fn note(&self, what: impl Into<String>) {
        if let Ok(mut entries) = self.inner.lock() {
            entries.notes.push(what.into());
        }
    }

    /// How many faults were begun.
    pub fn faults_injected(&self) -> usize {
        self.inner.lock().map_or(0, |entries| entries.begun)
    }

    /// The run's notes.
    pub fn notes(&self) -> Vec<String> {
        self.inner
            .lock()
            .map_or_else(|_| Vec::new(), |entries| entries.notes.clone())
    }

    /// The order's story, with the faults between its first and last entries (and those
    /// open when it began).
    pub fn story(&self, order: &str) -> String {
        let Ok(entries) = self.inner.lock() else {
            return String::new();
        };
        let mine = entries.orders.get(order).cloned().unwrap_or_default();
        let (first, last) = match (mine.first(), mine.last()) {
            (Some((first, _)), Some((last, _))) => (*first, *last),
            _ => (Duration::ZERO, Duration::MAX),
        };
        let mut lines: Vec<(Duration, String)> = mine
            .into_iter()
            .map(|(at, what)| (at, format!("order: {what}")))
            .collect();
        lines.extend(
            entries
                .faults
                .iter()
                .filter(|(at, _)| *at + Duration::from_secs(30) >= first && *at <= last)
                .map(|(at, what)| (*at, format!("fault: {what}"))),
        );
        lines.sort_by_key(|(at, _)| *at);
        let mut story = String::new();
        for (at, what) in lines {
            let _ = writeln!(story, "  {:>8.3}s {what}", at.as_secs_f64());
        }
        story
    }
}

impl Default for History {
    fn default() -> Self {
        Self::new()
    }
}
