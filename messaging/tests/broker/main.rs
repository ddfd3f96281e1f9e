mod consumer;
mod helpers;
mod relay;
mod trace;
