mod health;
mod helpers;
mod orders;
mod sharding;
