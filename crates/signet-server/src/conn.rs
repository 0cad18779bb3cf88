//! Connections: the per-address connection cap, and the JSON shape of the
//! refusals hyper writes on its own.
//!
//! hyper answers a request it cannot parse (a malformed request line or
//! header: 400; a URI or header section over its buffer: 414, 431) with an
//! empty body before any endpoint sees it. [`JsonRefusals`] wraps a
//! connection and replaces such an answer, as it is written, with the
//! server's JSON error: it recognizes a write that is a whole response head
//! with one of those statuses and `content-length: 0`, which no endpoint
//! of this server writes (each of its refusals has a JSON body; audio
//! bodies are chunked, so no body write starts with a status line).

use std::collections::HashMap;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Open connections per client address.
#[derive(Debug, Default)]
pub(crate) struct PeerConnections {
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// One connection counted against its address; uncounted when dropped.
#[derive(Debug)]
pub(crate) struct PeerSlot {
    peers: Arc<PeerConnections>,
    ip: IpAddr,
}

impl PeerConnections {
    /// Counts a connection from `ip`, or `None` when `ip` has `max` open.
    pub(crate) fn open(self: &Arc<Self>, ip: IpAddr, max: usize) -> Option<PeerSlot> {
        let mut open = match self.open.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let n = open.entry(ip).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(PeerSlot {
            peers: Arc::clone(self),
            ip,
        })
    }
}

impl Drop for PeerSlot {
    fn drop(&mut self) {
        let mut open = match self.peers.open.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        if let Some(n) = open.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// The server's JSON error as a whole HTTP/1.1 response that closes the
/// connection.
pub(crate) fn json_response(status: u16, phrase: &str, reason: &str, message: &str) -> Vec<u8> {
    let body = serde_json::json!({
        "error": { "message": message, "type": reason, "code": status }
    })
    .to_string();
    format!(
        "HTTP/1.1 {status} {phrase}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         connection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// What to write instead of `buf` when `buf` is one of hyper's own empty
/// refusals.
fn replacement(buf: &[u8]) -> Option<Vec<u8>> {
    let rest = buf.strip_prefix(b"HTTP/1.1 ")?;
    let (status, phrase, reason, message) = match rest.get(..4)? {
        b"400 " => (
            400,
            "Bad Request",
            "bad_request",
            "the request could not be parsed: a malformed request line or header",
        ),
        b"414 " => (
            414,
            "URI Too Long",
            "uri_too_long",
            "the request URI is too long; send the text in a POST body",
        ),
        b"431 " => (
            431,
            "Request Header Fields Too Large",
            "headers_too_large",
            "the request headers are too large (64 KiB at most, request line included)",
        ),
        _ => return None,
    };
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    if end + 4 != buf.len() {
        return None;
    }
    let mut head = buf.get(..end + 2)?.to_ascii_lowercase();
    head.truncate(end + 2);
    if !head.windows(21).any(|w| w == b"\r\ncontent-length: 0\r\n") {
        return None;
    }
    Some(json_response(status, phrase, reason, message))
}

/// A connection whose hyper-made empty refusals become JSON ones.
pub(crate) struct JsonRefusals<I> {
    io: I,
    /// A replacement being written, how much of it is written, and the
    /// length of hyper's buffer to report once it is.
    pending: Option<(Vec<u8>, usize, usize)>,
}

impl<I> JsonRefusals<I> {
    pub(crate) fn new(io: I) -> Self {
        Self { io, pending: None }
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for JsonRefusals<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for JsonRefusals<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.pending.is_none() {
            match replacement(buf) {
                Some(bytes) => this.pending = Some((bytes, 0, buf.len())),
                None => return Pin::new(&mut this.io).poll_write(cx, buf),
            }
        }
        loop {
            let Some((bytes, written, reported)) = this.pending.as_mut() else {
                return Poll::Ready(Ok(0));
            };
            let Some(left) = bytes.get(*written..).filter(|l| !l.is_empty()) else {
                let n = *reported;
                this.pending = None;
                return Poll::Ready(Ok(n));
            };
            match Pin::new(&mut this.io).poll_write(cx, left) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => *written += n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        // hyper then writes each response head as one buffer, which is what
        // `replacement` looks at.
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hypers_empty_refusals_are_replaced() {
        let bare = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\ndate: x\r\n\r\n";
        let json = String::from_utf8(replacement(bare).unwrap()).unwrap();
        assert!(json.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{json}");
        assert!(json.contains("\"type\":\"bad_request\""), "{json}");
        assert!(replacement(b"HTTP/1.1 431 x\r\ncontent-length: 0\r\n\r\n").is_some());
        // A response with a body, another status, or more after the head: untouched.
        assert!(replacement(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 2\r\n\r\n{}").is_none());
        assert!(replacement(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").is_none());
        assert!(replacement(b"HTTP/1.1 400 B\r\ncontent-length: 0\r\n\r\nX").is_none());
        assert!(replacement(b"1000\r\nHTTP/1.1 400 ").is_none());
    }
}
