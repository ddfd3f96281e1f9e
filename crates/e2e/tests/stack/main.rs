mod binaries;
mod compose;
mod processes;
mod stack;
