mod health;
mod helpers;
mod shipments;
