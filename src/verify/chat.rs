//! The chat contract's cases, run against a live chat target: the events of seed 001's chat
//! (join, online_users, user_joined, send_message → new_message to the room only, user_left)
//! and bad input (missing, empty, oversized or wrong-typed fields, a second join, a message
//! before joining, an unknown event, malformed frames). After bad input the server must
//! still serve everyone else. Outcomes use the HTTP verifier's types, so reports and JUnit
//! show them the same way.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::chat::client::{Conn, Endpoint};
use crate::chat::protocol::{ChatEndpoint, Protocol};
use crate::verify::CaseOutcome;

/// How long an expected event may take.
const WAIT: Duration = Duration::from_secs(3);
/// How long to listen for events that must not come.
const QUIET: Duration = Duration::from_millis(400);

type Checked = Result<(), String>;

struct Session {
    endpoint: Endpoint,
}

impl Session {
    async fn connect(&self) -> Result<Conn, String> {
        Conn::open(&self.endpoint, None, WAIT)
            .await
            .map_err(|e| format!("connecting: {e}"))
    }

    /// Connects and joins `room` as `username`, returning the online_users it got.
    async fn joined(&self, room: &str, username: &str) -> Result<(Conn, Value), String> {
        let mut conn = self.connect().await?;
        emit(
            &mut conn,
            "join",
            &json!({"room": room, "username": username}),
        )
        .await?;
        let users = expect(&mut conn, "online_users", &format!("{username}'s join")).await?;
        Ok((conn, users))
    }
}

async fn emit(conn: &mut Conn, name: &str, data: &Value) -> Checked {
    conn.emit(name, data)
        .await
        .map_err(|e| format!("sending {name}: {e}"))
}

/// Waits for event `name`; an `error` event or anything else first is a failure.
async fn expect(conn: &mut Conn, name: &str, after: &str) -> Result<Value, String> {
    match tokio::time::timeout(WAIT, conn.next_event()).await {
        Err(_) => Err(format!(
            "no `{name}` within {} s after {after}",
            WAIT.as_secs()
        )),
        Ok(Err(err)) => Err(format!("waiting for `{name}` after {after}: {err}")),
        Ok(Ok((got, data))) if got == name => Ok(data),
        Ok(Ok((got, data))) => Err(format!(
            "expected `{name}` after {after}, got `{got}` {}",
            short(&data)
        )),
    }
}

/// Nothing may arrive for a while.
async fn expect_nothing(conn: &mut Conn, who: &str) -> Checked {
    match conn.events_within(QUIET).await {
        Ok(events) if events.is_empty() => Ok(()),
        Ok(events) => Err(format!(
            "{who} got {} event(s) meant for others: `{}` {}",
            events.len(),
            events[0].0,
            short(&events[0].1)
        )),
        Err(err) => Err(format!("{who}'s connection failed: {err}")),
    }
}

/// An `error` event with a non-empty string `error`, and nothing before it.
async fn expect_error(conn: &mut Conn, after: &str) -> Checked {
    let data = expect(conn, "error", after).await?;
    match data.get("error").and_then(Value::as_str) {
        Some(message) if !message.is_empty() => Ok(()),
        _ => Err(format!(
            "the `error` event after {after} has no non-empty string `error`: {}",
            short(&data)
        )),
    }
}

fn short(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(160) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

fn same(field: &str, got: &Value, want: &Value) -> Checked {
    if got == want {
        Ok(())
    } else {
        Err(format!("{field}: expected {want}, got {}", short(got)))
    }
}

fn users_are(data: &Value, room: &str, users: &[&str]) -> Checked {
    same("online_users", data, &json!({"room": room, "users": users}))
}

fn new_message_is(data: &Value, room: &str, sender: &str, message: &str) -> Checked {
    for (field, want) in [("room", room), ("sender", sender), ("message", message)] {
        same(
            &format!("new_message.{field}"),
            data.get(field).unwrap_or(&Value::Null),
            &json!(want),
        )?;
    }
    let timestamp = data.get("timestamp").and_then(Value::as_str).unwrap_or("");
    chrono::DateTime::parse_from_rfc3339(timestamp)
        .map(|_| ())
        .map_err(|_| {
            format!(
                "new_message.timestamp is not an ISO 8601 time: {}",
                short(data)
            )
        })
}

/// One case: its id, description and what it found.
fn outcome(id: &str, description: &str, started: Instant, checked: Checked) -> CaseOutcome {
    let failures: Vec<String> = checked.err().into_iter().collect();
    CaseOutcome {
        id: id.into(),
        workload: "chat".into(),
        description: description.into(),
        passed: failures.is_empty(),
        failures,
        status: None,
        elapsed_ms: started.elapsed().as_secs_f64() * 1000.0,
    }
}

/// Malformed frames of each protocol: cut-off JSON, wrong packet types, wrong shapes.
fn malformed_frames(protocol: Protocol) -> Vec<&'static str> {
    match protocol {
        Protocol::Socketio => vec![
            r#"42["send_message""#,
            r#"42{"message":"not an array"}"#,
            "42[17]",
            "4garbage",
            "9",
            "",
        ],
        Protocol::Json | Protocol::Http => vec![
            "{not json",
            "[]",
            r#"{"event": 5}"#,
            r#"{"data": {"message": "no event"}}"#,
            "",
        ],
    }
}

/// Runs every chat case against the target listening on 127.0.0.1:`port`.
pub async fn verify_chat(port: u16, endpoint: &ChatEndpoint) -> Vec<CaseOutcome> {
    let session = Session {
        endpoint: Endpoint {
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
            path: endpoint.path.clone(),
            protocol: endpoint.protocol,
        },
    };
    let mut outcomes = Vec::new();
    let mut case = |id: &str, description: &str, started: Instant, checked: Checked| {
        outcomes.push(outcome(id, description, started, checked));
    };

    // alice and bob in room-a, carol in room-b: the room every later case relies on.
    let t = Instant::now();
    let alice = session.joined("room-a", "alice").await;
    let first = match &alice {
        Ok((_, users)) => users_are(users, "room-a", &["alice"]),
        Err(err) => Err(err.clone()),
    };
    case(
        "chat.join",
        "join {room, username} answers online_users {room, users} to the joiner",
        t,
        first,
    );
    let Ok((mut alice, _)) = alice else {
        return outcomes;
    };

    let t = Instant::now();
    let mut bob = None;
    let checked = async {
        let (mut b, users) = session.joined("room-a", "bob").await?;
        users_are(&users, "room-a", &["alice", "bob"])?;
        let joined = expect(&mut alice, "user_joined", "bob's join").await?;
        same(
            "user_joined",
            &joined,
            &json!({"room": "room-a", "username": "bob"}),
        )?;
        let users = expect(&mut alice, "online_users", "bob's join").await?;
        users_are(&users, "room-a", &["alice", "bob"])?;
        expect_nothing(&mut b, "bob (no user_joined for himself)").await?;
        bob = Some(b);
        Ok(())
    }
    .await;
    case(
        "chat.user_joined",
        "a second member: user_joined to the others, online_users (in join order) to the whole room",
        t,
        checked,
    );

    let t = Instant::now();
    let mut carol = None;
    let checked = async {
        let (c, users) = session.joined("room-b", "carol").await?;
        users_are(&users, "room-b", &["carol"])?;
        expect_nothing(&mut alice, "alice (carol joined another room)").await?;
        carol = Some(c);
        Ok(())
    }
    .await;
    case(
        "chat.rooms_are_apart",
        "a join in another room reaches nobody in this one",
        t,
        checked,
    );

    let t = Instant::now();
    let checked = async {
        let (Some(b), Some(c)) = (bob.as_mut(), carol.as_mut()) else {
            return Err("needs bob and carol from the cases above".to_string());
        };
        emit(
            &mut alice,
            "send_message",
            &json!({"message": "hello room-a"}),
        )
        .await?;
        let to_alice = expect(&mut alice, "new_message", "alice's message").await?;
        new_message_is(&to_alice, "room-a", "alice", "hello room-a")?;
        let to_bob = expect(b, "new_message", "alice's message").await?;
        new_message_is(&to_bob, "room-a", "alice", "hello room-a")?;
        expect_nothing(c, "carol (in room-b)").await
    }
    .await;
    case(
        "chat.message_to_room_only",
        "send_message {message}: new_message {room, sender, message, timestamp} to every member of the room, the sender included, and to no one else",
        t,
        checked,
    );

    // Bad input, each answered by an `error` event to the sender only.
    let bad: [(&str, &str, &str, Value); 9] = [
        (
            "chat.join_missing_fields",
            "join {} is refused",
            "join",
            json!({}),
        ),
        (
            "chat.join_wrong_types",
            "join with a number room and an array username is refused",
            "join",
            json!({"room": 5, "username": ["x"]}),
        ),
        (
            "chat.join_not_an_object",
            "join \"lobby\" (a bare string, as in the seed's join(username)) is refused",
            "join",
            json!("lobby"),
        ),
        (
            "chat.join_empty_name",
            "join with an empty username is refused",
            "join",
            json!({"room": "room-c", "username": ""}),
        ),
        (
            "chat.join_oversized_name",
            "a 65-character username is refused",
            "join",
            json!({"room": "room-c", "username": "u".repeat(65)}),
        ),
        (
            "chat.message_before_join",
            "send_message before any join is refused",
            "send_message",
            json!({"message": "too early"}),
        ),
        (
            "chat.unknown_event_unjoined",
            "an unknown event is refused",
            "fly",
            json!({"to": "moon"}),
        ),
        (
            "chat.join_null",
            "join with no data is refused",
            "join",
            Value::Null,
        ),
        (
            "chat.message_not_an_object",
            "send_message with a number is refused before joining too",
            "send_message",
            json!(42),
        ),
    ];
    let t = Instant::now();
    let mut dave = session.connect().await;
    let connected = dave.as_ref().map(|_| ()).map_err(Clone::clone);
    case(
        "chat.connect",
        "a client that has not joined stays connected",
        t,
        connected,
    );
    if let Ok(dave) = dave.as_mut() {
        for (id, description, event, data) in bad {
            let t = Instant::now();
            let checked = async {
                emit(dave, event, &data).await?;
                expect_error(dave, &format!("{event} {}", short(&data))).await
            }
            .await;
            case(id, description, t, checked);
        }
        let t = Instant::now();
        let checked = async {
            emit(dave, "join", &json!({"room": "room-c", "username": "dave"})).await?;
            let users = expect(dave, "online_users", "dave's join after bad input").await?;
            users_are(&users, "room-c", &["dave"])
        }
        .await;
        case(
            "chat.join_after_bad_input",
            "after refused input the same connection joins normally",
            t,
            checked,
        );
    }

    let joined_bad: [(&str, &str, &str, Value); 6] = [
        (
            "chat.message_missing_field",
            "send_message {} is refused",
            "send_message",
            json!({}),
        ),
        (
            "chat.message_empty",
            "an empty message is refused",
            "send_message",
            json!({"message": ""}),
        ),
        (
            "chat.message_wrong_type",
            "a number message is refused",
            "send_message",
            json!({"message": 42}),
        ),
        (
            "chat.message_oversized",
            "a 1001-character message is refused",
            "send_message",
            json!({"message": "m".repeat(1001)}),
        ),
        (
            "chat.second_join",
            "a second join on a joined connection is refused",
            "join",
            json!({"room": "room-b", "username": "alice"}),
        ),
        (
            "chat.unknown_event",
            "an unknown event from a joined member is refused",
            "typing",
            json!({"room": "room-a"}),
        ),
    ];
    for (id, description, event, data) in joined_bad {
        let t = Instant::now();
        let checked = async {
            emit(&mut alice, event, &data).await?;
            expect_error(&mut alice, &format!("{event} {}", short(&data))).await?;
            match bob.as_mut() {
                Some(b) => expect_nothing(b, "bob (alice's input was refused)").await,
                None => Ok(()),
            }
        }
        .await;
        case(id, description, t, checked);
    }

    let t = Instant::now();
    let checked = async {
        let mut eve = session.connect().await?;
        for frame in malformed_frames(session.endpoint.protocol) {
            // The server may close this connection; sending then fails, which is fine.
            if eve.send_text(frame.to_string()).await.is_err() {
                break;
            }
        }
        let _ = eve.events_within(QUIET).await;
        let (mut frank, _) = session.joined("room-a", "frank").await?;
        let _ = expect(&mut alice, "user_joined", "frank's join").await?;
        let _ = expect(&mut alice, "online_users", "frank's join").await?;
        if let Some(b) = bob.as_mut() {
            let _ = b.events_within(QUIET).await;
        }
        emit(
            &mut alice,
            "send_message",
            &json!({"message": "still here"}),
        )
        .await?;
        let to_frank = expect(&mut frank, "new_message", "alice's message").await?;
        new_message_is(&to_frank, "room-a", "alice", "still here")?;
        let to_alice = expect(&mut alice, "new_message", "alice's message").await?;
        new_message_is(&to_alice, "room-a", "alice", "still here")?;
        if let Some(b) = bob.as_mut() {
            let _ = expect(b, "new_message", "alice's message").await?;
        }
        frank.close().await;
        let _ = expect(&mut alice, "user_left", "frank's disconnect").await?;
        let _ = expect(&mut alice, "online_users", "frank's disconnect").await?;
        if let Some(b) = bob.as_mut() {
            let _ = b.events_within(QUIET).await;
        }
        match crate::runtime::probe_status(port).await {
            Ok(200) => Ok(()),
            Ok(code) => Err(format!(
                "GET /status answered {code} after malformed frames"
            )),
            Err(err) => Err(format!("GET /status failed after malformed frames: {err}")),
        }
    }
    .await;
    case(
        "chat.malformed_frames",
        "malformed frames may close that connection, but the server serves everyone else",
        t,
        checked,
    );

    let t = Instant::now();
    let checked = async {
        let Some(b) = bob.take() else {
            return Err("needs bob from the cases above".to_string());
        };
        b.close().await;
        let left = expect(&mut alice, "user_left", "bob's disconnect").await?;
        same(
            "user_left",
            &left,
            &json!({"room": "room-a", "username": "bob"}),
        )?;
        let users = expect(&mut alice, "online_users", "bob's disconnect").await?;
        users_are(&users, "room-a", &["alice"])?;
        match carol.as_mut() {
            Some(c) => expect_nothing(c, "carol (in room-b)").await,
            None => Ok(()),
        }
    }
    .await;
    case(
        "chat.user_left",
        "a disconnect: user_left {room, username} to the others, then online_users without them",
        t,
        checked,
    );
    if let Some(c) = carol {
        c.close().await;
    }
    alice.close().await;
    outcomes
}
