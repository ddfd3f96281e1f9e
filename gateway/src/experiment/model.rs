//! An experiment as it is kept in Redis: the route it splits, its two variants, the split,
//! the goal, the sample it needs, and whether it still runs.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use gateway_upstream::Selector;

/// One experiment.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Experiment {
    pub id: String,
    pub name: String,
    /// The path prefix whose requests are split (`/restaurants`).
    pub route: String,
    /// The backend that route goes to.
    pub service: String,
    /// The control first, then the treatment.
    pub variants: Vec<Variant>,
    /// Percent of users sent to the second variant.
    pub split: f64,
    pub goal: Goal,
    /// Users (for a conversion goal) or calls (for latency and error rate) each variant
    /// needs before a verdict is given.
    pub min_sample: u64,
    pub state: ExperimentState,
    /// Once stopped: the variant chosen (to release; the route no longer splits).
    pub winner: Option<String>,
    pub created_at: String,
    pub stopped_at: Option<String>,
}

/// A variant: the instances of a version or of a colour (or both).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Variant {
    pub name: String,
    #[serde(flatten)]
    pub instances: Selector,
}

/// What an experiment compares.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Goal {
    /// The share of exposed users who then make a request of `method` under `path`
    /// answered 2xx (an order placed after a restaurant view: `POST /orders`).
    Conversion {
        #[serde(default = "default_method")]
        method: String,
        #[serde(default = "default_path")]
        path: String,
    },
    /// The mean latency of the route's calls: lower wins.
    Latency,
    /// The share of the route's calls answered 5xx: lower wins.
    ErrorRate,
}

fn default_method() -> String {
    "POST".to_owned()
}

fn default_path() -> String {
    "/orders".to_owned()
}

/// Whether an experiment still splits its users.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ExperimentState {
    Running,
    /// The route is served as if there had been no experiment; its numbers are kept until
    /// it is deleted.
    Stopped,
}

impl Experiment {
    /// Whether `path` is under its route.
    pub fn covers(&self, path: &str) -> bool {
        path.strip_prefix(self.route.as_str())
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/') || rest.starts_with('?'))
            || self.route == "/"
    }

    /// The index of the variant named `name`.
    pub fn variant_index(&self, name: &str) -> Option<usize> {
        self.variants
            .iter()
            .position(|variant| variant.name == name)
    }
}
