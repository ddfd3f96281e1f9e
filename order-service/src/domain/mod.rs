//! Orders: what a valid one is and how its status may change.

pub mod input;
pub mod lines;
pub mod status;
