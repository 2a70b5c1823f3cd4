//! Outbound HTTP policy: a plugin reaches only the hosts in its `allowed_hosts`, and a
//! host given by name only at a public address, the one that was checked.
//!
//! - `name` allows ports 80 and 443; `name:port` allows that port. A name is resolved
//!   here, every address it resolves to must be public (not loopback, private,
//!   link-local, where cloud metadata services live, or otherwise special), and the
//!   connection goes to the address that was checked, so a DNS answer that changes
//!   between the check and the connect (rebinding) cannot redirect it.
//! - An IP literal (`127.0.0.1`, `[::1]:9000`) is the operator naming that address
//!   outright: it is allowed as written, on any port unless one is given.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use http_body_util::BodyExt;
use hyper_util::rt::TokioIo;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

/// Longest a name lookup may take.
const DNS_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest a connection (and TLS handshake) may take when the plugin sets none; the
/// plugin's wall-clock limit bounds the whole call anyway.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

pub(super) struct OutboundPolicy {
    plugin: Arc<str>,
    allowed_hosts: Arc<[String]>,
    /// `sandbox.max_response_bytes`.
    max_response_bytes: u64,
}

impl OutboundPolicy {
    pub(super) fn new(
        plugin: Arc<str>,
        allowed_hosts: Arc<[String]>,
        max_response_bytes: u64,
    ) -> Self {
        OutboundPolicy {
            plugin,
            allowed_hosts,
            max_response_bytes,
        }
    }
}

/// A response body that ends in an error once more than `limit` bytes came.
struct Capped {
    inner: hyper::body::Incoming,
    seen: u64,
    limit: u64,
}

impl hyper::body::Body for Capped {
    type Data = bytes::Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        use std::task::Poll;
        match std::pin::Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                let length = frame.data_ref().map_or(0, |data| data.len() as u64);
                self.seen = self.seen.saturating_add(length);
                if self.seen > self.limit {
                    return Poll::Ready(Some(Err(Error::HttpResponseBodySize(Some(self.limit)))));
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(err))) => Poll::Ready(Some(Err(Error::from(err)))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

fn capped(body: hyper::body::Incoming, limit: u64) -> WasiBody {
    Capped {
        inner: body,
        seen: 0,
        limit,
    }
    .boxed_unsync()
}

/// What an entry of `allowed_hosts` allows.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Allowed {
    /// An IP literal: connect there as written.
    Address(IpAddr),
    /// A name: connect only to a public address it resolves to.
    Name,
}

/// Splits `host[:port]` (IPv6 in brackets) into its host and port.
fn split_entry(entry: &str) -> (&str, Option<u16>) {
    let entry = entry.trim();
    if let Some(rest) = entry.strip_prefix('[') {
        return match rest.split_once(']') {
            Some((host, tail)) => (host, tail.strip_prefix(':').and_then(|p| p.parse().ok())),
            None => (rest, None),
        };
    }
    match entry.rsplit_once(':') {
        // One colon only: `name:port`. Several: a bare IPv6 address.
        Some((name, port)) if !name.contains(':') => match port.parse::<u16>() {
            Ok(port) => (name, Some(port)),
            Err(_) => (entry, None),
        },
        _ => (entry, None),
    }
}

/// The entry of `allowed` that lets a request reach `host` on `port`, if any.
fn allowed_entry(allowed: &[String], host: &str, port: u16) -> Option<Allowed> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    allowed.iter().find_map(|entry| {
        let (entry_host, entry_port) = split_entry(entry);
        if !entry_host.eq_ignore_ascii_case(host) {
            return None;
        }
        match entry_host.parse::<IpAddr>() {
            Ok(address) => entry_port
                .is_none_or(|p| p == port)
                .then_some(Allowed::Address(address)),
            Err(_) => {
                let port_ok = match entry_port {
                    Some(p) => p == port,
                    None => port == 80 || port == 443,
                };
                port_ok.then_some(Allowed::Name)
            }
        }
    })
}

#[cfg(test)]
/// Whether `host` (and `port`) matches an `allowed_hosts` entry: a name allows ports
/// 80 and 443 unless a port is given, an IP literal any port unless one is given.
pub fn host_allowed(allowed: &[String], host: &str, port: u16) -> bool {
    allowed_entry(allowed, host, port).is_some()
}

/// An address a name may lead a plugin to: none of loopback, private, link-local (cloud
/// metadata lives at 169.254.169.254), shared (CGNAT), unspecified, multicast,
/// broadcast, documentation or benchmarking ranges, nor their IPv6 counterparts.
pub fn is_public(address: IpAddr) -> bool {
    match address {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(v4: Ipv4Addr) -> bool {
    let [a, b, ..] = v4.octets();
    !(v4.is_loopback()
        || v4.is_private()
        || v4.is_link_local()
        || v4.is_unspecified()
        || v4.is_multicast()
        || v4.is_broadcast()
        || v4.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b))
        || (a == 198 && (b == 18 || b == 19))
        || a >= 240)
}

fn is_public_v6(v6: Ipv6Addr) -> bool {
    let first = v6.segments()[0];
    !(v6.is_loopback()
        || v6.is_unspecified()
        || v6.is_multicast()
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
        || first == 0x2001 && v6.segments()[1] == 0x0db8
        || first == 0x0064 && v6.segments()[1] == 0xff9b)
}

/// The one address a request to `host` may go to, checked.
async fn checked_address(allowed: &Allowed, host: &str, port: u16) -> Result<SocketAddr, Error> {
    if let Allowed::Address(address) = allowed {
        return Ok(SocketAddr::new(*address, port));
    }
    let found: Vec<SocketAddr> =
        match tokio::time::timeout(DNS_TIMEOUT, tokio::net::lookup_host((host, port))).await {
            Err(_) => return Err(Error::DnsTimeout),
            Ok(Err(_)) => return Err(Error::DestinationNotFound),
            Ok(Ok(found)) => found.collect(),
        };
    // Every answer must be public: a name that also points inside is not to be trusted.
    if found.iter().any(|address| !is_public(address.ip())) {
        return Err(Error::DestinationIpProhibited);
    }
    found.into_iter().next().ok_or(Error::DestinationNotFound)
}

type SendResult = wasmtime_wasi_http::Result<(
    http::Response<WasiBody>,
    Box<dyn Future<Output = Result<(), Error>> + Send>,
)>;

trait Stream: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static> Stream for T {}

/// Sends `request` over a connection to `address`, with TLS for `host` when `https`.
async fn send_to(
    mut request: http::Request<WasiBody>,
    options: Option<RequestOptions>,
    address: SocketAddr,
    host: String,
    https: bool,
    max_response_bytes: u64,
) -> SendResult {
    let connect_timeout = options
        .and_then(|options| options.connect_timeout)
        .unwrap_or(CONNECT_TIMEOUT);
    let tcp = tokio::time::timeout(connect_timeout, tokio::net::TcpStream::connect(address))
        .await
        .map_err(|_| Error::ConnectionTimeout)?
        .map_err(|err| match err.kind() {
            std::io::ErrorKind::ConnectionRefused => Error::ConnectionRefused,
            _ => Error::Connect(err),
        })?;
    let stream: Box<dyn Stream> = if https {
        let roots = tokio_rustls::rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.into(),
        };
        let tls = tokio_rustls::rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let name = match host.parse::<IpAddr>() {
            Ok(ip) => tokio_rustls::rustls::pki_types::ServerName::from(ip),
            Err(_) => tokio_rustls::rustls::pki_types::ServerName::try_from(host)
                .map_err(Error::InvalidDnsNameError)?,
        };
        let connecting = tokio_rustls::TlsConnector::from(Arc::new(tls)).connect(name, tcp);
        Box::new(
            tokio::time::timeout(connect_timeout, connecting)
                .await
                .map_err(|_| Error::ConnectionTimeout)?
                .map_err(Error::Tls)?,
        )
    } else {
        Box::new(tcp)
    };
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(Error::from)?;
    // The connection is driven on its own task; it ends with the exchange.
    let driven = tokio::spawn(connection);
    // On the wire, a request names only its path (the Host header names the host).
    let path = request
        .uri()
        .path_and_query()
        .map(|path| path.as_str().to_owned())
        .unwrap_or_else(|| "/".to_owned());
    *request.uri_mut() = path.parse().map_err(|_| Error::HttpRequestUriInvalid)?;
    let first_byte = options
        .and_then(|options| options.first_byte_timeout)
        .unwrap_or(CONNECT_TIMEOUT);
    let response = tokio::time::timeout(first_byte, sender.send_request(request))
        .await
        .map_err(|_| Error::ConnectionReadTimeout)?
        .map_err(Error::from)?;
    let announced = response
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if announced.is_some_and(|length| length > max_response_bytes) {
        return Err(Error::HttpResponseBodySize(announced));
    }
    let io = async move {
        match driven.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(err)) => Err(Error::from(err)),
            Err(_) => Err(Error::ConnectionTerminated),
        }
    };
    Ok((
        response.map(|body| capped(body, max_response_bytes)),
        Box::new(io) as Box<dyn Future<Output = _> + Send>,
    ))
}

impl WasiHttpHooks for OutboundPolicy {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: Box<dyn Future<Output = Result<(), Error>> + Send>,
    ) -> Box<dyn Future<Output = SendResult> + Send> {
        _ = fut;
        let uri = request.uri();
        let host = uri.host().unwrap_or("").to_owned();
        let https = uri.scheme() == Some(&http::uri::Scheme::HTTPS);
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let Some(allowed) = allowed_entry(&self.allowed_hosts, &host, port) else {
            tracing::warn!(plugin = %self.plugin, %host, port, "outbound HTTP refused: host and port not in allowed_hosts");
            return Box::new(async { Err(Error::HttpRequestDenied) });
        };
        let plugin = self.plugin.clone();
        let max_response_bytes = self.max_response_bytes;
        Box::new(async move {
            let bare = host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned();
            let address = match checked_address(&allowed, &bare, port).await {
                Ok(address) => address,
                Err(err) => {
                    tracing::warn!(plugin = %plugin, host = %bare, port, error = ?err, "outbound HTTP refused: the name does not lead to a public address");
                    return Err(err);
                }
            };
            send_to(request, options, address, bare, https, max_response_bytes).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_match_with_and_without_ports() {
        let allowed = vec![
            "api.telegram.org".to_owned(),
            "127.0.0.1".to_owned(),
            "example.com:8443".to_owned(),
            "[::1]:9000".to_owned(),
        ];
        assert!(host_allowed(&allowed, "api.telegram.org", 443));
        assert!(host_allowed(&allowed, "API.Telegram.org", 80));
        assert!(
            !host_allowed(&allowed, "api.telegram.org", 8080),
            "a bare name allows 80 and 443 only"
        );
        assert!(host_allowed(&allowed, "example.com", 8443));
        assert!(!host_allowed(&allowed, "example.com", 443));
        assert!(
            host_allowed(&allowed, "127.0.0.1", 8081),
            "an IP literal as written"
        );
        assert!(host_allowed(&allowed, "[::1]", 9000));
        assert!(!host_allowed(&allowed, "[::1]", 9001));
        assert!(!host_allowed(&allowed, "evil.example.com", 443));
        assert!(!host_allowed(&allowed, "api.telegram.org.evil.com", 443));
        assert!(!host_allowed(&[], "localhost", 80));
    }

    #[test]
    fn only_public_addresses_are_public() {
        for inside in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
        ] {
            assert!(!is_public(inside.parse().unwrap()), "{inside}");
        }
        for outside in ["1.1.1.1", "149.154.167.220", "2606:4700:4700::1111"] {
            assert!(is_public(outside.parse().unwrap()), "{outside}");
        }
    }

    #[tokio::test]
    async fn a_name_that_leads_inside_is_refused_an_ip_literal_is_not() {
        let by_name = checked_address(&Allowed::Name, "localhost", 80).await;
        assert!(
            matches!(by_name, Err(Error::DestinationIpProhibited)),
            "{by_name:?}"
        );
        let literal = "127.0.0.1".parse().unwrap();
        let by_address = checked_address(&Allowed::Address(literal), "127.0.0.1", 8080).await;
        assert_eq!(by_address.ok(), Some(SocketAddr::new(literal, 8080)));
    }
}
