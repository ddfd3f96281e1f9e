mod health;
mod helpers;
mod progress;
mod tracking;
