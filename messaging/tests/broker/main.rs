mod consumer;
mod dead_letters;
mod helpers;
mod relay;
mod trace;
