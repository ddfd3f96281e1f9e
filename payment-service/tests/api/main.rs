mod commands;
mod dead_letters;
mod health;
mod helpers;
mod no_store;
mod payments;
