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
mod routes;
mod seal;
mod startup;
mod state;
mod store;
mod tokens;
mod totp;
mod totp_secret;

pub use config::{Config, SERVICE};
pub use startup::Application;
