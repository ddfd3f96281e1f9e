mod health;
mod helpers;
mod tracking;
