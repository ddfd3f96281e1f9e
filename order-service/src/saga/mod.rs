//! The order saga, orchestrated here: payment authorization, shipment, capture, and the
//! compensations that undo them when a step fails, newest first.

pub mod machine;
pub mod metrics;
pub mod orchestrator;
pub mod replies;
mod step;
pub mod store;
pub mod timer;

pub use orchestrator::SagaPolicy;
