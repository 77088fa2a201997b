//! A minimal HTTP/1.1 response reader: status line, the headers that frame the body
//! (`Content-Length`, `Transfer-Encoding: chunked`, `Connection`), chunked bodies. It only
//! counts bytes, it never keeps a body.

use std::io;

/// Largest response head (status line and headers) accepted.
pub(super) const MAX_HEAD: usize = 64 * 1024;

/// Longest chunk-size or trailer line accepted in a chunked body.
pub(super) const MAX_CHUNK_LINE: usize = 4096;

/// What the generator keeps of one response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Response {
    pub(super) status: u16,
    /// Body bytes after removing any chunk framing.
    pub(super) body_bytes: u64,
    /// Head plus body as they came over the wire.
    pub(super) wire_bytes: u64,
    /// Whether the connection may be used for another request.
    pub(super) keep_alive: bool,
}

/// Why a response could not be read.
pub(super) fn protocol_error(what: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

/// How the body of a response is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum BodyKind {
    /// No body: `HEAD`, 1xx, 204, 304.
    Empty,
    /// `Content-Length`.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Neither: the body ends when the server closes the connection.
    UntilClose,
}

/// A parsed response head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Head {
    pub(super) status: u16,
    /// Bytes of the head, the blank line included.
    pub(super) len: usize,
    pub(super) body: BodyKind,
    pub(super) keep_alive: bool,
    /// A 1xx response other than 101: another head follows.
    pub(super) interim: bool,
}

/// Parses a response head from the start of `data`; `None` until the blank line that ends
/// it has arrived. One pass over the bytes; only the headers that frame the body
/// (`Content-Length`, `Transfer-Encoding`, `Connection`) are looked at, the others skipped.
pub(super) fn parse_head(data: &[u8], head_request: bool) -> io::Result<Option<Head>> {
    let need_more = || {
        if data.len() > MAX_HEAD {
            Err(protocol_error("response head too large"))
        } else {
            Ok(None)
        }
    };
    let Some(first_nl) = find_newline(data) else {
        return need_more();
    };
    let status_line = &data[..first_nl];
    let status_line = status_line.strip_suffix(b"\r").unwrap_or(status_line);
    if status_line.len() < 12
        || !status_line.starts_with(b"HTTP/1.")
        || status_line[8] != b' '
        || !status_line[9..12].iter().all(u8::is_ascii_digit)
        || status_line.get(12).is_some_and(|&b| b != b' ')
    {
        return Err(protocol_error("not an HTTP/1.x status line"));
    }
    let http11 = status_line[7] == b'1';
    let status = status_line[9..12]
        .iter()
        .fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));

    let mut length: Option<u64> = None;
    let mut chunked = false;
    let mut close = false;
    let mut keep_alive_token = false;
    let mut at = first_nl + 1;
    loop {
        let rest = &data[at..];
        let Some(nl) = find_newline(rest) else {
            return need_more();
        };
        let line = rest[..nl].strip_suffix(b"\r").unwrap_or(&rest[..nl]);
        at += nl + 1;
        // Only names starting with c or t can matter; skip the rest without looking further.
        match line.first().map(|b| b | 0x20) {
            None => break,
            Some(b'c' | b't') => {}
            Some(_) => continue,
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            return Err(protocol_error("malformed header line"));
        };
        let name = &line[..colon];
        let value = line[colon + 1..].trim_ascii();
        if name.eq_ignore_ascii_case(b"content-length") {
            if value.is_empty() || value.len() > 19 || !value.iter().all(u8::is_ascii_digit) {
                return Err(protocol_error("bad Content-Length"));
            }
            let parsed = value.iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
            if length.is_some_and(|l| l != parsed) {
                return Err(protocol_error("conflicting Content-Length headers"));
            }
            length = Some(parsed);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            chunked = value
                .rsplit(|&b| b == b',')
                .next()
                .is_some_and(|last| last.trim_ascii().eq_ignore_ascii_case(b"chunked"));
        } else if name.eq_ignore_ascii_case(b"connection") {
            for token in value.split(|&b| b == b',') {
                let token = token.trim_ascii();
                close |= token.eq_ignore_ascii_case(b"close");
                keep_alive_token |= token.eq_ignore_ascii_case(b"keep-alive");
            }
        }
    }
    if status == 101 {
        return Err(protocol_error("the server switched protocols"));
    }
    let informational = (100..200).contains(&status);
    let mut keep_alive = !close && (http11 || keep_alive_token);
    let body = if head_request || informational || status == 204 || status == 304 {
        BodyKind::Empty
    } else if chunked {
        BodyKind::Chunked
    } else if let Some(length) = length {
        BodyKind::Length(length)
    } else {
        keep_alive = false;
        BodyKind::UntilClose
    };
    Ok(Some(Head {
        status,
        len: at,
        body,
        keep_alive,
        interim: informational,
    }))
}

/// Position of the first `\n`, eight bytes at a time.
pub(super) fn find_newline(haystack: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    const NEWLINES: u64 = ONES * b'\n' as u64;
    let mut chunks = haystack.chunks_exact(8);
    let mut offset = 0;
    for chunk in chunks.by_ref() {
        let word = u64::from_le_bytes(chunk.try_into().expect("chunks of 8")) ^ NEWLINES;
        // A zero byte in `word` is a newline; the lowest flagged byte is always a true one.
        let zeros = word.wrapping_sub(ONES) & !word & HIGHS;
        if zeros != 0 {
            return Some(offset + (zeros.trailing_zeros() / 8) as usize);
        }
        offset += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| b == b'\n')
        .map(|at| offset + at)
}

/// Incremental decoder of a chunked body; only counts the data, never keeps it.
#[derive(Debug, Default)]
pub(super) struct ChunkedDecoder {
    pub(super) state: ChunkState,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) enum ChunkState {
    /// Expecting a chunk-size line.
    #[default]
    Size,
    /// Inside a chunk's data, this many bytes left.
    Data(u64),
    /// Expecting the CRLF after a chunk's data.
    DataEnd,
    /// After the last chunk: trailer lines until a blank one.
    Trailer,
}

/// What one [`ChunkedDecoder::feed`] did.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct ChunkStep {
    pub(super) consumed: usize,
    pub(super) body_bytes: u64,
    pub(super) done: bool,
}

impl ChunkedDecoder {
    /// Consumes what it can of `data`; the caller drops the consumed bytes and feeds the rest
    /// again with more appended.
    pub(super) fn feed(&mut self, data: &[u8]) -> io::Result<ChunkStep> {
        let mut at = 0;
        let mut body_bytes = 0;
        let step = |at, body_bytes, done| ChunkStep {
            consumed: at,
            body_bytes,
            done,
        };
        loop {
            let rest = &data[at..];
            match self.state {
                ChunkState::Size | ChunkState::Trailer => {
                    let Some(nl) = rest.iter().position(|&b| b == b'\n') else {
                        if rest.len() > MAX_CHUNK_LINE {
                            return Err(protocol_error("chunk line too long"));
                        }
                        return Ok(step(at, body_bytes, false));
                    };
                    let line = rest[..nl].strip_suffix(b"\r").unwrap_or(&rest[..nl]);
                    at += nl + 1;
                    if self.state == ChunkState::Trailer {
                        if line.is_empty() {
                            return Ok(step(at, body_bytes, true));
                        }
                        continue;
                    }
                    let digits = line
                        .split(|&b| b == b';')
                        .next()
                        .unwrap_or_default()
                        .trim_ascii();
                    let size = std::str::from_utf8(digits)
                        .ok()
                        .filter(|d| !d.is_empty())
                        .and_then(|d| u64::from_str_radix(d, 16).ok())
                        .ok_or_else(|| protocol_error("bad chunk size"))?;
                    self.state = if size == 0 {
                        ChunkState::Trailer
                    } else {
                        ChunkState::Data(size)
                    };
                }
                ChunkState::Data(left) => {
                    let take = left.min(rest.len() as u64);
                    at += take as usize;
                    body_bytes += take;
                    if take < left {
                        self.state = ChunkState::Data(left - take);
                        return Ok(step(at, body_bytes, false));
                    }
                    self.state = ChunkState::DataEnd;
                }
                ChunkState::DataEnd => {
                    if rest.len() < 2 {
                        return Ok(step(at, body_bytes, false));
                    }
                    if &rest[..2] != b"\r\n" {
                        return Err(protocol_error("chunk data not followed by CRLF"));
                    }
                    at += 2;
                    self.state = ChunkState::Size;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_response_heads() {
        let head = |text: &str| parse_head(text.as_bytes(), false).unwrap().unwrap();
        let parsed = head("HTTP/1.1 200 OK\r\nContent-Length: 11\r\nX: y\r\n\r\n{\"ok\":true}");
        assert_eq!(parsed.status, 200);
        assert_eq!(parsed.body, BodyKind::Length(11));
        assert!(parsed.keep_alive);
        assert_eq!(parsed.len, 45);

        let parsed = head("HTTP/1.1 404 Not Found\r\ntransfer-encoding: gzip, Chunked\r\n\r\n");
        assert_eq!((parsed.status, parsed.body), (404, BodyKind::Chunked));

        let parsed = head("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
        assert!(!parsed.keep_alive);

        let parsed = head("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\n");
        assert!(parsed.keep_alive);
        let parsed = head("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n");
        assert!(!parsed.keep_alive);

        let parsed = head("HTTP/1.1 200 OK\r\nServer: x\r\n\r\n");
        assert_eq!(parsed.body, BodyKind::UntilClose);
        assert!(!parsed.keep_alive);

        let parsed = head("HTTP/1.1 204 No Content\r\n\r\n");
        assert_eq!(parsed.body, BodyKind::Empty);
        let parsed = head("HTTP/1.1 100 Continue\r\n\r\n");
        assert!(parsed.interim);
        let head_request = parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", true);
        assert_eq!(head_request.unwrap().unwrap().body, BodyKind::Empty);

        assert_eq!(
            parse_head(b"HTTP/1.1 200 OK\r\nContent-Le", false).unwrap(),
            None
        );
        for bad in [
            "HTTP/2 200\r\n\r\n",
            "HTTP/1.1 2x0 OK\r\n\r\n",
            "HTTP/1.1 200 OK\r\nConnection close\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        ] {
            assert!(parse_head(bad.as_bytes(), false).is_err(), "{bad}");
        }
    }

    #[test]
    fn finds_the_first_newline_anywhere() {
        for len in 0..40 {
            for at in 0..=len {
                let mut data = vec![b'a'; len];
                let expected = (at < len).then(|| {
                    data[at] = b'\n';
                    at
                });
                // Bytes that differ from a newline by one bit, and a second newline after.
                if at + 1 < len {
                    data[at + 1] = if at % 2 == 0 { b'\n' } else { b'\x0b' };
                }
                for b in data.iter_mut().take(at) {
                    *b = [b'\x0b', b'\x09', b'\x8a', b'a'][*b as usize % 4];
                }
                assert_eq!(find_newline(&data), expected, "{len} {at} {data:?}");
            }
        }
    }

    #[test]
    fn decodes_chunked_bodies_fed_one_byte_at_a_time() {
        let wire = b"4\r\nWiki\r\n7;x=y\r\npedia i\r\nB\r\nn \r\nchunks.\r\n0\r\nT: 1\r\n\r\nNEXT";
        let mut decoder = ChunkedDecoder::default();
        let (mut pending, mut body, mut consumed) = (Vec::new(), 0, 0);
        for &byte in wire.iter() {
            pending.push(byte);
            let step = decoder.feed(&pending).unwrap();
            pending.drain(..step.consumed);
            consumed += step.consumed;
            body += step.body_bytes;
            if step.done {
                break;
            }
        }
        assert_eq!(body, 22);
        assert_eq!(consumed, wire.len() - 4);

        let mut decoder = ChunkedDecoder::default();
        assert!(decoder.feed(b"zz\r\n").is_err());
        let mut decoder = ChunkedDecoder::default();
        assert!(decoder.feed(b"2\r\nabXY").is_err());
    }
}
