mod health;
mod helpers;
mod payments;
