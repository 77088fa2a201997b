//! `faceoff verify`: runs the contract's cases against a running target and checks status,
//! headers and body, as TechEmpower's verifier does, plus the orders concurrency check and a
//! `Date` header that must change over time (so no target answers from a cache).
//!
//! [`check_case`] is pure (observed response in, differences out), so the rules are tested
//! without a server; [`verify_target`] does the HTTP.

pub mod chat;
mod db;
mod fuzz;
mod raw;

// The record types live with the results; `faceoff::verify::VerifyReport` stays a name.
pub use crate::results::{CaseOutcome, TargetVerification, VerifyReport};

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use serde_json::Value;

use crate::contract::{Before, Case, Contract, Defaults, INVALID_UTF8, OVERSIZED};

/// What came back for one request.
#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    pub status: u16,
    pub content_type: Option<String>,
    /// `Content-Length` or `Transfer-Encoding` was present.
    pub framed: bool,
    pub date: Option<String>,
    /// The names of the headers present, lowercase.
    pub header_names: BTreeSet<String>,
    pub body: Vec<u8>,
    pub elapsed: Duration,
}

/// Checks one observed response against a case; returns the differences (none: passed).
pub fn check_case(case: &Case, defaults: &Defaults, observed: &Observed) -> Vec<String> {
    let expect = &case.expect;
    let mut failures = Vec::new();
    if observed.status != expect.status {
        failures.push(format!(
            "status: expected {}, got {}",
            expect.status, observed.status
        ));
    }
    let content_type = expect
        .text
        .as_ref()
        .map_or(defaults.content_type.as_str(), |text| {
            text.content_type.as_str()
        });
    match &observed.content_type {
        Some(ct) if ct.eq_ignore_ascii_case(content_type) => {}
        Some(ct) => failures.push(format!(
            "content-type: expected `{content_type}`, got `{ct}`"
        )),
        None => failures.push(format!("content-type: expected `{content_type}`, got none")),
    }
    failures.extend(header_failures(defaults, observed));
    let elapsed_ms = observed.elapsed.as_millis() as u64;
    if let Some(min) = expect.min_ms
        && elapsed_ms < min
    {
        failures.push(format!(
            "answered in {elapsed_ms} ms, expected at least {min} ms"
        ));
    }
    if let Some(max) = expect.max_ms
        && elapsed_ms > max
    {
        failures.push(format!(
            "answered in {elapsed_ms} ms, expected at most {max} ms"
        ));
    }
    if let Some(text) = &expect.text {
        failures.extend(text_body_failure(text, &observed.body));
        return failures;
    }
    let body: Value = match serde_json::from_slice(&observed.body) {
        Ok(body) => body,
        Err(_) => {
            failures.push(format!("body is not JSON: {}", excerpt(&observed.body)));
            return failures;
        }
    };
    if expect.error {
        match body.get("error") {
            Some(Value::String(s)) if !s.is_empty() => {}
            _ => failures.push(format!(
                "body has no non-empty string `error`: {}",
                shorten(&body.to_string())
            )),
        }
    }
    if let Some(expected) = &expect.json
        && let Some(diff) = first_difference(expected, &body, "", true)
    {
        failures.push(format!("body {diff}"));
    }
    if let Some(expected) = &expect.subset
        && let Some(diff) = first_difference(expected, &body, "", false)
    {
        failures.push(format!("body {diff}"));
    }
    for (pointer, json_type) in &expect.types {
        match body.pointer(pointer) {
            Some(value) if json_type.matches(value) => {}
            Some(value) => failures.push(format!(
                "body at {pointer}: expected {json_type:?}, got {}",
                shorten(&value.to_string())
            )),
            None => failures.push(format!("body has nothing at {pointer}")),
        }
    }
    for (pointer, [value, tolerance]) in &expect.close {
        match body.pointer(pointer).and_then(Value::as_f64) {
            Some(got) if (got - value).abs() <= *tolerance => {}
            Some(got) => failures.push(format!(
                "body at {pointer}: {got} is not within {tolerance} of {value}"
            )),
            None => failures.push(format!("body has no number at {pointer}")),
        }
    }
    for (pointer, expected) in &expect.lengths {
        let shown = if pointer.is_empty() { "/" } else { pointer };
        match body.pointer(pointer).and_then(Value::as_array) {
            Some(array) if array.len() == *expected => {}
            Some(array) => failures.push(format!(
                "body at {shown}: expected {expected} elements, got {}",
                array.len()
            )),
            None => failures.push(format!("body has no array at {shown}")),
        }
    }
    for (pattern, [low, high]) in &expect.ranges {
        for (pointer, value) in expand_pointer(&body, pattern) {
            match value.and_then(Value::as_i64) {
                Some(got) if (*low..=*high).contains(&got) => {}
                Some(got) => failures.push(format!(
                    "body at {pointer}: {got} is not within {low}..={high}"
                )),
                None => failures.push(format!("body has no integer at {pointer}")),
            }
        }
    }
    failures
}

/// How a text body differs from the one expected: its length, else the first byte that
/// differs (a 1 MiB file is not worth printing whole).
fn text_body_failure(text: &crate::contract::ExpectText, body: &[u8]) -> Option<String> {
    if body.len() != text.bytes {
        return Some(format!(
            "body: expected {} bytes, got {}: {}",
            text.bytes,
            body.len(),
            excerpt(body)
        ));
    }
    let expected = text.body();
    let at = expected.iter().zip(body).position(|(a, b)| a != b)?;
    Some(format!(
        "body: byte {at} differs from the expected text: {}",
        excerpt(&body[at..])
    ))
}

/// TechEmpower's header rules (`verify_headers` in its toolset), for any response: each of
/// the contract's required headers present, the body framed by `Content-Length` or
/// `Transfer-Encoding`, and a `Date` in HTTP's fixed format (`Wed, 25 Nov 2026 12:00:00 GMT`).
pub fn header_failures(defaults: &Defaults, observed: &Observed) -> Vec<String> {
    let mut failures: Vec<String> = defaults
        .required_headers
        .iter()
        .filter(|name| !observed.header_names.contains(&name.to_ascii_lowercase()))
        .map(|name| format!("required header `{name}` missing (TechEmpower's verifier fails it)"))
        .collect();
    if !observed.framed {
        failures.push("neither Content-Length nor Transfer-Encoding in the response".into());
    }
    if let Some(date) = &observed.date
        && chrono::NaiveDateTime::parse_from_str(date, "%a, %d %b %Y %H:%M:%S GMT").is_err()
    {
        failures.push(format!(
            "Date `{date}` is not in HTTP's format (`Wed, 25 Nov 2026 12:00:00 GMT`)"
        ));
    }
    failures
}

/// The values a pointer pattern names: `/a/*/b` is `/a/0/b`, `/a/1/b`… for each element of
/// the array at `/a`; a pattern without `*` is the one pointer.
fn expand_pointer<'a>(body: &'a Value, pattern: &str) -> Vec<(String, Option<&'a Value>)> {
    match pattern.split_once("/*") {
        None => vec![(pattern.to_string(), body.pointer(pattern))],
        Some((prefix, rest)) => match body.pointer(prefix).and_then(Value::as_array) {
            Some(array) => (0..array.len())
                .flat_map(|i| {
                    let pointer = format!("{prefix}/{i}{rest}");
                    let value = body.pointer(&pointer);
                    std::iter::once((pointer, value))
                })
                .collect(),
            None => vec![(
                if prefix.is_empty() { "/" } else { prefix }.to_string(),
                None,
            )],
        },
    }
}

/// The first place where `actual` differs from `expected`, or `None`. With `exact`, keys
/// `actual` has beyond `expected` count too. Numbers are compared by value (4 == 4.0).
pub fn first_difference(
    expected: &Value,
    actual: &Value,
    path: &str,
    exact: bool,
) -> Option<String> {
    let at = if path.is_empty() { "/" } else { path };
    match (expected, actual) {
        (Value::Object(want), Value::Object(got)) => {
            for (key, want_value) in want {
                let child = format!("{path}/{key}");
                match got.get(key) {
                    Some(got_value) => {
                        if let Some(diff) = first_difference(want_value, got_value, &child, exact) {
                            return Some(diff);
                        }
                    }
                    None => return Some(format!("at {child}: missing")),
                }
            }
            if exact && let Some(extra) = got.keys().find(|k| !want.contains_key(*k)) {
                return Some(format!("at {path}/{extra}: unexpected field"));
            }
            None
        }
        (Value::Array(want), Value::Array(got)) => {
            if want.len() != got.len() {
                return Some(format!(
                    "at {at}: expected {} elements, got {}",
                    want.len(),
                    got.len()
                ));
            }
            want.iter()
                .zip(got)
                .enumerate()
                .find_map(|(i, (w, g))| first_difference(w, g, &format!("{path}/{i}"), exact))
        }
        (Value::Number(want), Value::Number(got)) => {
            let equal = match (want.as_i64(), got.as_i64()) {
                (Some(w), Some(g)) => w == g,
                _ => want.as_f64() == got.as_f64(),
            };
            (!equal).then(|| format!("at {at}: expected {want}, got {got}"))
        }
        (want, got) if want == got => None,
        (want, got) => Some(format!(
            "at {at}: expected {}, got {}",
            shorten(&want.to_string()),
            shorten(&got.to_string())
        )),
    }
}

fn shorten(text: &str) -> String {
    if text.chars().count() > 120 {
        format!("{}…", text.chars().take(120).collect::<String>())
    } else {
        text.to_string()
    }
}

fn excerpt(bytes: &[u8]) -> String {
    shorten(&String::from_utf8_lossy(bytes).replace('\n', " "))
}

/// A client for contract checks: no proxy (traffic stays on 127.0.0.1), generous timeout.
pub fn client() -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
}

/// Sends one request to 127.0.0.1:`port` and records what came back.
pub async fn send(
    client: &reqwest::Client,
    port: u16,
    method: &str,
    path: &str,
    body: Option<(Vec<u8>, &str)>,
) -> Result<Observed, String> {
    let method: reqwest::Method = method
        .parse()
        .map_err(|_| format!("bad method `{method}`"))?;
    let url = format!(
        "http://{}:{port}{path}",
        crate::runtime::engines::target_host()
    );
    let mut request = client.request(method, &url);
    if let Some((bytes, content_type)) = body {
        request = request
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(bytes);
    }
    let started = Instant::now();
    let response = request.send().await.map_err(|e| describe(&e))?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.bytes().await.map_err(|e| describe(&e))?.to_vec();
    let header = |name: reqwest::header::HeaderName| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    Ok(Observed {
        status,
        content_type: header(reqwest::header::CONTENT_TYPE),
        framed: headers.contains_key(reqwest::header::CONTENT_LENGTH)
            || headers.contains_key(reqwest::header::TRANSFER_ENCODING),
        date: header(reqwest::header::DATE),
        header_names: headers
            .keys()
            .map(|name| name.as_str().to_string())
            .collect(),
        body,
        elapsed: started.elapsed(),
    })
}

fn describe(err: &reqwest::Error) -> String {
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

/// How long a raw request waits for its answer: a target that waits for a body it was
/// promised and never gets would otherwise hold the check for good.
const RAW_ANSWER_LIMIT: Duration = Duration::from_secs(10);

/// The framing of a case the HTTP client cannot send (chunked, or a length declared and not
/// sent); `None` for an ordinary request.
fn raw_framing(case: &Case) -> Option<raw::Framing> {
    if case.request.chunked {
        // Small chunks, so that the body really arrives in pieces.
        Some(raw::Framing::Chunked(4096))
    } else {
        case.request.declared_length.map(raw::Framing::Declared)
    }
}

/// The body a case sends, with its content type.
fn case_body(case: &Case, defaults: &Defaults) -> Option<(Vec<u8>, String)> {
    let content_type = case
        .request
        .content_type
        .clone()
        .unwrap_or_else(|| "application/json".into());
    if let Some(json) = &case.request.json {
        return Some((json.to_string().into_bytes(), content_type));
    }
    let body = case.request.body.as_ref()?;
    if body == OVERSIZED {
        let padding = "x".repeat(defaults.max_body_bytes + defaults.max_body_bytes / 2);
        let json = serde_json::json!({"customer_id": padding, "items": [], "total_amount": 1});
        return Some((json.to_string().into_bytes(), content_type));
    }
    if body == INVALID_UTF8 {
        let mut bytes = br#"{"customer_id":"c-"#.to_vec();
        bytes.push(0xFF);
        bytes.extend_from_slice(
            br#"","items":[{"product_id":"item1","quantity":1}],"total_amount":1}"#,
        );
        return Some((bytes, content_type));
    }
    Some((body.clone().into_bytes(), content_type))
}

async fn run_case(
    client: &reqwest::Client,
    port: u16,
    case: &Case,
    defaults: &Defaults,
) -> CaseOutcome {
    let mut outcome = CaseOutcome {
        id: case.id.clone(),
        workload: case.workload.clone(),
        description: case.description.clone(),
        passed: false,
        failures: Vec::new(),
        status: None,
        elapsed_ms: 0.0,
    };
    if case.before == Some(Before::Reset) {
        match send(client, port, "POST", "/orders/reset", None).await {
            Ok(reset) if reset.status == 200 => {}
            Ok(reset) => outcome
                .failures
                .push(format!("reset before the case answered {}", reset.status)),
            Err(err) => outcome
                .failures
                .push(format!("reset before the case failed: {err}")),
        }
    }
    let body = case_body(case, defaults);
    let answer = match raw_framing(case) {
        Some(framing) => {
            let (bytes, content_type) =
                body.unwrap_or_else(|| (Vec::new(), "application/json".into()));
            let request = raw::request_bytes(
                port,
                &case.request.method,
                &case.request.path,
                &content_type,
                &bytes,
                framing,
            );
            raw::exchange(port, &request, RAW_ANSWER_LIMIT).await
        }
        None => {
            let body = body
                .as_ref()
                .map(|(bytes, ct)| (bytes.clone(), ct.as_str()));
            send(client, port, &case.request.method, &case.request.path, body).await
        }
    };
    match answer {
        Ok(observed) => {
            outcome.status = Some(observed.status);
            outcome.elapsed_ms = observed.elapsed.as_secs_f64() * 1000.0;
            outcome
                .failures
                .extend(check_case(case, defaults, &observed));
        }
        Err(err) => outcome.failures.push(format!("request failed: {err}")),
    }
    outcome.passed = outcome.failures.is_empty();
    outcome
}

/// Runs the contract's cases for `workloads` (all when empty) against the target on `port`,
/// then the orders concurrency check when orders are included, the db rows-read check
/// (against `database_url`) when db is, then the Date check. Cases that need the services
/// stopped are left out (see [`verify_target_and_services`]).
pub async fn verify_target(
    port: u16,
    contract: &Contract,
    workloads: &[String],
    database_url: Option<&str>,
) -> Vec<CaseOutcome> {
    verify_target_and_services(port, contract, workloads, database_url, None).await
}

/// [`verify_target`], and with `services` (the target's running services, if any) the
/// cases with `before = "stop-services"` too: after every other check, the services are
/// stopped (taken out of `services`) and those cases run against the target alone.
pub async fn verify_target_and_services(
    port: u16,
    contract: &Contract,
    workloads: &[String],
    database_url: Option<&str>,
    services: Option<&mut Option<crate::runtime::services::RunningServices>>,
) -> Vec<CaseOutcome> {
    let mut outcomes = Vec::new();
    verify_cases_into(
        &mut outcomes,
        port,
        contract,
        workloads,
        database_url,
        services,
    )
    .await;
    outcomes
}

/// [`verify_target_and_services`], each outcome pushed onto `outcomes` as soon as it is
/// known: when the future is dropped (Ctrl-C), the cases run so far are kept.
async fn verify_cases_into(
    outcomes: &mut Vec<CaseOutcome>,
    port: u16,
    contract: &Contract,
    workloads: &[String],
    database_url: Option<&str>,
    services: Option<&mut Option<crate::runtime::services::RunningServices>>,
) {
    let client = match client() {
        Ok(client) => client,
        Err(err) => {
            outcomes.push(outcome_of(
                "client",
                "",
                "the HTTP client",
                vec![err.to_string()],
            ));
            return;
        }
    };
    let started = Instant::now();
    let first = send(&client, port, "GET", "/status", None).await.ok();
    let (with_services_down, cases): (Vec<&Case>, Vec<&Case>) = contract
        .cases_for(workloads)
        .into_iter()
        .partition(|case| case.before == Some(Before::StopServices));
    for case in cases {
        outcomes.push(run_case(&client, port, case, &contract.defaults).await);
    }
    let orders_included = workloads.is_empty() || workloads.iter().any(|w| w == "orders");
    if orders_included {
        outcomes.push(concurrency_check(&client, port, contract).await);
    }
    if orders_included && let Some(spec) = &contract.fuzz {
        outcomes.push(fuzz_check(&client, port, spec).await);
    }
    if orders_included && let Some(spec) = &contract.idle_connection {
        outcomes.push(idle_connection_check(&client, port, spec).await);
    }
    let db_included = workloads.is_empty() || workloads.iter().any(|w| w == "db");
    if db_included && let Some(spec) = &contract.db_reads {
        outcomes.push(db::rows_read_check(&client, port, spec, database_url).await);
    }
    if let Some(services) = services
        && !with_services_down.is_empty()
    {
        let stopped = match services.take() {
            Some(running) => running.stop().await.map_err(|err| err.to_string()),
            None => Ok(()),
        };
        for case in with_services_down {
            let mut outcome = run_case(&client, port, case, &contract.defaults).await;
            if let Err(err) = &stopped {
                outcome
                    .failures
                    .insert(0, format!("stopping the services failed: {err}"));
                outcome.passed = false;
            }
            outcomes.push(outcome);
        }
    }
    outcomes.push(date_check(&client, port, first, started).await);
}

fn outcome_of(id: &str, workload: &str, description: &str, failures: Vec<String>) -> CaseOutcome {
    CaseOutcome {
        id: id.into(),
        workload: workload.into(),
        description: description.into(),
        passed: failures.is_empty(),
        failures,
        status: None,
        elapsed_ms: 0.0,
    }
}

/// N simultaneous orders for one product after a reset: exactly stock / quantity succeed,
/// the others get 409, and the stock ends at what is left — no oversell, no lost update.
async fn concurrency_check(
    client: &reqwest::Client,
    port: u16,
    contract: &Contract,
) -> CaseOutcome {
    let spec = &contract.concurrency;
    let description = format!(
        "{} simultaneous orders of {} x {}: no oversell",
        spec.requests, spec.quantity, spec.product
    );
    let mut failures = Vec::new();
    let stock = match send(client, port, "POST", "/orders/reset", None).await {
        Ok(reset) => serde_json::from_slice::<Value>(&reset.body)
            .ok()
            .and_then(|body| {
                body.pointer(&format!("/inventory/{}", spec.product))?
                    .as_u64()
            }),
        Err(err) => {
            failures.push(format!("reset failed: {err}"));
            None
        }
    };
    let Some(stock) = stock else {
        failures.push(format!(
            "reset did not report the stock of {}",
            spec.product
        ));
        return outcome_of("orders.concurrency", "orders", &description, failures);
    };
    let order = serde_json::json!({
        "customer_id": "concurrency",
        "items": [{"product_id": spec.product, "quantity": spec.quantity}],
        "total_amount": 1,
    })
    .to_string()
    .into_bytes();
    let started = Instant::now();
    let answers = join_all((0..spec.requests).map(|_| {
        let order = order.clone();
        async move {
            send(
                client,
                port,
                "POST",
                "/orders",
                Some((order, "application/json")),
            )
            .await
        }
    }))
    .await;
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    let count = |status: u16| {
        answers
            .iter()
            .filter(|a| matches!(a, Ok(o) if o.status == status))
            .count()
    };
    let (created, conflicts) = (count(201), count(409));
    let others = spec.requests - created - conflicts;
    let expected_created = ((stock / spec.quantity) as usize).min(spec.requests);
    if created != expected_created {
        failures.push(format!(
            "{created} orders succeeded, expected exactly {expected_created} (stock {stock})"
        ));
    }
    if conflicts != spec.requests - expected_created {
        failures.push(format!(
            "{conflicts} answered 409, expected {}",
            spec.requests - expected_created
        ));
    }
    if others > 0 {
        failures.push(format!("{others} requests got neither 201 nor 409"));
    }
    match send(client, port, "GET", "/orders/inventory", None).await {
        Ok(inventory) => {
            let body: Value = serde_json::from_slice(&inventory.body).unwrap_or(Value::Null);
            let left = body
                .pointer(&format!("/inventory/{}", spec.product))
                .and_then(Value::as_i64);
            let expected_left = stock as i64 - (created as i64) * spec.quantity as i64;
            if left != Some(expected_left) {
                failures.push(format!(
                    "stock of {} is {left:?} after the orders, expected {expected_left}",
                    spec.product
                ));
            }
            let orders = body.get("orders").and_then(Value::as_u64);
            if orders != Some(created as u64) {
                failures.push(format!(
                    "the target counts {orders:?} orders, {created} succeeded"
                ));
            }
        }
        Err(err) => failures.push(format!("reading the inventory failed: {err}")),
    }
    let mut outcome = outcome_of("orders.concurrency", "orders", &description, failures);
    outcome.elapsed_ms = elapsed_ms;
    outcome
}

/// Generated bad inputs ([`fuzz::bad_inputs`]): each must be a 400 with a JSON error, so
/// every target answers each alike; and none may touch the stock.
async fn fuzz_check(
    client: &reqwest::Client,
    port: u16,
    spec: &crate::contract::Fuzz,
) -> CaseOutcome {
    // Failures listed one by one, up to this many; the rest are counted.
    const SHOWN: usize = 5;
    let description = format!(
        "{} generated bad inputs (seed {}): each a 400 with a JSON error",
        spec.inputs, spec.seed
    );
    let before = send(client, port, "GET", "/orders/inventory", None)
        .await
        .map(|o| o.body);
    let started = Instant::now();
    let mut failures = Vec::new();
    let mut failed = 0;
    for input in fuzz::bad_inputs(spec.seed, spec.inputs) {
        let body = input.body.clone().map(|b| (b, "application/json"));
        let problems = match send(client, port, input.method, &input.path, body).await {
            Ok(observed) => fuzz_answer_problems(&observed),
            Err(err) => vec![format!("request failed: {err}")],
        };
        if !problems.is_empty() {
            failed += 1;
            if failures.len() < SHOWN {
                failures.push(format!("{}: {}", input.describe(), problems.join("; ")));
            }
        }
    }
    if failed > SHOWN {
        failures.push(format!("and {} more inputs", failed - SHOWN));
    }
    let after = send(client, port, "GET", "/orders/inventory", None)
        .await
        .map(|o| o.body);
    if let (Ok(before), Ok(after)) = (&before, &after)
        && before != after
    {
        failures.push(format!(
            "the inventory changed: {} before, {} after",
            excerpt(before),
            excerpt(after)
        ));
    }
    let mut outcome = outcome_of("fuzz.bad_inputs", "orders", &description, failures);
    outcome.elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    outcome
}

/// What is wrong with a fuzz answer: anything but a 400 whose body is a JSON object with a
/// non-empty string `error`.
fn fuzz_answer_problems(observed: &Observed) -> Vec<String> {
    let mut problems = Vec::new();
    if observed.status != 400 {
        problems.push(format!("status {}, expected 400", observed.status));
    }
    let error = serde_json::from_slice::<Value>(&observed.body)
        .ok()
        .and_then(|body| {
            body.get("error")
                .and_then(Value::as_str)
                .map(str::to_string)
        });
    if error.is_none_or(|e| e.is_empty()) {
        problems.push(format!("no JSON error: {}", excerpt(&observed.body)));
    }
    problems
}

/// One client connects and sends nothing (a slow client, or one gone quiet). Meanwhile
/// another must get its answer within `max_ms`, and the target's state must survive: a
/// server that kills a stuck worker to free itself loses the stock it held in memory.
async fn idle_connection_check(
    client: &reqwest::Client,
    port: u16,
    spec: &crate::contract::IdleConnection,
) -> CaseOutcome {
    let description = format!(
        "an idle connection open: another client answered within {} ms, the stock kept",
        spec.max_ms
    );
    let outcome = |failures| {
        outcome_of(
            "slow_clients.idle_connection",
            "orders",
            &description,
            failures,
        )
    };
    // A stock no restart would give back (a restarted worker has the article's 100).
    let stock = serde_json::json!({"inventory": {"item1": 7, "item2": 0, "item3": 7}});
    let reset = send(
        client,
        port,
        "POST",
        "/orders/reset",
        Some((stock.to_string().into_bytes(), "application/json")),
    )
    .await;
    if !matches!(&reset, Ok(r) if r.status == 200) {
        return outcome(vec![format!(
            "setting the stock answered {:?}",
            reset.map(|r| r.status)
        )]);
    }
    let idle = match raw::idle_connection(port).await {
        Ok(idle) => idle,
        Err(err) => return outcome(vec![format!("opening the idle connection: {err}")]),
    };
    // Let the server accept it (a sync worker then waits on it).
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    let limit = Duration::from_millis(spec.max_ms);
    let answer =
        tokio::time::timeout(limit, send(client, port, "GET", "/orders/inventory", None)).await;
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    drop(idle);
    let mut failures = Vec::new();
    match answer {
        Err(_) => failures.push(format!(
            "GET /orders/inventory got no answer within {} ms while another connection sat idle",
            spec.max_ms
        )),
        Ok(Err(err)) => failures.push(format!("GET /orders/inventory failed: {err}")),
        Ok(Ok(inventory)) => {
            let body: Value = serde_json::from_slice(&inventory.body).unwrap_or(Value::Null);
            let left = body.pointer("/inventory/item1").and_then(Value::as_i64);
            if left != Some(7) {
                failures.push(format!(
                    "the stock of item1 is {left:?} after an idle connection, expected 7 (was the worker restarted?)"
                ));
            }
        }
    }
    let _ = send(client, port, "POST", "/orders/reset", None).await;
    let mut outcome = outcome(failures);
    outcome.elapsed_ms = elapsed_ms;
    outcome
}

/// The `Date` header must change over time: a target answering from a cache fails. Servers
/// may refresh a cached Date once a second (uvicorn and nginx do), so the check allows a few
/// seconds before it calls the header stuck.
async fn date_check(
    client: &reqwest::Client,
    port: u16,
    first: Option<Observed>,
    started: Instant,
) -> CaseOutcome {
    const GIVE_UP_AFTER: Duration = Duration::from_millis(3500);
    let description = "a Date header that changes between requests";
    let fail = |why: String| outcome_of("headers.date", "status", description, vec![why]);
    // A first request that failed says nothing about the header: ask once more, and name
    // the error if that fails too (seen once at a target's first request after it was ready).
    let first = match first {
        Some(observed) => observed,
        None => match send(client, port, "GET", "/status", None).await {
            Ok(observed) => observed,
            Err(err) => return fail(format!("GET /status failed twice: {err}")),
        },
    };
    let Some(first_date) = first.date else {
        return fail("no Date header on GET /status".into());
    };
    // Date has one-second resolution: at least a second must pass.
    let waited = started.elapsed();
    if waited < Duration::from_millis(1100) {
        tokio::time::sleep(Duration::from_millis(1100) - waited).await;
    }
    loop {
        let failure = match send(client, port, "GET", "/status", None).await {
            Ok(last) => match last.date {
                Some(date) if date != first_date => {
                    return outcome_of("headers.date", "status", description, Vec::new());
                }
                Some(date) => format!(
                    "Date stayed `{date}` over {:.1} s",
                    started.elapsed().as_secs_f64()
                ),
                None => "no Date header on GET /status".into(),
            },
            Err(err) => format!("request failed: {err}"),
        };
        if started.elapsed() >= GIVE_UP_AFTER {
            return outcome_of("headers.date", "status", description, vec![failure]);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// When a target that stopped under the contract's cases stopped.
pub const DURING_CASES: &str = "during the contract cases";

/// The services (built) every verified target runs beside, and what starts them.
pub struct VerifyServices<'a> {
    pub launcher: &'a crate::runtime::services::Launcher,
    /// Every service any target needs, built.
    pub prepared: &'a [crate::runtime::services::PreparedService],
    /// The names the verified workloads need; each target's own follow.
    pub workload_services: &'a [String],
}

/// What a target being verified when `verify` was interrupted records as its error.
pub const INTERRUPTED: &str =
    "interrupted before its cases finished: the cases run so far are kept";

/// The workloads to check on `target` out of `workloads` (all of the contract's when empty),
/// and a passed outcome for each one it refuses (fixtures/targets.toml `refuses`), naming
/// the reason: the refusal is what verify proves for those.
fn split_refused(
    target: &crate::config::Target,
    contract: &Contract,
    workloads: &[String],
) -> (Vec<String>, Vec<CaseOutcome>) {
    if target.refuses.is_empty() {
        return (workloads.to_vec(), Vec::new());
    }
    let asked: Vec<String> = if workloads.is_empty() {
        contract
            .workloads()
            .into_iter()
            .map(str::to_string)
            .collect()
    } else {
        workloads.to_vec()
    };
    let (refused, served): (Vec<String>, Vec<String>) = asked
        .into_iter()
        .partition(|workload| target.refuses.contains_key(workload));
    let outcomes = refused
        .iter()
        .map(|workload| {
            let reason = &target.refuses[workload];
            outcome_of(
                &format!("{workload}-refused"),
                workload,
                &format!("{} does not serve {workload}: {reason}", target.name),
                Vec::new(),
            )
        })
        .collect();
    (served, outcomes)
}

/// Prepares, starts and verifies each target in turn, stopping each afterwards, and pushes
/// each target's verification onto `verified` as it goes: the target under way is there
/// with the cases run so far and [`INTERRUPTED`] as its error until its last case, so a
/// dropped future (Ctrl-C) leaves everything checked so far. With `services`, each target
/// gets its own fresh set, started before it and stopped after it.
#[allow(clippy::too_many_arguments)]
pub async fn verify_all<R: crate::runtime::Runtime>(
    verified: &mut Vec<TargetVerification>,
    runtime: &R,
    targets: &[crate::config::Target],
    contract: &Contract,
    workloads: &[String],
    launch: &crate::runtime::LaunchSettings<'_>,
    services: Option<VerifyServices<'_>>,
    progress: crate::images::Progress<'_>,
) {
    use crate::runtime::Instance;
    for target in targets {
        progress(&format!("[verify] {}", target.name));
        let indented = |line: &str| progress(&format!("  {line}"));
        let mine = services
            .as_ref()
            .map(|s| {
                crate::runtime::services::select(s.prepared, s.workload_services, &target.services)
            })
            .unwrap_or_default();
        let running = match &services {
            Some(services) if !mine.is_empty() => match services
                .launcher
                .start(&mine, launch.run_id, launch.ready_timeout)
                .await
            {
                Ok(running) => Some(running),
                Err(err) => {
                    verified.push(TargetVerification::failed_to_start(
                        &target.name,
                        err.to_string(),
                    ));
                    continue;
                }
            },
            _ => None,
        };
        let mut running = running;
        let env = running.as_ref().map(|r| r.env()).unwrap_or_default();
        let instance =
            match crate::runtime::start_ready(runtime, target, launch, &env, &indented).await {
                Ok(instance) => instance,
                Err(err) => {
                    if let Some(running) = running {
                        let _ = running.stop().await;
                    }
                    verified.push(TargetVerification::failed_to_start(
                        &target.name,
                        err.to_string(),
                    ));
                    continue;
                }
            };
        let database_url = running
            .as_ref()
            .and_then(|r| r.database_url())
            .map(str::to_string);
        verified.push(TargetVerification::under_way(&target.name, INTERRUPTED));
        let under_way = verified.len() - 1;
        match &target.chat {
            // A chat server answers the chat cases; the HTTP contract is not its to serve.
            Some(chat) => {
                verified[under_way].cases = chat::verify_chat(instance.port(), chat).await;
            }
            None => {
                let (served, refused) = split_refused(target, contract, workloads);
                verified[under_way].cases.extend(refused);
                // An empty list means every workload: only for a target refusing none.
                let only_refusals = served.is_empty() && !target.refuses.is_empty();
                if !only_refusals {
                    verify_cases_into(
                        &mut verified[under_way].cases,
                        instance.port(),
                        contract,
                        &served,
                        database_url.as_deref(),
                        Some(&mut running),
                    )
                    .await;
                }
            }
        };
        let cases = std::mem::take(&mut verified[under_way].cases);
        let result = &mut verified[under_way];
        *result = TargetVerification::from_cases(&target.name, cases);
        progress(&format!(
            "  {}/{} cases passed",
            result.cases.iter().filter(|c| c.passed).count(),
            result.cases.len()
        ));
        // A target that died under the cases (killed for memory…) failed them for that
        // reason, not for its contract: the cause is the line worth reading.
        if let Ok(Some(cause)) =
            crate::runtime::exit_cause(&instance, &target.name, launch.limits, DURING_CASES).await
        {
            progress(&format!("  {cause}"));
            result.passed = false;
            result.error = Some(cause.to_string());
        }
        if let Err(err) = instance.stop().await {
            progress(&format!("  stopping {} failed: {err}", target.name));
        }
        if let Some(running) = running
            && let Err(err) = running.stop().await
        {
            progress(&format!("  stopping the services failed: {err}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::{CaseRequest, Expect, JsonType};
    use serde_json::json;

    fn defaults() -> Defaults {
        Defaults {
            content_type: "application/json; charset=utf-8".into(),
            max_body_bytes: 16,
            required_headers: vec!["Server".into(), "Date".into(), "Content-Type".into()],
        }
    }

    fn case(expect: Expect) -> Case {
        Case {
            id: "c".into(),
            workload: "w".into(),
            description: "d".into(),
            before: None,
            request: CaseRequest {
                method: "GET".into(),
                path: "/".into(),
                json: None,
                body: None,
                content_type: None,
                chunked: false,
                declared_length: None,
            },
            expect,
        }
    }

    fn expect(status: u16) -> Expect {
        Expect {
            text: None,
            status,
            error: false,
            json: None,
            subset: None,
            types: Default::default(),
            close: Default::default(),
            lengths: Default::default(),
            ranges: Default::default(),
            min_ms: None,
            max_ms: None,
        }
    }

    fn observed(status: u16, body: &str) -> Observed {
        Observed {
            status,
            content_type: Some("application/json; charset=utf-8".into()),
            framed: true,
            date: Some("Wed, 25 Nov 2026 12:00:00 GMT".into()),
            header_names: ["server", "date", "content-type", "content-length"]
                .map(String::from)
                .into(),
            body: body.as_bytes().to_vec(),
            elapsed: Duration::from_millis(5),
        }
    }

    #[test]
    fn matching_response_passes() {
        let mut e = expect(200);
        e.json = Some(json!({"n": 1, "pi": 4.0}));
        assert!(check_case(&case(e), &defaults(), &observed(200, r#"{"n":1,"pi":4}"#)).is_empty());
    }

    #[test]
    fn fastapi_style_422_is_reported_against_the_contracts_400() {
        let mut e = expect(400);
        e.error = true;
        let failures = check_case(&case(e), &defaults(), &observed(422, r#"{"detail":[]}"#));
        assert!(
            failures
                .iter()
                .any(|f| f == "status: expected 400, got 422"),
            "{failures:?}"
        );
        assert!(
            failures
                .iter()
                .any(|f| f.contains("no non-empty string `error`")),
            "{failures:?}"
        );
    }

    fn text_case(bytes: usize) -> Case {
        let mut e = expect(200);
        e.text = Some(crate::contract::ExpectText {
            content_type: "text/plain; charset=utf-8".into(),
            repeat: "ab\n".into(),
            bytes,
        });
        case(e)
    }

    fn text_observed(body: &str) -> Observed {
        let mut seen = observed(200, body);
        seen.content_type = Some("text/plain; charset=utf-8".into());
        seen
    }

    #[test]
    fn a_text_body_passes_when_it_is_the_repeated_text_at_its_length() {
        let failures = check_case(&text_case(7), &defaults(), &text_observed("ab\nab\na"));
        assert!(failures.is_empty(), "{failures:?}");
    }

    #[test]
    fn a_text_body_of_another_length_or_content_or_type_fails() {
        let short = check_case(&text_case(7), &defaults(), &text_observed("ab\nab\n"));
        assert_eq!(short.len(), 1, "{short:?}");
        assert!(
            short[0].starts_with("body: expected 7 bytes, got 6"),
            "{short:?}"
        );
        let wrong = check_case(&text_case(6), &defaults(), &text_observed("ab\nax\n"));
        assert!(wrong[0].starts_with("body: byte 4 differs"), "{wrong:?}");
        let json = check_case(&text_case(6), &defaults(), &observed(200, "ab\nab\n"));
        assert_eq!(
            json,
            [
                "content-type: expected `text/plain; charset=utf-8`, got `application/json; charset=utf-8`"
            ]
        );
    }

    #[test]
    fn content_type_must_match_exactly() {
        let mut seen = observed(200, "{}");
        seen.content_type = Some("application/json".into());
        let failures = check_case(&case(expect(200)), &defaults(), &seen);
        assert_eq!(
            failures,
            ["content-type: expected `application/json; charset=utf-8`, got `application/json`"]
        );
    }

    #[test]
    fn unframed_response_fails() {
        let mut seen = observed(200, "{}");
        seen.framed = false;
        assert_eq!(check_case(&case(expect(200)), &defaults(), &seen).len(), 1);
    }

    #[test]
    fn a_response_without_a_server_header_fails_as_techempower_fails_it() {
        let mut seen = observed(200, "{}");
        seen.header_names.remove("server");
        assert_eq!(
            check_case(&case(expect(200)), &defaults(), &seen),
            ["required header `Server` missing (TechEmpower's verifier fails it)"]
        );
    }

    #[test]
    fn an_error_response_needs_the_same_headers() {
        let mut e = expect(404);
        e.error = true;
        let mut seen = observed(404, r#"{"error":"not found"}"#);
        seen.header_names.remove("date");
        seen.date = None;
        assert_eq!(
            check_case(&case(e), &defaults(), &seen),
            ["required header `Date` missing (TechEmpower's verifier fails it)"]
        );
    }

    #[test]
    fn a_date_outside_https_format_fails() {
        let mut seen = observed(200, "{}");
        seen.date = Some("2026-11-25T12:00:00Z".into());
        let failures = check_case(&case(expect(200)), &defaults(), &seen);
        assert_eq!(failures.len(), 1, "{failures:?}");
        assert!(failures[0].contains("not in HTTP's format"), "{failures:?}");
    }

    #[test]
    fn exact_body_reports_the_first_difference_with_its_path() {
        let mut e = expect(200);
        e.json = Some(json!({"inventory": {"item1": 100}, "orders": 0}));
        let failures = check_case(
            &case(e),
            &defaults(),
            &observed(200, r#"{"inventory":{"item1":99},"orders":0}"#),
        );
        assert_eq!(failures, ["body at /inventory/item1: expected 100, got 99"]);
    }

    #[test]
    fn exact_body_refuses_extra_fields_but_subset_allows_them() {
        let mut exact = expect(200);
        exact.json = Some(json!({"a": 1}));
        let seen = observed(200, r#"{"a":1,"b":2}"#);
        assert_eq!(
            check_case(&case(exact), &defaults(), &seen),
            ["body at /b: unexpected field"]
        );
        let mut subset = expect(200);
        subset.subset = Some(json!({"a": 1}));
        assert!(check_case(&case(subset), &defaults(), &seen).is_empty());
    }

    #[test]
    fn types_close_and_timing_are_checked() {
        let mut e = expect(200);
        e.types.insert("/id".into(), JsonType::String);
        e.close.insert("/pi".into(), [2.5, 1e-3]);
        e.min_ms = Some(100);
        let failures = check_case(
            &case(e),
            &defaults(),
            &observed(200, r#"{"id":7,"pi":3.0}"#),
        );
        assert_eq!(failures.len(), 3, "{failures:?}");
        assert!(failures[0].contains("at least 100 ms"));
        assert!(failures[1].contains("/id"));
        assert!(failures[2].contains("/pi"));
    }

    #[test]
    fn array_lengths_and_ranges_of_every_element_are_checked() {
        let mut e = expect(200);
        e.lengths.insert(String::new(), 2);
        e.ranges.insert("/*/id".into(), [1, 10000]);
        let good = observed(200, r#"[{"id":1},{"id":10000}]"#);
        assert!(check_case(&case(e.clone()), &defaults(), &good).is_empty());
        let bad = observed(200, r#"[{"id":0},{"id":5},{"x":1}]"#);
        let failures = check_case(&case(e), &defaults(), &bad);
        assert_eq!(
            failures,
            [
                "body at /: expected 2 elements, got 3",
                "body at /0/id: 0 is not within 1..=10000",
                "body has no integer at /2/id",
            ]
        );
    }

    #[test]
    fn html_error_page_is_not_json() {
        let failures = check_case(
            &case(expect(404)),
            &defaults(),
            &observed(404, "<h1>Not Found</h1>"),
        );
        assert_eq!(failures, ["body is not JSON: <h1>Not Found</h1>"]);
    }

    #[test]
    fn invalid_utf8_placeholder_is_an_order_with_a_byte_that_is_not_utf8() {
        let mut c = case(expect(400));
        c.request.body = Some(INVALID_UTF8.into());
        let (bytes, _) = case_body(&c, &defaults()).unwrap();
        assert!(std::str::from_utf8(&bytes).is_err());
        let lossy = String::from_utf8_lossy(&bytes);
        assert!(serde_json::from_str::<Value>(&lossy).is_ok(), "{lossy}");
    }

    #[test]
    fn a_fuzz_answer_must_be_a_400_with_a_json_error() {
        assert!(fuzz_answer_problems(&observed(400, r#"{"error":"bad"}"#)).is_empty());
        assert_eq!(
            fuzz_answer_problems(&observed(422, r#"{"detail":[]}"#)),
            ["status 422, expected 400", "no JSON error: {\"detail\":[]}"]
        );
        assert_eq!(
            fuzz_answer_problems(&observed(400, r#"{"error":""}"#)).len(),
            1
        );
    }

    #[test]
    fn oversized_placeholder_exceeds_the_limit() {
        let mut c = case(expect(413));
        c.request.body = Some(OVERSIZED.into());
        let (bytes, content_type) = case_body(&c, &defaults()).unwrap();
        assert!(bytes.len() > defaults().max_body_bytes);
        assert_eq!(content_type, "application/json");
        assert!(serde_json::from_slice::<Value>(&bytes).is_ok());
    }
}
