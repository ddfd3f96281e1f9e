//! Where the dev stack's binaries listen: on loopback alone, since the stack's
//! administrator's password is public and its reset links are logged.

use std::{
    net::{IpAddr, SocketAddr, TcpStream, UdpSocket},
    time::Duration,
};

use super::harness::Dev;
use crate::binaries;

/// The machine's address toward the outside, if it has one but loopback: the one a datagram
/// socket would send from (connecting one sends nothing).
fn outward_address() -> Option<IpAddr> {
    let socket = UdpSocket::bind("0.0.0.0:0").ok()?;
    socket.connect("192.0.2.1:9").ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

/// Each binary answers on 127.0.0.1 and refuses connections on the machine's other address,
/// since the stack's administrator's password is public.
pub(super) fn assert_every_binary_listens_on_loopback_alone(dev: &Dev) {
    let Some(outside) = outward_address() else {
        eprintln!("this machine has no address but loopback: nothing else to refuse on");
        return;
    };
    for binary in binaries::all() {
        let port = dev.port(binary.name);
        let timeout = Duration::from_secs(2);
        let inside = SocketAddr::from(([127, 0, 0, 1], port));
        assert!(
            TcpStream::connect_timeout(&inside, timeout).is_ok(),
            "{} listens on loopback",
            binary.name
        );
        assert!(
            TcpStream::connect_timeout(&SocketAddr::new(outside, port), timeout).is_err(),
            "{} listens on {outside} too",
            binary.name
        );
    }
}
