mod accounts;
mod binaries;
mod board;
mod compose;
mod compose_observability;
mod dashboard;
mod deployments;
mod dev_script;
mod metrics;
mod openapi;
mod prometheus;
mod readme;
mod registry;
mod saga;
mod saga_regressions;
mod stack;
mod telemetry;

pub use e2e::{platform, processes};
