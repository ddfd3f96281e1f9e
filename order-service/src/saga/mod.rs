//! The order saga, orchestrated here: payment authorization, shipment, capture (the pivot),
//! the compensations that undo them when a step fails, newest first, and a confirmed
//! order's cancellation; with the courier's facts about the order, which wait while a saga
//! holds it.

pub mod facts;
pub mod log;
pub mod machine;
mod messages;
pub mod metrics;
pub mod orchestrator;
pub mod replies;
mod step;
pub mod store;
pub mod timer;
mod vocabulary;

pub use orchestrator::SagaPolicy;
