//! Where the load goes: a URL checked to be on this machine, and the one request every
//! connection sends, serialized once.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use bytes::Bytes;
use hyper::header::HeaderValue;
use hyper::{Method, Uri};

use super::LoadError;

/// Where requests go, checked to be on this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Socket address to connect to (`localhost` becomes `127.0.0.1`).
    pub addr: SocketAddr,
    /// Value of the `Host` header: the URL's authority, e.g. `127.0.0.1:8080`.
    pub host_header: HeaderValue,
    /// Request target in origin form, e.g. `/items?limit=10`.
    pub path_and_query: Uri,
}

impl Target {
    /// Checks that `url` is a plain `http://` URL on this machine and splits it into what the
    /// generator needs.
    ///
    /// Accepted hosts are loopback IP literals (`127.0.0.0/8`, `[::1]`) and `localhost`,
    /// which is taken as `127.0.0.1` without asking a resolver. The port defaults to 80.
    ///
    /// # Errors
    ///
    /// [`LoadError::NotLoopback`] for any other host, [`LoadError::BadUrl`] for a missing or
    /// non-`http` scheme, user info, port 0 or a missing host.
    pub fn from_url(url: &Uri) -> Result<Self, LoadError> {
        let bad = |reason: &str| LoadError::BadUrl {
            url: url.to_string(),
            reason: reason.to_owned(),
        };
        match url.scheme_str() {
            Some("http") => {}
            Some("https") => {
                return Err(bad(
                    "https is not supported; the servers under test speak plain http",
                ));
            }
            Some(_) | None => return Err(bad("the URL must start with http://")),
        }
        let authority = url
            .authority()
            .ok_or_else(|| bad("the URL has no host; use http://127.0.0.1:PORT/path"))?;
        if authority.as_str().contains('@') {
            return Err(bad("user info (user@host) is not supported"));
        }
        let host = authority.host();
        let ip = if host.eq_ignore_ascii_case("localhost") {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        } else {
            let literal = host.trim_start_matches('[').trim_end_matches(']');
            match literal.parse::<IpAddr>() {
                Ok(ip) if ip.is_loopback() => ip,
                _ => {
                    return Err(LoadError::NotLoopback {
                        url: url.to_string(),
                    });
                }
            }
        };
        let port = authority.port_u16().unwrap_or(80);
        if port == 0 {
            return Err(bad("port 0 cannot be connected to"));
        }
        let host_header = HeaderValue::from_str(authority.as_str())
            .map_err(|_| bad("the host is not a valid Host header"))?;
        let path_and_query = url
            .path_and_query()
            .map_or("/", |pq| pq.as_str())
            .parse::<Uri>()
            .map_err(|_| bad("the path is not a valid request target"))?;
        Ok(Target {
            addr: SocketAddr::new(ip, port),
            host_header,
            path_and_query,
        })
    }
}

/// The request every connection sends, serialized once: request line, `Host`, `Connection:
/// close` without keep-alive, and for a body `Content-Type: application/json` and
/// `Content-Length`.
pub(super) fn serialize_request(
    method: &Method,
    target: &Target,
    body: Option<&Bytes>,
    keep_alive: bool,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(128 + body.map_or(0, Bytes::len));
    out.extend_from_slice(method.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(target.path_and_query.to_string().as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\nHost: ");
    out.extend_from_slice(target.host_header.as_bytes());
    out.extend_from_slice(b"\r\n");
    if !keep_alive {
        out.extend_from_slice(b"Connection: close\r\n");
    }
    match body {
        Some(body) => {
            out.extend_from_slice(b"Content-Type: application/json\r\nContent-Length: ");
            out.extend_from_slice(body.len().to_string().as_bytes());
            out.extend_from_slice(b"\r\n\r\n");
            out.extend_from_slice(body);
        }
        None if matches!(*method, Method::POST | Method::PUT | Method::PATCH) => {
            out.extend_from_slice(b"Content-Length: 0\r\n\r\n");
        }
        None => out.extend_from_slice(b"\r\n"),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_loopback_literals_and_localhost() {
        let target = Target::from_url(&"http://127.0.0.1:8080/a?b=c".parse().unwrap()).unwrap();
        assert_eq!(target.addr, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(target.host_header, "127.0.0.1:8080");
        assert_eq!(target.path_and_query, "/a?b=c");

        let target = Target::from_url(&"http://localhost:3000".parse().unwrap()).unwrap();
        assert_eq!(target.addr, "127.0.0.1:3000".parse().unwrap());
        assert_eq!(target.host_header, "localhost:3000");
        assert_eq!(target.path_and_query, "/");

        let target = Target::from_url(&"http://[::1]:9000/".parse().unwrap()).unwrap();
        assert_eq!(target.addr, "[::1]:9000".parse().unwrap());

        let target = Target::from_url(&"http://127.1.2.3/".parse().unwrap()).unwrap();
        assert_eq!(target.addr, "127.1.2.3:80".parse().unwrap());
    }

    #[test]
    fn rejects_urls_it_cannot_load() {
        for url in [
            "https://127.0.0.1/",
            "ftp://127.0.0.1/",
            "http://user@127.0.0.1:80/",
            "http://127.0.0.1:0/",
            "/only/a/path",
        ] {
            let error = Target::from_url(&url.parse().unwrap());
            assert!(
                matches!(error, Err(LoadError::BadUrl { .. })),
                "{url}: {error:?}"
            );
        }
    }

    #[test]
    fn serializes_the_request_once_with_host_and_body_headers() {
        let target = Target::from_url(&"http://localhost:8080/a?b=1".parse().unwrap()).unwrap();
        assert_eq!(
            serialize_request(&Method::GET, &target, None, true),
            b"GET /a?b=1 HTTP/1.1\r\nHost: localhost:8080\r\n\r\n"
        );
        assert_eq!(
            serialize_request(
                &Method::POST,
                &target,
                Some(&Bytes::from_static(b"{}")),
                true
            ),
            b"POST /a?b=1 HTTP/1.1\r\nHost: localhost:8080\r\nContent-Type: application/json\r\n\
              Content-Length: 2\r\n\r\n{}"
        );
        assert!(
            serialize_request(&Method::DELETE, &target, None, true)
                .starts_with(b"DELETE /a?b=1 HTTP/1.1\r\n")
        );
        assert!(
            serialize_request(&Method::PUT, &target, None, true)
                .ends_with(b"Content-Length: 0\r\n\r\n")
        );
    }

    #[test]
    fn without_keep_alive_every_request_asks_the_server_to_close() {
        let target = Target::from_url(&"http://127.0.0.1:8080/status".parse().unwrap()).unwrap();
        assert_eq!(
            serialize_request(&Method::GET, &target, None, false),
            b"GET /status HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nConnection: close\r\n\r\n"
        );
    }
}
