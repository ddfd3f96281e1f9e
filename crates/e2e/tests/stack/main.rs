mod binaries;
mod compose;
mod platform;
mod processes;
mod readme;
mod saga;
mod stack;
mod telemetry;
