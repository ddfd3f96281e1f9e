mod health;
mod helpers;
mod orders;
mod participants;
mod saga;
mod sharding;
