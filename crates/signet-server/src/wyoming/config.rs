//! The `[wyoming]` table: where the Wyoming door listens and its own caps.
//! Everything else (workers, queue, text limits, timeouts, connection caps)
//! is the server's, shared with HTTP.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use serde::Deserialize;

use crate::ServerError;

/// Where the Wyoming door listens: `tcp://HOST:PORT` (an IP address or
/// `localhost`) or `unix://PATH`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WyomingUri {
    /// A TCP socket.
    Tcp(SocketAddr),
    /// A Unix domain socket, created owner-only (mode 0600).
    Unix(PathBuf),
}

impl Default for WyomingUri {
    /// `tcp://127.0.0.1:10200`, loopback on Wyoming's usual port.
    fn default() -> Self {
        WyomingUri::Tcp(SocketAddr::from(([127, 0, 0, 1], 10200)))
    }
}

impl std::fmt::Display for WyomingUri {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WyomingUri::Tcp(a) => write!(f, "tcp://{a}"),
            WyomingUri::Unix(p) => write!(f, "unix://{}", p.display()),
        }
    }
}

impl std::str::FromStr for WyomingUri {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(path) = s.strip_prefix("unix://") {
            if path.is_empty() || path.len() > 100 {
                return Err(format!(
                    "{s:?}: a unix:// socket path must be 1 to 100 bytes"
                ));
            }
            return Ok(WyomingUri::Unix(PathBuf::from(path)));
        }
        let Some(rest) = s.strip_prefix("tcp://") else {
            return Err(format!(
                "{s:?} is not a Wyoming URI: use tcp://HOST:PORT or unix://PATH"
            ));
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if let Ok(addr) = rest.parse::<SocketAddr>() {
            return Ok(WyomingUri::Tcp(addr));
        }
        match rest.rsplit_once(':') {
            Some(("localhost", port)) => port
                .parse::<u16>()
                .map(|p| WyomingUri::Tcp(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), p)))
                .map_err(|_| format!("{s:?}: the port must be a number from 0 to 65535")),
            _ => Err(format!(
                "{s:?}: the host must be an IP address (e.g. tcp://127.0.0.1:10200, \
                 tcp://[::1]:10200) or localhost"
            )),
        }
    }
}

impl<'de> Deserialize<'de> for WyomingUri {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Who may reach the Wyoming door. Wyoming has no authentication, so the
/// safe side is the default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RemoteAccess {
    /// Only a loopback address (or a Unix socket) may be bound (default).
    #[default]
    Loopback,
    /// Any address may be bound: anyone who can reach it may use the server
    /// (`--allow-remote`).
    Allowed,
}

/// Whether the HTTP door is open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HttpDoor {
    /// Listen on `bind` (default).
    #[default]
    On,
    /// No HTTP listener (`signet wyoming` serves Wyoming alone).
    Off,
}

/// The `[wyoming]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct WyomingConfig {
    /// Where to listen (default `tcp://127.0.0.1:10200`).
    pub uri: WyomingUri,
    /// `loopback` (default) or `allowed`: whether a non-loopback address may
    /// be bound.
    pub remote: RemoteAccess,
    /// Longest event header line, in bytes.
    pub max_header_bytes: usize,
    /// Largest data part of an event, in bytes.
    pub max_data_bytes: usize,
    /// Largest payload of an event, in bytes (a speech server takes no
    /// audio; payloads are read and dropped).
    pub max_payload_bytes: usize,
    /// Longest wait for the next event while no audio is being made, in
    /// seconds; then the connection is closed.
    pub idle_timeout_secs: u64,
    /// Most text one streaming request (`synthesize-start` to
    /// `synthesize-stop`) may carry in all, in bytes. Each piece sent to
    /// synthesis is at most `limits.max_input_bytes`.
    pub max_stream_bytes: usize,
}

impl Default for WyomingConfig {
    fn default() -> Self {
        let caps = signet_wyoming::Caps::default();
        Self {
            uri: WyomingUri::default(),
            remote: RemoteAccess::Loopback,
            max_header_bytes: caps.max_header_bytes,
            max_data_bytes: caps.max_data_bytes,
            max_payload_bytes: caps.max_payload_bytes,
            idle_timeout_secs: 30,
            max_stream_bytes: 64 * 1024,
        }
    }
}

impl WyomingConfig {
    /// The event caps.
    pub(crate) fn caps(&self) -> signet_wyoming::Caps {
        signet_wyoming::Caps {
            max_header_bytes: self.max_header_bytes,
            max_data_bytes: self.max_data_bytes,
            max_payload_bytes: self.max_payload_bytes,
        }
    }

    /// Checks the table; a non-loopback TCP address needs `remote = "allowed"`.
    pub(crate) fn validate(&self) -> Result<(), ServerError> {
        if let WyomingUri::Tcp(addr) = &self.uri {
            if !addr.ip().to_canonical().is_loopback() && self.remote != RemoteAccess::Allowed {
                return Err(ServerError::InvalidSetting {
                    setting: "wyoming.uri",
                    reason: format!(
                        "{} is not a loopback address. Wyoming has no authentication: anyone \
                         who can reach the port could make this server speak. Bind 127.0.0.1 \
                         (or a unix:// socket), or, on a network you trust, allow it explicitly \
                         with `--allow-remote` (wyoming.remote = \"allowed\")",
                        self.uri
                    ),
                });
            }
        }
        let range = |setting: &'static str, v: u64, lo: u64, hi: u64| {
            if v < lo || v > hi {
                return Err(ServerError::InvalidSetting {
                    setting,
                    reason: format!("{v} is outside {lo}..={hi}"),
                });
            }
            Ok(())
        };
        let n = |x: usize| x as u64;
        range(
            "wyoming.max_header_bytes",
            n(self.max_header_bytes),
            256,
            1 << 20,
        )?;
        range(
            "wyoming.max_data_bytes",
            n(self.max_data_bytes),
            1024,
            16 << 20,
        )?;
        range(
            "wyoming.max_payload_bytes",
            n(self.max_payload_bytes),
            0,
            16 << 20,
        )?;
        range(
            "wyoming.idle_timeout_secs",
            self.idle_timeout_secs,
            1,
            3_600,
        )?;
        range(
            "wyoming.max_stream_bytes",
            n(self.max_stream_bytes),
            1,
            16 << 20,
        )?;
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn uris_parse_and_remote_binds_need_the_flag() {
        let tcp: WyomingUri = "tcp://127.0.0.1:10200".parse().unwrap();
        assert_eq!(tcp, WyomingUri::default());
        assert_eq!(
            "tcp://localhost:1".parse::<WyomingUri>().unwrap(),
            WyomingUri::Tcp(SocketAddr::from(([127, 0, 0, 1], 1)))
        );
        assert!("tcp://[::1]:5".parse::<WyomingUri>().is_ok());
        assert_eq!(
            "unix:///run/signet.sock".parse::<WyomingUri>().unwrap(),
            WyomingUri::Unix("/run/signet.sock".into())
        );
        for bad in [
            "http://x:1",
            "tcp://example.com:1",
            "tcp://1.2.3.4",
            "unix://",
            "10200",
        ] {
            assert!(bad.parse::<WyomingUri>().is_err(), "{bad}");
        }
        let mut c = WyomingConfig {
            uri: "tcp://0.0.0.0:10200".parse().unwrap(),
            ..WyomingConfig::default()
        };
        let e = c.validate().unwrap_err().to_string();
        assert!(
            e.contains("wyoming.uri") && e.contains("--allow-remote"),
            "{e}"
        );
        c.remote = RemoteAccess::Allowed;
        assert!(c.validate().is_ok());
        assert!(WyomingConfig::default().validate().is_ok());
    }
}
