mod commands;
mod health;
mod helpers;
mod payments;
