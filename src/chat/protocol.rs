//! The chat wire formats, as plain text in and out: Engine.IO v4 / Socket.IO v5 over a
//! WebSocket (what Socket.IO servers speak) and one JSON object per frame (what a Django
//! Channels consumer speaks). No I/O here, so the framing is tested on its own.

use serde_json::Value;

pub use crate::config::{ChatEndpoint, Protocol};

/// What one text frame from the server means.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// Engine.IO open packet: the session id and the server's ping interval.
    Open { sid: String, ping_interval_ms: u64 },
    /// Socket.IO connected to the default namespace.
    Connected,
    /// Socket.IO refused the namespace connection.
    ConnectError(String),
    /// Engine.IO ping: answer with [`Protocol::pong`].
    Ping,
    /// An event with its data (`Value::Null` when none was sent).
    Event { name: String, data: Value },
    /// The server closed the session (Engine.IO close or Socket.IO disconnect).
    Closed,
    /// Anything else (noop, pong, acks, frames this client does not use).
    Other,
    /// Not a valid frame of the protocol.
    Malformed(String),
}

impl Protocol {
    /// The first frame the client sends after the WebSocket opens, if the protocol has one.
    /// Socket.IO sends it after the server's open packet.
    pub fn connect_frame(self) -> Option<&'static str> {
        match self {
            Protocol::Socketio => Some("40"),
            Protocol::Json | Protocol::Http => None,
        }
    }

    /// The answer to a ping.
    pub fn pong(self) -> &'static str {
        "3"
    }

    /// An event frame.
    pub fn event(self, name: &str, data: &Value) -> String {
        match self {
            Protocol::Socketio => format!("42{}", Value::Array(vec![name.into(), data.clone()])),
            Protocol::Json | Protocol::Http => {
                serde_json::json!({"event": name, "data": data}).to_string()
            }
        }
    }

    /// Decodes one text frame from the server.
    pub fn decode(self, text: &str) -> Incoming {
        match self {
            Protocol::Socketio => decode_engine_io(text),
            Protocol::Json | Protocol::Http => decode_json(text),
        }
    }
}

fn decode_json(text: &str) -> Incoming {
    let Ok(Value::Object(mut object)) = serde_json::from_str::<Value>(text) else {
        return Incoming::Malformed(format!("not a JSON object: {}", excerpt(text)));
    };
    match object.remove("event") {
        Some(Value::String(name)) => Incoming::Event {
            name,
            data: object.remove("data").unwrap_or(Value::Null),
        },
        _ => Incoming::Malformed(format!("no string `event`: {}", excerpt(text))),
    }
}

fn decode_engine_io(text: &str) -> Incoming {
    let mut chars = text.chars();
    match chars.next() {
        Some('0') => {
            let open: Value = match serde_json::from_str(chars.as_str()) {
                Ok(open) => open,
                Err(_) => {
                    return Incoming::Malformed(format!("bad open packet: {}", excerpt(text)));
                }
            };
            Incoming::Open {
                sid: open["sid"].as_str().unwrap_or_default().to_string(),
                ping_interval_ms: open["pingInterval"].as_u64().unwrap_or(25_000),
            }
        }
        Some('1') => Incoming::Closed,
        Some('2') => Incoming::Ping,
        Some('3') | Some('5') | Some('6') => Incoming::Other,
        Some('4') => decode_socket_io(chars.as_str()),
        _ => Incoming::Malformed(format!("unknown Engine.IO packet: {}", excerpt(text))),
    }
}

/// A Socket.IO v5 packet: type digit, optional `/namespace,`, optional ack id, JSON payload.
fn decode_socket_io(packet: &str) -> Incoming {
    let mut chars = packet.chars();
    let kind = chars.next();
    let mut rest = chars.as_str();
    if rest.starts_with('/') {
        // Another namespace than "/": this client only uses the default one.
        rest = rest.split_once(',').map_or("", |(_, after)| after);
    }
    let payload = rest.trim_start_matches(|c: char| c.is_ascii_digit());
    match kind {
        Some('0') => Incoming::Connected,
        Some('1') => Incoming::Closed,
        Some('2') => match serde_json::from_str::<Value>(payload) {
            Ok(Value::Array(mut items)) if items.first().is_some_and(Value::is_string) => {
                let data = if items.len() > 1 {
                    items.swap_remove(1)
                } else {
                    Value::Null
                };
                let name = items[0].as_str().unwrap_or_default().to_string();
                Incoming::Event { name, data }
            }
            _ => Incoming::Malformed(format!("bad event packet: {}", excerpt(packet))),
        },
        Some('4') => Incoming::ConnectError(excerpt(payload)),
        Some('3') | Some('5') | Some('6') => Incoming::Other,
        _ => Incoming::Malformed(format!("unknown Socket.IO packet: {}", excerpt(packet))),
    }
}

fn excerpt(text: &str) -> String {
    const MAX: usize = 120;
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn socketio_events_are_engine_message_plus_socket_event_with_a_json_array() {
        let frame = Protocol::Socketio.event("join", &json!({"room": "r", "username": "u"}));
        assert_eq!(frame, r#"42["join",{"room":"r","username":"u"}]"#);
        assert_eq!(Protocol::Socketio.connect_frame(), Some("40"));
        assert_eq!(Protocol::Socketio.pong(), "3");
    }

    #[test]
    fn socketio_open_ping_connect_and_events_decode() {
        let p = Protocol::Socketio;
        assert_eq!(
            p.decode(r#"0{"sid":"abc","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#),
            Incoming::Open {
                sid: "abc".into(),
                ping_interval_ms: 25000
            }
        );
        assert_eq!(p.decode("2"), Incoming::Ping);
        assert_eq!(p.decode(r#"40{"sid":"x"}"#), Incoming::Connected);
        assert_eq!(
            p.decode(r#"42["online_users",{"room":"r","users":["u"]}]"#),
            Incoming::Event {
                name: "online_users".into(),
                data: json!({"room": "r", "users": ["u"]})
            }
        );
        assert_eq!(p.decode("41"), Incoming::Closed);
        assert_eq!(p.decode("1"), Incoming::Closed);
        assert_eq!(p.decode("6"), Incoming::Other);
    }

    #[test]
    fn socketio_event_with_ack_id_or_namespace_or_no_data_decodes() {
        let p = Protocol::Socketio;
        assert_eq!(
            p.decode(r#"4212["new_message",{"m":1}]"#),
            Incoming::Event {
                name: "new_message".into(),
                data: json!({"m": 1})
            }
        );
        assert_eq!(
            p.decode(r#"42/chat,["x",1]"#),
            Incoming::Event {
                name: "x".into(),
                data: json!(1)
            }
        );
        assert_eq!(
            p.decode(r#"42["ping_only"]"#),
            Incoming::Event {
                name: "ping_only".into(),
                data: Value::Null
            }
        );
    }

    #[test]
    fn malformed_socketio_frames_are_reported_not_panicked_on() {
        let p = Protocol::Socketio;
        for frame in [
            "",
            "x",
            "42",
            "42[",
            r#"42{"a":1}"#,
            "42[1,2]",
            "0{",
            "4x",
            "9",
        ] {
            assert!(
                matches!(p.decode(frame), Incoming::Malformed(_)),
                "{frame:?} -> {:?}",
                p.decode(frame)
            );
        }
        assert!(matches!(
            p.decode(r#"44{"message":"no"}"#),
            Incoming::ConnectError(_)
        ));
    }

    #[test]
    fn json_frames_carry_event_and_data() {
        let p = Protocol::Json;
        assert_eq!(p.connect_frame(), None);
        let frame = p.event("send_message", &json!({"message": "hi"}));
        assert_eq!(
            serde_json::from_str::<Value>(&frame).unwrap(),
            json!({"event": "send_message", "data": {"message": "hi"}})
        );
        assert_eq!(
            p.decode(&frame),
            Incoming::Event {
                name: "send_message".into(),
                data: json!({"message": "hi"})
            }
        );
        assert_eq!(
            p.decode(r#"{"event":"user_left"}"#),
            Incoming::Event {
                name: "user_left".into(),
                data: Value::Null
            }
        );
        for frame in ["", "[]", "{", r#"{"event":3}"#, r#"{"data":1}"#] {
            assert!(
                matches!(p.decode(frame), Incoming::Malformed(_)),
                "{frame:?}"
            );
        }
    }

    #[test]
    fn long_malformed_frames_are_shortened_in_messages() {
        let long = "x".repeat(10_000);
        let Incoming::Malformed(message) = Protocol::Json.decode(&long) else {
            panic!("must be malformed");
        };
        assert!(message.len() < 300, "{}", message.len());
    }
}
