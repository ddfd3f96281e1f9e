mod binaries;
mod compose;
mod processes;
mod readme;
mod stack;
mod telemetry;
