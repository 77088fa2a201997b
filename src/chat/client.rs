//! One chat connection: TCP to 127.0.0.1, the WebSocket upgrade, the protocol's own
//! handshake (Socket.IO: open packet, namespace connect), then events in and out. Pings are
//! answered here, so callers only see events.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use super::protocol::{Incoming, Protocol};

/// A chat server to connect to: always a loopback address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub addr: SocketAddr,
    /// Path and query of the WebSocket, e.g. `/socket.io/?EIO=4&transport=websocket`.
    pub path: String,
    pub protocol: Protocol,
}

/// Why a connection failed, by the stage it failed in.
#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    #[error("connect: {0}")]
    Connect(io::Error),
    #[error("WebSocket upgrade: {0}")]
    Upgrade(String),
    #[error("protocol: {0}")]
    Protocol(String),
    #[error("the server closed the connection")]
    Closed,
    #[error("timed out waiting for {0}")]
    Timeout(String),
    #[error("connection: {0}")]
    Io(String),
    #[error("refusing to connect to {0}: chat traffic goes to loopback addresses only")]
    NotLoopback(SocketAddr),
}

impl ChatError {
    /// A short name for counting failures by kind.
    pub fn kind(&self) -> &'static str {
        match self {
            ChatError::Connect(_) => "connect",
            ChatError::Upgrade(_) => "upgrade",
            ChatError::Protocol(_) => "protocol",
            ChatError::Closed => "closed",
            ChatError::Timeout(_) => "timeout",
            ChatError::Io(_) => "io",
            ChatError::NotLoopback(_) => "refused",
        }
    }
}

/// Small buffers: tungstenite's defaults (128 KiB each way) would cost gigabytes at
/// 100,000 connections and decide the generator's capacity instead of the server's.
fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0)
        .max_write_buffer_size(1 << 20)
        .max_message_size(Some(1 << 20))
        .max_frame_size(Some(1 << 20))
}

/// Linux's IP_BIND_ADDRESS_NO_PORT: bind a source address without reserving a port, so
/// the 4-tuple picks it at connect time and each source address has the whole port range.
const IP_BIND_ADDRESS_NO_PORT: libc::c_int = 24;

/// Opens a TCP connection to `addr`, from `source` when given (another loopback address,
/// so more connections than one address's ephemeral ports can be opened).
async fn tcp_connect(addr: SocketAddr, source: Option<IpAddr>) -> io::Result<TcpStream> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    if let Some(source) = source {
        use std::os::fd::AsRawFd;
        let one: libc::c_int = 1;
        // SAFETY: setsockopt reads `one` for the length given; the fd is ours and open.
        unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                libc::IPPROTO_IP,
                IP_BIND_ADDRESS_NO_PORT,
                (&raw const one).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
        }
        socket.bind(SocketAddr::new(source, 0))?;
    }
    let stream = socket.connect(addr).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// The most bytes an idle connection's one answer may have (headers and body).
const IDLE_ANSWER_LIMIT: usize = 64 * 1024;

/// Opens a plain HTTP/1.1 keep-alive connection to `endpoint` (its `path` is the request's),
/// sends one `GET`, and reads its answer, which must be a 200 with a `Content-Length` body:
/// the connection is then open and idle, as a keep-alive client between requests holds it.
pub async fn open_idle_http(
    endpoint: &Endpoint,
    source: Option<IpAddr>,
    timeout: Duration,
) -> Result<TcpStream, ChatError> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    if !endpoint.addr.ip().is_loopback() {
        return Err(ChatError::NotLoopback(endpoint.addr));
    }
    let work = async {
        let mut stream = tcp_connect(endpoint.addr, source)
            .await
            .map_err(ChatError::Connect)?;
        let request = idle_request(endpoint);
        stream
            .write_all(request.as_bytes())
            .await
            .map_err(|e| ChatError::Io(e.to_string()))?;
        let mut answer = Vec::with_capacity(512);
        let mut chunk = [0u8; 1024];
        loop {
            let read = stream
                .read(&mut chunk)
                .await
                .map_err(|e| ChatError::Io(e.to_string()))?;
            if read == 0 {
                return Err(ChatError::Closed);
            }
            answer.extend_from_slice(&chunk[..read]);
            if let Some(done) = idle_answer_complete(&answer)? {
                return if done {
                    Ok(stream)
                } else {
                    Err(ChatError::Protocol(format!(
                        "expected a 200, got `{}`",
                        String::from_utf8_lossy(
                            answer.split(|b| *b == b'\r').next().unwrap_or(&[])
                        )
                    )))
                };
            }
            if answer.len() > IDLE_ANSWER_LIMIT {
                return Err(ChatError::Protocol(format!(
                    "an answer over {IDLE_ANSWER_LIMIT} bytes"
                )));
            }
        }
    };
    tokio::time::timeout(timeout, work)
        .await
        .unwrap_or_else(|_| Err(ChatError::Timeout("the HTTP answer".into())))
}

/// The request an idle keep-alive connection sends: the endpoint's path, kept alive.
pub fn idle_request(endpoint: &Endpoint) -> String {
    format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nConnection: keep-alive\r\n\r\n",
        endpoint.path, endpoint.addr
    )
}

/// Whether `answer` holds a whole HTTP response: `Some(true)` for a complete 200,
/// `Some(false)` for a complete other status, `None` while more is to come. An answer
/// without `Content-Length` cannot be told complete on a kept-alive connection.
pub fn idle_answer_complete(answer: &[u8]) -> Result<Option<bool>, ChatError> {
    let Some(end) = answer.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Ok(None);
    };
    let head = String::from_utf8_lossy(&answer[..end]);
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap_or_default();
    let ok = status.split_whitespace().nth(1) == Some("200");
    let length = lines
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse::<usize>().ok());
    let Some(length) = length else {
        return Err(ChatError::Protocol(format!(
            "`{status}` without Content-Length: cannot keep the connection alive and idle"
        )));
    };
    Ok((answer.len() >= end + 4 + length).then_some(ok))
}

/// An open chat connection, past the protocol's handshake.
pub struct Conn {
    ws: WebSocketStream<TcpStream>,
    protocol: Protocol,
}

impl Conn {
    /// Connects, upgrades to a WebSocket and completes the protocol's handshake within
    /// `timeout`.
    pub async fn open(
        endpoint: &Endpoint,
        source: Option<IpAddr>,
        timeout: Duration,
    ) -> Result<Conn, ChatError> {
        if !endpoint.addr.ip().is_loopback() {
            return Err(ChatError::NotLoopback(endpoint.addr));
        }
        let work = async {
            let stream = tcp_connect(endpoint.addr, source)
                .await
                .map_err(ChatError::Connect)?;
            let url = format!("ws://{}{}", endpoint.addr, endpoint.path);
            let (ws, _) =
                tokio_tungstenite::client_async_with_config(url, stream, Some(ws_config()))
                    .await
                    .map_err(|e| ChatError::Upgrade(e.to_string()))?;
            let mut conn = Conn {
                ws,
                protocol: endpoint.protocol,
            };
            conn.handshake().await?;
            Ok(conn)
        };
        tokio::time::timeout(timeout, work)
            .await
            .unwrap_or_else(|_| Err(ChatError::Timeout("the connection handshake".into())))
    }

    async fn handshake(&mut self) -> Result<(), ChatError> {
        let Some(connect) = self.protocol.connect_frame() else {
            return Ok(());
        };
        match self.recv_frame().await? {
            Some(Incoming::Open { .. }) => {}
            Some(other) => {
                return Err(ChatError::Protocol(format!(
                    "expected the Engine.IO open packet, got {other:?}"
                )));
            }
            None => return Err(ChatError::Closed),
        }
        self.send_text(connect.to_string()).await?;
        loop {
            match self.recv_frame().await? {
                Some(Incoming::Connected) => return Ok(()),
                Some(Incoming::ConnectError(why)) => {
                    return Err(ChatError::Protocol(format!("namespace refused: {why}")));
                }
                Some(Incoming::Ping | Incoming::Other) => {}
                Some(other) => {
                    return Err(ChatError::Protocol(format!(
                        "expected the Socket.IO connect answer, got {other:?}"
                    )));
                }
                None => return Err(ChatError::Closed),
            }
        }
    }

    /// Sends one raw text frame (bad-input checks send malformed ones on purpose).
    pub async fn send_text(&mut self, text: String) -> Result<(), ChatError> {
        self.ws
            .send(Message::text(text))
            .await
            .map_err(|e| ChatError::Io(e.to_string()))
    }

    /// Sends an event.
    pub async fn emit(&mut self, name: &str, data: &Value) -> Result<(), ChatError> {
        let frame = self.protocol.event(name, data);
        self.send_text(frame).await
    }

    /// The next meaningful frame, answering pings on the way; `None` once the server closed
    /// the connection.
    pub async fn recv_frame(&mut self) -> Result<Option<Incoming>, ChatError> {
        loop {
            let message = match self.ws.next().await {
                None => return Ok(None),
                Some(Ok(message)) => message,
                Some(Err(err)) => return Err(ChatError::Io(err.to_string())),
            };
            match message {
                Message::Text(text) => match self.protocol.decode(text.as_str()) {
                    Incoming::Ping => self.send_text(self.protocol.pong().to_string()).await?,
                    incoming => return Ok(Some(incoming)),
                },
                Message::Close(_) => return Ok(None),
                // WebSocket pings are answered by tungstenite itself; binary frames are
                // not part of either protocol's text events.
                _ => {}
            }
        }
    }

    /// The next event, skipping protocol noise; an error once the connection closed.
    pub async fn next_event(&mut self) -> Result<(String, Value), ChatError> {
        loop {
            match self.recv_frame().await? {
                Some(Incoming::Event { name, data }) => return Ok((name, data)),
                Some(Incoming::Closed) | None => return Err(ChatError::Closed),
                Some(Incoming::Malformed(why)) => return Err(ChatError::Protocol(why)),
                Some(_) => {}
            }
        }
    }

    /// Events until one called `name` arrives (returned last), within `timeout`.
    pub async fn events_until(
        &mut self,
        name: &str,
        timeout: Duration,
    ) -> Result<Vec<(String, Value)>, ChatError> {
        let work = async {
            let mut seen = Vec::new();
            loop {
                let event = self.next_event().await?;
                let found = event.0 == name;
                seen.push(event);
                if found {
                    return Ok(seen);
                }
            }
        };
        tokio::time::timeout(timeout, work)
            .await
            .unwrap_or_else(|_| Err(ChatError::Timeout(format!("`{name}`"))))
    }

    /// Every event that arrives within `window` (for checking that nothing else came).
    pub async fn events_within(
        &mut self,
        window: Duration,
    ) -> Result<Vec<(String, Value)>, ChatError> {
        let mut seen = Vec::new();
        let deadline = tokio::time::Instant::now() + window;
        loop {
            match tokio::time::timeout_at(deadline, self.next_event()).await {
                Err(_) => return Ok(seen),
                Ok(Ok(event)) => seen.push(event),
                Ok(Err(err)) => return Err(err),
            }
        }
    }

    /// Closes the WebSocket politely (the server sees a disconnect at once).
    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_idle_connection_is_open_once_its_200_and_whole_body_arrived() {
        let head =
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\ncontent-length: 4\r\n\r\n";
        assert_eq!(idle_answer_complete(&head[..20]).unwrap(), None);
        assert_eq!(idle_answer_complete(head).unwrap(), None, "body to come");
        let whole = [&head[..], b"{}{}"].concat();
        assert_eq!(idle_answer_complete(&whole).unwrap(), Some(true));
        let missing = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
        assert_eq!(idle_answer_complete(missing).unwrap(), Some(false));
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
        let err = idle_answer_complete(chunked).unwrap_err().to_string();
        assert!(err.contains("Content-Length"), "{err}");
    }

    #[tokio::test]
    async fn an_idle_http_connection_sends_one_request_and_stays_open() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = vec![0u8; 1024];
            let read = socket.read(&mut request).await.unwrap();
            socket
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                .await
                .unwrap();
            // Nothing else arrives while the client holds the connection.
            let more =
                tokio::time::timeout(Duration::from_millis(200), socket.read(&mut [0u8; 8])).await;
            (
                String::from_utf8_lossy(&request[..read]).to_string(),
                more.is_err(),
            )
        });
        let endpoint = Endpoint {
            addr,
            path: "/status".into(),
            protocol: Protocol::Http,
        };
        let stream = open_idle_http(&endpoint, None, Duration::from_secs(2))
            .await
            .unwrap();
        let (request, quiet) = server.await.unwrap();
        assert!(request.starts_with("GET /status HTTP/1.1\r\n"), "{request}");
        assert!(request.contains("Connection: keep-alive"), "{request}");
        assert!(quiet, "the client sent more than one request");
        drop(stream);
    }

    #[tokio::test]
    async fn refuses_a_non_loopback_endpoint_without_connecting() {
        let endpoint = Endpoint {
            addr: "192.0.2.1:80".parse().unwrap(),
            path: "/".into(),
            protocol: Protocol::Json,
        };
        let err = Conn::open(&endpoint, None, Duration::from_secs(1))
            .await
            .err()
            .expect("must refuse");
        assert_eq!(err.kind(), "refused");
    }

    /// A minimal Socket.IO-speaking server on tokio-tungstenite: open packet, connect, then
    /// echoes every event back as `echo` after sending a ping first.
    async fn tiny_socketio_server() -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut ws = tokio_tungstenite::accept_async(stream).await.unwrap();
                    ws.send(Message::text(r#"0{"sid":"s","pingInterval":25000}"#))
                        .await
                        .unwrap();
                    while let Some(Ok(Message::Text(text))) = ws.next().await {
                        if text.as_str() == "40" {
                            ws.send(Message::text(r#"40{"sid":"n"}"#)).await.unwrap();
                            ws.send(Message::text("2")).await.unwrap();
                        } else if text.as_str() == "3" {
                            ws.send(Message::text(r#"42["pong_seen"]"#)).await.unwrap();
                        } else if let Incoming::Event { data, .. } =
                            Protocol::Socketio.decode(text.as_str())
                        {
                            let reply = Protocol::Socketio.event("echo", &data);
                            ws.send(Message::text(reply)).await.unwrap();
                        }
                    }
                });
            }
        });
        addr
    }

    #[tokio::test]
    async fn socketio_handshake_answers_pings_and_round_trips_events() {
        let addr = tiny_socketio_server().await;
        let endpoint = Endpoint {
            addr,
            path: "/socket.io/?EIO=4&transport=websocket".into(),
            protocol: Protocol::Socketio,
        };
        let source = Some("127.0.0.2".parse().unwrap());
        let mut conn = Conn::open(&endpoint, source, Duration::from_secs(5))
            .await
            .expect("handshake");
        // The server pinged right after connecting; our pong comes back as an event.
        let (name, _) = conn.next_event().await.unwrap();
        assert_eq!(name, "pong_seen");
        conn.emit("join", &serde_json::json!({"room": "r"}))
            .await
            .unwrap();
        let events = conn
            .events_until("echo", Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(events, [("echo".into(), serde_json::json!({"room": "r"}))]);
        conn.close().await;
    }
}
