//! auth-service: users, credentials, MFA, sessions, tokens, roles and permissions.

mod account;
mod account_events;
mod at_rest;
mod attempt;
mod bootstrap;
mod client;
mod code_key;
mod config;
mod domain;
mod error;
mod keys;
mod password;
mod provisioning;
mod required_actions;
mod routes;
mod seal;
mod startup;
mod state;
mod store;
mod tokens;
mod totp;
mod totp_secret;

pub use config::Config;
pub use startup::Application;

/// The binary's name, in logs, traces and `/health`.
pub const SERVICE: &str = "auth-service";
