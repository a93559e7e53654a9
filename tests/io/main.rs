//! Files, sockets, `serve` and child processes. One test binary, so the suite links
//! once per area instead of once per file.

#[path = "../common/mod.rs"]
mod common;

mod fs;
mod net_serve;
mod net_socket;
mod net_tcp;
mod net_udp;
mod net_unix;
mod process;
