//! Outbound HTTP policy: a plugin reaches only the hosts in its `allowed_hosts`.

use std::future::Future;
use std::sync::Arc;

use wasmtime_wasi_http::{RequestOptions, WasiBody, WasiHttpHooks};

pub(super) struct OutboundPolicy {
    plugin: Arc<str>,
    allowed_hosts: Arc<[String]>,
}

impl OutboundPolicy {
    pub(super) fn new(plugin: Arc<str>, allowed_hosts: Arc<[String]>) -> Self {
        OutboundPolicy {
            plugin,
            allowed_hosts,
        }
    }
}

/// Whether `host` (and `port`) matches an `allowed_hosts` entry: `name` allows any port
/// of that host, `name:port` only that port. Host names compare case-insensitively.
pub fn host_allowed(allowed: &[String], host: &str, port: u16) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    allowed.iter().any(|entry| {
        let entry = entry.trim();
        let (entry_host, entry_port) = match entry.rsplit_once(':') {
            Some((name, port)) if !name.ends_with(':') && port.parse::<u16>().is_ok() => {
                (name, port.parse::<u16>().ok())
            }
            _ => (entry, None),
        };
        let entry_host = entry_host.trim_start_matches('[').trim_end_matches(']');
        entry_host.eq_ignore_ascii_case(host) && entry_port.is_none_or(|p| p == port)
    })
}

type SendResult = wasmtime_wasi_http::Result<(
    http::Response<WasiBody>,
    Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
)>;

impl WasiHttpHooks for OutboundPolicy {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
    ) -> Box<dyn Future<Output = SendResult> + Send> {
        _ = fut;
        let uri = request.uri();
        let host = uri.host().unwrap_or("").to_owned();
        let https = uri.scheme() == Some(&http::uri::Scheme::HTTPS);
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        if !host_allowed(&self.allowed_hosts, &host, port) {
            tracing::warn!(plugin = %self.plugin, %host, port, "outbound HTTP refused: host not in allowed_hosts");
            return Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) });
        }
        Box::new(async move {
            use http_body_util::BodyExt;
            let (response, io) = wasmtime_wasi_http::default_send_request(request, options).await?;
            Ok((
                response.map(BodyExt::boxed_unsync),
                Box::new(io) as Box<dyn Future<Output = _> + Send>,
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::host_allowed;

    #[test]
    fn hosts_match_with_and_without_ports() {
        let allowed = vec![
            "api.telegram.org".to_owned(),
            "127.0.0.1:8080".to_owned(),
            "[::1]:9000".to_owned(),
        ];
        assert!(host_allowed(&allowed, "api.telegram.org", 443));
        assert!(host_allowed(&allowed, "API.Telegram.org", 80));
        assert!(host_allowed(&allowed, "127.0.0.1", 8080));
        assert!(!host_allowed(&allowed, "127.0.0.1", 8081));
        assert!(host_allowed(&allowed, "[::1]", 9000));
        assert!(!host_allowed(&allowed, "evil.example.com", 443));
        assert!(!host_allowed(&allowed, "api.telegram.org.evil.com", 443));
        assert!(!host_allowed(&[], "localhost", 80));
    }
}
