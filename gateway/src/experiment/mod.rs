//! A/B comparison of two versions (or colours) of a service, as GrowthBook runs experiments:
//! an experiment splits the users of one route between two variants, each a set of registered
//! instances. A user's variant is a hash of the experiment and the user (the token's subject,
//! or for anonymous callers a cookie the gateway sets), so that it is the same on every
//! request and every gateway instance. Each gateway counts the traffic and adds it to Redis;
//! `GET /admin/experiments/{id}` compares the variants on the goal set in advance. A stopped
//! experiment leaves its route alone; once stopped it may be deleted.

mod assign;
pub mod http;
mod kept;
mod model;
mod new;
mod report;
mod stats;
mod summary;
mod tally;

use std::{
    sync::{
        Arc, Mutex, PoisonError, Weak,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use arc_swap::ArcSwap;
use axum::{
    http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header},
    response::Response,
};
use tokio::time::Instant;

use self::tally::Pending;
pub use self::{
    model::{Experiment, ExperimentState, Goal},
    summary::ExperimentSummary,
};
use crate::{access::Caller, store::Store};
use gateway_upstream::Selector;

/// How often counts are added to Redis and the experiments read again.
const REFRESH: Duration = Duration::from_secs(1);

/// The header naming a response's experiment and variant.
const X_EXPERIMENT: HeaderName = HeaderName::from_static("x-experiment");

/// The experiments, as every gateway reads them from Redis; cloning shares them.
#[derive(Debug, Clone)]
pub struct Experiments(Arc<ExperimentsInner>);

#[derive(Debug)]
struct ExperimentsInner {
    store: Store,
    all: ArcSwap<Vec<Arc<Experiment>>>,
    /// Whether any runs, read on every request without loading them.
    any: AtomicBool,
    pending: Mutex<Pending>,
    /// Whether the cookies are `Secure` and `__Host-` named (`COOKIE_SECURE`).
    secure_cookies: bool,
}

/// A request's place in an experiment.
#[derive(Debug)]
pub struct Assignment {
    experiment: Arc<Experiment>,
    variant: usize,
    subject: String,
    /// Whether the subject is a cookie's, not a token's.
    anonymous: bool,
    cookie: Option<HeaderValue>,
    started: Instant,
}

impl Assignment {
    /// The instances its variant's calls go to.
    pub fn instances(&self) -> &Selector {
        &self.experiment.variants[self.variant].instances
    }
}

impl Experiments {
    /// The experiments in `store`, read now and every second, with the counts added there;
    /// their cookie is `Secure` and `__Host-` named if `secure_cookies`.
    pub fn start(store: Store, secure_cookies: bool) -> Self {
        let experiments = Self(Arc::new(ExperimentsInner {
            store,
            all: ArcSwap::from_pointee(Vec::new()),
            any: AtomicBool::new(false),
            pending: Mutex::default(),
            secure_cookies,
        }));
        tokio::spawn(keep(Arc::downgrade(&experiments.0)));
        experiments
    }

    /// Whether any experiment runs (most stacks have none: then nothing else is asked).
    pub fn active(&self) -> bool {
        self.0.any.load(Ordering::Acquire)
    }

    /// Whether the gateway's cookies are `Secure` and `__Host-` named (`COOKIE_SECURE`).
    pub fn secure_cookies(&self) -> bool {
        self.0.secure_cookies
    }

    /// The experiment and variant of a request for `path`, if a running experiment covers
    /// it; a stopped one leaves the route as if it had never been.
    pub fn assign(&self, path: &str, caller: &Caller, headers: &HeaderMap) -> Option<Assignment> {
        let all = self.0.all.load();
        let experiment = all
            .iter()
            .find(|experiment| {
                experiment.state == ExperimentState::Running && experiment.covers(path)
            })?
            .clone();
        let secure = self.0.secure_cookies;
        let (subject, anonymous, cookie) = match caller.claims() {
            Some(claims) => (claims.sub.to_string(), false, None),
            None => match assign::cookie_subject(headers, secure) {
                Some((subject, assign::Found::Current)) => (subject, true, None),
                // Set again under the current name, with the same id: the same variant.
                Some((subject, assign::Found::Other)) => {
                    let cookie = assign::cookie_for(&subject, secure);
                    (subject, true, cookie)
                }
                None => {
                    let (subject, cookie) = assign::new_cookie(secure);
                    (subject, true, cookie)
                }
            },
        };
        let variant = assign::variant(&experiment.id, &subject, experiment.split);
        Some(Assignment {
            experiment,
            variant,
            subject,
            anonymous,
            cookie,
            started: Instant::now(),
        })
    }

    /// Counts the answer to an assigned request, and tells the client its variant.
    pub fn finish(&self, assignment: Assignment, response: &mut Response) {
        let experiment = &assignment.experiment;
        if experiment.state == ExperimentState::Running {
            lock(&self.0.pending).call(
                &experiment.id,
                assignment.variant,
                (&assignment.subject, assignment.anonymous),
                response.status().as_u16(),
                assignment.started.elapsed(),
            );
        }
        let variant = &experiment.variants[assignment.variant].name;
        metrics::counter!("gateway_experiment_requests_total", "experiment" => experiment.name.clone(), "variant" => variant.clone())
            .increment(1);
        let named = format!("{}; variant={variant}", experiment.name);
        if let Ok(value) = HeaderValue::from_str(&named) {
            response.headers_mut().insert(X_EXPERIMENT, value);
        }
        if let Some(cookie) = assignment.cookie {
            response.headers_mut().append(header::SET_COOKIE, cookie);
        }
    }

    /// Counts a conversion if `method path`, answered `status`, is a running experiment's
    /// goal; `subject` is the caller (as [`subject_of`] names it).
    pub fn observe(&self, method: &Method, path: &str, status: StatusCode, subject: Option<&str>) {
        let Some(subject) = subject.filter(|_| status.is_success()) else {
            return;
        };
        let all = self.0.all.load();
        for experiment in all.iter() {
            let Goal::Conversion {
                method: goal_method,
                path: goal_path,
            } = &experiment.goal
            else {
                continue;
            };
            if experiment.state == ExperimentState::Running
                && goal_method.eq_ignore_ascii_case(method.as_str())
                && path.starts_with(goal_path.as_str())
            {
                let variant = assign::variant(&experiment.id, subject, experiment.split);
                metrics::counter!("gateway_experiment_conversions_total", "experiment" => experiment.name.clone(), "variant" => experiment.variants[variant].name.clone())
                    .increment(1);
                lock(&self.0.pending).convert(&experiment.id, variant, subject);
            }
        }
    }
}

/// Who the caller is to experiments: the token's subject, else the cookie's (under either
/// of its names).
pub fn subject_of(caller: &Caller, headers: &HeaderMap) -> Option<String> {
    caller
        .claims()
        .map(|claims| claims.sub.to_string())
        .or_else(|| assign::cookie_subject(headers, true).map(|(subject, _)| subject))
}

/// Reads the experiments again and adds the counts to Redis every second, until the
/// experiments are dropped; the counts of one deleted meanwhile are dropped, not written
/// back under its keys.
async fn keep(parts: Weak<ExperimentsInner>) {
    loop {
        let Some(parts) = parts.upgrade() else { return };
        let experiments = Experiments(parts);
        let all = experiments.load().await;
        let mut pending = std::mem::take(&mut *lock(&experiments.0.pending));
        if let Some(all) = &all {
            pending.retain(|id| all.iter().any(|experiment| experiment.id == id));
        }
        if !pending.is_empty()
            && let Err(unwritten) = pending.flush(&experiments.0.store).await
        {
            lock(&experiments.0.pending).absorb(unwritten);
        }
        if let Some(all) = all {
            experiments.take_in(all.into_iter().map(Arc::new).collect());
        }
        drop(experiments);
        tokio::time::sleep(REFRESH).await;
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
