//! `app.port`: where the HTTP server listens, written the ways operators of the Go
//! original wrote it (`:8880`, `8880`, `0.0.0.0:8880`, `[::]:8880`).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::str::FromStr;

use serde::{Deserialize, Deserializer};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenAddr(pub SocketAddr);

impl Default for ListenAddr {
    fn default() -> Self {
        ListenAddr(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 8880))
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{0:?} is not a listen address: use a port (8880, :8880) or an address with a port (0.0.0.0:8880, [::]:8880)")]
pub struct BadListenAddr(String);

impl FromStr for ListenAddr {
    type Err = BadListenAddr;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let trimmed = text.trim();
        let bad = || BadListenAddr(text.to_owned());
        let port_only = trimmed.strip_prefix(':').unwrap_or(trimmed);
        if let Ok(port) = port_only.parse::<u16>() {
            return Ok(ListenAddr(SocketAddr::new(
                IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                port,
            )));
        }
        trimmed
            .parse::<SocketAddr>()
            .map(ListenAddr)
            .map_err(|_| bad())
    }
}

impl fmt::Display for ListenAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl<'de> Deserialize<'de> for ListenAddr {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        match toml::Value::deserialize(deserializer)? {
            toml::Value::String(text) => text.parse().map_err(D::Error::custom),
            toml::Value::Integer(port) => u16::try_from(port)
                .map(|port| ListenAddr(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port)))
                .map_err(|_| D::Error::custom(format!("{port} is not a port number (0-65535)"))),
            other => Err(D::Error::custom(format!(
                "expected a port or an address, found {}",
                other.type_str()
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_every_form_of_the_original() {
        for (text, expected) in [
            (":8880", "0.0.0.0:8880"),
            ("8880", "0.0.0.0:8880"),
            ("0.0.0.0:8880", "0.0.0.0:8880"),
            ("[::]:8880", "[::]:8880"),
            ("127.0.0.1:0", "127.0.0.1:0"),
        ] {
            let parsed: ListenAddr = text.parse().unwrap();
            assert_eq!(parsed.to_string(), expected, "{text}");
        }
    }

    #[test]
    fn refuses_nonsense() {
        for text in ["", "http", ":99999", "localhost:8880", "1.2.3.4"] {
            assert!(text.parse::<ListenAddr>().is_err(), "{text}");
        }
    }
}
