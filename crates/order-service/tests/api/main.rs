mod health;
mod helpers;
