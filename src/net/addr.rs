//! Addresses to bind and connect to: [`ToSocketAddrs`], and resolution that never
//! blocks a worker (a host name is looked up on the blocking pool).

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

/// What pride's sockets accept as an address: a [`SocketAddr`] (or its parts), a
/// `"host:port"` string, a `(host, port)` pair, or a slice of addresses.
///
/// Literal IP addresses are used as they are; a host name is resolved with the
/// system resolver on the blocking pool (see [`to_thread`](crate::to_thread)), so it
/// does not stall a worker. This trait is sealed.
///
/// ```
/// # pride::run(async {
/// use std::net::{Ipv4Addr, SocketAddr};
/// use pride::net::TcpListener;
///
/// let a = TcpListener::bind("127.0.0.1:0").await?; // a string
/// let b = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?; // an (ip, port) pair
/// let c = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?; // a SocketAddr
/// let d = TcpListener::bind(("localhost", 0)).await?; // a host name, resolved off the workers
/// # drop((a, b, c, d));
/// # Ok::<_, std::io::Error>(())
/// # }).unwrap();
/// ```
pub trait ToSocketAddrs: sealed::Sealed {}

pub(crate) mod sealed {
    use std::net::SocketAddr;

    /// What an address turns into before any await.
    #[derive(Debug)]
    pub enum Resolved {
        /// Addresses known without a lookup.
        Done(Vec<SocketAddr>),
        /// A host and port, or (without a port) a whole address string, for the
        /// system resolver.
        Lookup(String, Option<u16>),
    }

    /// The sealed half of [`ToSocketAddrs`](super::ToSocketAddrs).
    pub trait Sealed {
        /// The addresses, or what to look up.
        fn resolved(&self) -> Resolved;
    }
}

use sealed::Resolved;

macro_rules! direct {
    ($($ty:ty),*) => {$(
        impl ToSocketAddrs for $ty {}
        impl sealed::Sealed for $ty {
            fn resolved(&self) -> Resolved {
                Resolved::Done(vec![SocketAddr::from(*self)])
            }
        }
    )*};
}

direct!(
    SocketAddr,
    SocketAddrV4,
    SocketAddrV6,
    (IpAddr, u16),
    (Ipv4Addr, u16),
    (Ipv6Addr, u16)
);

impl ToSocketAddrs for str {}
impl sealed::Sealed for str {
    fn resolved(&self) -> Resolved {
        if let Ok(addr) = self.parse::<SocketAddr>() {
            return Resolved::Done(vec![addr]);
        }
        match self.rsplit_once(':').map(|(h, p)| (h, p.parse::<u16>())) {
            Some((host, Ok(port))) => (host, port).resolved(),
            // Let the resolver produce its usual error for a malformed address.
            _ => Resolved::Lookup(self.to_owned(), None),
        }
    }
}

impl ToSocketAddrs for String {}
impl sealed::Sealed for String {
    fn resolved(&self) -> Resolved {
        self.as_str().resolved()
    }
}

impl ToSocketAddrs for (&str, u16) {}
impl sealed::Sealed for (&str, u16) {
    fn resolved(&self) -> Resolved {
        match self.0.parse::<IpAddr>() {
            Ok(ip) => Resolved::Done(vec![SocketAddr::new(ip, self.1)]),
            Err(_) => Resolved::Lookup(self.0.to_owned(), Some(self.1)),
        }
    }
}

impl ToSocketAddrs for (String, u16) {}
impl sealed::Sealed for (String, u16) {
    fn resolved(&self) -> Resolved {
        (self.0.as_str(), self.1).resolved()
    }
}

impl ToSocketAddrs for [SocketAddr] {}
impl sealed::Sealed for [SocketAddr] {
    fn resolved(&self) -> Resolved {
        Resolved::Done(self.to_vec())
    }
}

impl<T: ToSocketAddrs + ?Sized> ToSocketAddrs for &T {}
impl<T: sealed::Sealed + ?Sized> sealed::Sealed for &T {
    fn resolved(&self) -> Resolved {
        (**self).resolved()
    }
}

/// Resolves `host` into socket addresses: a host name with the system resolver, on the
/// blocking pool (so no worker waits on DNS), a literal address as it is.
///
/// `host` is anything pride's sockets accept as an address, such as `"example.com:80"`
/// or `("localhost", 8080)`. The addresses come in the resolver's order; a name that
/// resolves to nothing gives an empty list. Dropping the future abandons the lookup
/// (the resolver call itself runs to completion on its thread).
///
/// # Panics
/// Outside a pride runtime, when a name has to be looked up.
///
/// ```
/// pride::run(async {
///     let addrs = pride::net::lookup_host("localhost:8080").await.unwrap();
///     assert!(addrs.iter().all(|a| a.port() == 8080 && a.ip().is_loopback()));
///     let literal = pride::net::lookup_host(("127.0.0.1", 1)).await.unwrap();
///     assert_eq!(literal, ["127.0.0.1:1".parse().unwrap()]);
/// });
/// ```
#[doc(alias = "getaddrinfo")]
pub async fn lookup_host(host: impl ToSocketAddrs) -> io::Result<Vec<SocketAddr>> {
    lookup(host.resolved()).await
}

/// Resolves `resolved` into addresses, looking host names up on the blocking pool; at
/// least one, or an error.
pub(crate) async fn resolve(resolved: Resolved) -> io::Result<Vec<SocketAddr>> {
    let addrs = lookup(resolved).await?;
    if addrs.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "could not resolve to any address",
        ));
    }
    Ok(addrs)
}

async fn lookup(resolved: Resolved) -> io::Result<Vec<SocketAddr>> {
    Ok(match resolved {
        Resolved::Done(addrs) => addrs,
        Resolved::Lookup(host, port) => {
            crate::fs::Op::new(move || {
                let found = match port {
                    None => std::net::ToSocketAddrs::to_socket_addrs(&host)?.collect(),
                    Some(port) => {
                        std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), port))?.collect()
                    }
                };
                Ok(found)
            })
            .await?
        }
    })
}

/// Runs `f` on each address in turn until one succeeds; the last error otherwise.
pub(crate) async fn each_addr<T, F, Fut>(addr: Resolved, mut f: F) -> io::Result<T>
where
    F: FnMut(SocketAddr) -> Fut,
    Fut: std::future::Future<Output = io::Result<T>>,
{
    let mut last = None;
    for addr in resolve(addr).await? {
        match f(addr).await {
            Ok(value) => return Ok(value),
            Err(e) => last = Some(e),
        }
    }
    Err(last.expect("resolve returns at least one address"))
}
