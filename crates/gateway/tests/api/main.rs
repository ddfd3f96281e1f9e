mod health;
mod helpers;
mod proxy;
