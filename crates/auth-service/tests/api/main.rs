mod health;
mod helpers;
mod register;
