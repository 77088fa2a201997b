//! Requests the HTTP client cannot send as they are meant: a body sent with
//! `Transfer-Encoding: chunked`, or a `Content-Length` declared and not sent. They go over a
//! plain TCP connection, written and read here; the answer becomes the same [`Observed`] as
//! any other, so the same checks apply. Also the idle connection a slow client leaves open.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::Observed;

/// How a raw request frames its body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// `Transfer-Encoding: chunked`, in chunks of this many bytes.
    Chunked(usize),
    /// `Content-Length: N` declared, then only the bytes given sent, and the connection
    /// left open: the server must answer without waiting for the rest.
    Declared(usize),
}

/// The bytes of a request to 127.0.0.1:`port`.
pub fn request_bytes(
    port: u16,
    method: &str,
    path: &str,
    content_type: &str,
    body: &[u8],
    framing: Framing,
) -> Vec<u8> {
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}:{port}\r\nContent-Type: {content_type}\r\n",
        crate::runtime::engines::target_host()
    );
    let mut out = Vec::new();
    match framing {
        Framing::Chunked(size) => {
            head.push_str("Transfer-Encoding: chunked\r\n\r\n");
            out.extend_from_slice(head.as_bytes());
            for chunk in body.chunks(size.max(1)) {
                out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
                out.extend_from_slice(chunk);
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(b"0\r\n\r\n");
        }
        Framing::Declared(length) => {
            head.push_str(&format!("Content-Length: {length}\r\n\r\n"));
            out.extend_from_slice(head.as_bytes());
            out.extend_from_slice(body);
        }
    }
    out
}

/// Sends `request` on a new connection and reads one response, for at most `limit`.
pub async fn exchange(port: u16, request: &[u8], limit: Duration) -> Result<Observed, String> {
    let started = Instant::now();
    let work = async {
        let mut stream = TcpStream::connect((crate::runtime::engines::target_host(), port))
            .await
            .map_err(|e| format!("connecting: {e}"))?;
        stream
            .write_all(request)
            .await
            .map_err(|e| format!("sending: {e}"))?;
        read_response(&mut stream).await
    };
    match tokio::time::timeout(limit, work).await {
        Ok(Ok(mut observed)) => {
            observed.elapsed = started.elapsed();
            Ok(observed)
        }
        Ok(Err(err)) => Err(err),
        Err(_) => Err(format!("no answer within {} s", limit.as_secs_f64())),
    }
}

async fn read_response(stream: &mut TcpStream) -> Result<Observed, String> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(at) = find(&buffer, b"\r\n\r\n") {
            break at;
        }
        let n = stream
            .read(&mut chunk)
            .await
            .map_err(|e| format!("reading: {e}"))?;
        if n == 0 {
            return Err("the server closed the connection without an answer".into());
        }
        buffer.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).to_string();
    let mut rest = buffer[head_end + 4..].to_vec();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or_else(|| format!("not an HTTP status line: {head}"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_string()))
        .collect();
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    let chunked = header("transfer-encoding").is_some_and(|v| v.contains("chunked"));
    let length = header("content-length").and_then(|v| v.parse::<usize>().ok());
    // Read to the end of the body: its length, the last chunk, or the connection's end.
    loop {
        let complete = match (chunked, length) {
            (true, _) => dechunk(&rest).is_some(),
            (false, Some(length)) => rest.len() >= length,
            (false, None) => false,
        };
        if complete {
            break;
        }
        let n = stream
            .read(&mut chunk)
            .await
            .map_err(|e| format!("reading the body: {e}"))?;
        if n == 0 {
            break;
        }
        rest.extend_from_slice(&chunk[..n]);
    }
    let body = match (chunked, length) {
        (true, _) => dechunk(&rest).ok_or("a chunked body cut short")?,
        (false, Some(length)) => rest.into_iter().take(length).collect(),
        (false, None) => rest,
    };
    Ok(Observed {
        status,
        content_type: header("content-type"),
        framed: chunked || length.is_some(),
        date: header("date"),
        header_names: headers
            .iter()
            .map(|(n, _)| n.clone())
            .collect::<BTreeSet<_>>(),
        body,
        elapsed: Duration::ZERO,
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The body of a complete chunked encoding, or `None` while it is incomplete.
fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line_end = find(data, b"\r\n")?;
        let size_text = String::from_utf8_lossy(&data[..line_end]);
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Some(body);
        }
        if data.len() < size + 2 {
            return None;
        }
        body.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

/// Opens a connection to 127.0.0.1:`port` and sends nothing on it: a slow or idle client.
/// It stays open until the returned stream is dropped.
pub async fn idle_connection(port: u16) -> Result<TcpStream, String> {
    TcpStream::connect((crate::runtime::engines::target_host(), port))
        .await
        .map_err(|e| format!("connecting: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chunked_request_ends_with_the_last_chunk() {
        let bytes = request_bytes(
            80,
            "POST",
            "/x",
            "application/json",
            b"abcde",
            Framing::Chunked(2),
        );
        let text = String::from_utf8(bytes).unwrap();
        assert!(
            text.contains(
                "Transfer-Encoding: chunked\r\n\r\n2\r\nab\r\n2\r\ncd\r\n1\r\ne\r\n0\r\n\r\n"
            ),
            "{text}"
        );
        assert!(!text.contains("Content-Length"));
    }

    #[test]
    fn a_declared_request_sends_less_than_it_declares() {
        let bytes = request_bytes(
            80,
            "POST",
            "/x",
            "application/json",
            b"{",
            Framing::Declared(100),
        );
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.ends_with("Content-Length: 100\r\n\r\n{"), "{text}");
    }

    #[test]
    fn dechunk_waits_for_the_last_chunk() {
        assert_eq!(dechunk(b"3\r\nabc\r\n"), None);
        assert_eq!(dechunk(b"3\r\nabc\r\n0\r\n\r\n").unwrap(), b"abc");
    }
}
