//! The platform as real processes for end-to-end tests and long checks: starting the seven
//! binaries on stores of their own, acting through the gateway, faults to inject, and the
//! checker of the books. The tests are in `tests/`; `chaos` is the long-run command.

pub mod books;
pub mod chaos;
pub mod platform;
pub mod processes;
