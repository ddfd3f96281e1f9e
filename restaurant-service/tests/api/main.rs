mod health;
mod helpers;
mod menu;
mod restaurants;
