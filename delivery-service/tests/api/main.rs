mod commands;
mod health;
mod helpers;
mod release;
mod shipments;
