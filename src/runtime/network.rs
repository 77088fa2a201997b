//! The network between the load generator and a target, measured before timing (issue 16,
//! item 4): with the target on another host, the link can set the pace instead of the
//! server, and a slow round trip inflates every latency figure. Two figures are taken with
//! the target idle and ready: the TCP round trip (the time a connect takes: one SYN and its
//! SYN-ACK), and the median `GET /status` over one kept-alive connection. After a trial the
//! bytes per second it moved are held against the link's speed, when the link has one.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Round trips and requests taken per figure: enough for a steady median on an idle target,
/// few enough to add well under a second before the first trial.
pub const SAMPLES: usize = 20;

/// The share of a link's speed above which the network, not the server, may set the pace.
pub const LINK_BUSY_SHARE: f64 = 0.7;

/// What was measured between the generator and a target before timing it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NetworkCheck {
    /// The address the target was reached at.
    pub address: String,
    /// Median TCP connect time, microseconds: the network round trip plus the kernel's
    /// accept.
    pub round_trip_us: f64,
    /// Median `GET /status` over one kept-alive connection, idle target, microseconds.
    pub idle_status_p50_us: f64,
    pub samples: usize,
    /// The speed of the interface the target is reached through, bits per second; absent
    /// on loopback and where the kernel does not report it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_bits_per_sec: Option<u64>,
}

/// Measures the round trip to `host`:`port` and the idle `/status` median there.
pub async fn check(host: IpAddr, port: u16) -> std::io::Result<NetworkCheck> {
    let limit = Duration::from_secs(5);
    let measure = async {
        let mut connects = Vec::with_capacity(SAMPLES);
        for _ in 0..SAMPLES {
            let at = Instant::now();
            let stream = TcpStream::connect((host, port)).await?;
            connects.push(at.elapsed().as_secs_f64() * 1e6);
            drop(stream);
        }
        let mut stream = TcpStream::connect((host, port)).await?;
        stream.set_nodelay(true)?;
        let request = format!("GET /status HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n");
        let mut requests = Vec::with_capacity(SAMPLES);
        for _ in 0..SAMPLES {
            let at = Instant::now();
            stream.write_all(request.as_bytes()).await?;
            read_response(&mut stream).await?;
            requests.push(at.elapsed().as_secs_f64() * 1e6);
        }
        Ok::<_, std::io::Error>(NetworkCheck {
            address: host.to_string(),
            round_trip_us: median(&mut connects),
            idle_status_p50_us: median(&mut requests),
            samples: SAMPLES,
            link_bits_per_sec: link_speed(host),
        })
    };
    tokio::time::timeout(limit, measure)
        .await
        .unwrap_or_else(|_| Err(std::io::ErrorKind::TimedOut.into()))
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

/// Reads one HTTP/1.1 response with a `Content-Length` (what every target's `/status`
/// sends) or chunked framing.
async fn read_response(stream: &mut TcpStream) -> std::io::Result<()> {
    let mut buffer = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    let head_end = loop {
        if let Some(end) = find(&buffer, b"\r\n\r\n") {
            break end + 4;
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buffer.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).to_ascii_lowercase();
    let length = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok());
    let complete = |buffer: &[u8]| match length {
        Some(length) => buffer.len() >= head_end + length,
        None => find(&buffer[head_end..], b"0\r\n\r\n").is_some(),
    };
    while !complete(&buffer) {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
    Ok(())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The speed of the interface this host reaches `host` through, in bits per second, from
/// the kernel (`/sys/class/net/IFACE/speed`, in Mbit/s). None on loopback: it has no speed
/// worth holding a server to.
pub fn link_speed(host: IpAddr) -> Option<u64> {
    if host.is_loopback() {
        return None;
    }
    // A UDP "connect" sends nothing; it only asks the kernel which local address routes there.
    let socket = std::net::UdpSocket::bind(if host.is_ipv4() {
        "0.0.0.0:0"
    } else {
        "[::]:0"
    })
    .ok()?;
    socket.connect((host, 9)).ok()?;
    let local = socket.local_addr().ok()?.ip();
    let name = interface_of(local)?;
    let text = std::fs::read_to_string(format!("/sys/class/net/{name}/speed")).ok()?;
    let mbit: i64 = text.trim().parse().ok()?;
    (mbit > 0).then(|| mbit as u64 * 1_000_000)
}

/// The name of the interface holding local address `address`.
fn interface_of(address: IpAddr) -> Option<String> {
    let mut list: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `list` with a linked list we free below and only read before.
    if unsafe { libc::getifaddrs(&mut list) } != 0 {
        return None;
    }
    let mut found = None;
    let mut entry = list;
    while !entry.is_null() {
        // SAFETY: `entry` is a node of the list getifaddrs returned, not yet freed.
        let ifa = unsafe { &*entry };
        entry = ifa.ifa_next;
        if ifa.ifa_addr.is_null() {
            continue;
        }
        // SAFETY: ifa_addr points to a sockaddr of the family it names.
        let ip = unsafe {
            match (*ifa.ifa_addr).sa_family as i32 {
                libc::AF_INET => {
                    let sin = &*(ifa.ifa_addr as *const libc::sockaddr_in);
                    IpAddr::from(u32::from_be(sin.sin_addr.s_addr).to_be_bytes())
                }
                libc::AF_INET6 => {
                    let sin6 = &*(ifa.ifa_addr as *const libc::sockaddr_in6);
                    IpAddr::from(sin6.sin6_addr.s6_addr)
                }
                _ => continue,
            }
        };
        if ip == address {
            // SAFETY: ifa_name is a NUL-terminated string owned by the list.
            let name = unsafe { std::ffi::CStr::from_ptr(ifa.ifa_name) };
            found = Some(name.to_string_lossy().into_owned());
            break;
        }
    }
    // SAFETY: `list` came from getifaddrs and is freed once.
    unsafe { libc::freeifaddrs(list) };
    found
}

/// A warning when a trial moved `wire_bytes` in `seconds` at a rate close to the link's
/// speed: the figures may measure the network, not the server.
pub fn bottleneck_warning(check: &NetworkCheck, wire_bytes: u64, seconds: f64) -> Option<String> {
    let link = check.link_bits_per_sec? as f64;
    if seconds <= 0.0 {
        return None;
    }
    let bits_per_sec = wire_bytes as f64 * 8.0 / seconds;
    (bits_per_sec > LINK_BUSY_SHARE * link).then(|| {
        format!(
            "the responses took {:.0} Mbit/s of a {:.0} Mbit/s link to {} ({:.0}%): the network, not the server, may have set the pace (a faster link, or a smaller response)",
            bits_per_sec / 1e6,
            link / 1e6,
            check.address,
            100.0 * bits_per_sec / link
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_on(link: Option<u64>) -> NetworkCheck {
        NetworkCheck {
            address: "10.0.0.2".into(),
            round_trip_us: 120.0,
            idle_status_p50_us: 300.0,
            samples: SAMPLES,
            link_bits_per_sec: link,
        }
    }

    #[test]
    fn a_trial_near_the_link_speed_is_warned_about() {
        // 100 MB in 10 s is 80 Mbit/s: 80% of a 100 Mbit/s link.
        let warning =
            bottleneck_warning(&check_on(Some(100_000_000)), 100_000_000, 10.0).expect("a warning");
        assert!(
            warning.contains("80 Mbit/s of a 100 Mbit/s link"),
            "{warning}"
        );
        // The same on a 1 Gbit/s link is 8%: no warning.
        assert_eq!(
            bottleneck_warning(&check_on(Some(1_000_000_000)), 100_000_000, 10.0),
            None
        );
    }

    #[test]
    fn without_a_known_link_speed_nothing_is_claimed() {
        assert_eq!(bottleneck_warning(&check_on(None), u64::MAX, 1.0), None);
        assert_eq!(link_speed(IpAddr::from([127, 0, 0, 1])), None);
    }

    #[tokio::test]
    async fn the_check_measures_round_trips_and_an_idle_status_on_loopback() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    return;
                };
                tokio::spawn(async move {
                    let mut buf = [0u8; 1024];
                    while let Ok(n) = stream.read(&mut buf).await {
                        if n == 0 {
                            return;
                        }
                        let answer = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
                        if stream.write_all(answer.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        let check = check(IpAddr::from([127, 0, 0, 1]), port).await.unwrap();
        assert!(check.round_trip_us > 0.0 && check.round_trip_us < 100_000.0);
        assert!(check.idle_status_p50_us > 0.0);
        assert_eq!(check.link_bits_per_sec, None);
    }
}
