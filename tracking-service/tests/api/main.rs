mod health;
mod helpers;
mod live;
mod progress;
mod tracking;
mod websocket;
