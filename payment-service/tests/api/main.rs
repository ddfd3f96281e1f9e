mod commands;
mod dead_letters;
mod health;
mod helpers;
mod payments;
