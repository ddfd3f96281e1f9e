mod cancellation;
mod health;
mod helpers;
mod operators;
mod orders;
mod participants;
mod saga;
mod sharding;
