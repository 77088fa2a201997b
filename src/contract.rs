//! The shared HTTP contract (`fixtures/contract.toml`): the cases every target must answer
//! identically. Plain data; `verify` runs it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::config::{ConfigError, parse_str};

/// Placeholder body replaced by a JSON object larger than the contract's body limit.
pub const OVERSIZED: &str = "{{OVERSIZED}}";

/// Placeholder body replaced by a valid order whose `customer_id` holds a byte that is not
/// UTF-8 (0xFF): a contract file is text, and cannot hold it.
pub const INVALID_UTF8: &str = "{{INVALID_UTF8}}";

/// Contract-wide settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    /// The exact Content-Type of every JSON response.
    pub content_type: String,
    /// Largest request body a target must accept; larger ones get 413.
    pub max_body_bytes: usize,
    /// Headers every response must carry, whatever its status: TechEmpower's verifier
    /// (`verify_headers`) fails a response without `Server`, `Date` or `Content-Type`, so
    /// no framework saves the bytes the others send.
    pub required_headers: Vec<String>,
}

/// The orders concurrency check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Concurrency {
    pub product: String,
    pub quantity: u64,
    pub requests: usize,
}

/// A request a case sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseRequest {
    pub method: String,
    pub path: String,
    /// A body sent as JSON.
    pub json: Option<serde_json::Value>,
    /// A raw body (for malformed input).
    pub body: Option<String>,
    /// Content-Type of the body [default: application/json].
    pub content_type: Option<String>,
    /// Send the body with `Transfer-Encoding: chunked` instead of `Content-Length`.
    #[serde(default)]
    pub chunked: bool,
    /// Declare this `Content-Length`, send only the body given (less), and wait for the
    /// answer with the connection open: a client that never sends what it declared.
    pub declared_length: Option<usize>,
}

/// The JSON type names a `types` expectation may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JsonType {
    String,
    Integer,
    Number,
    Boolean,
    Array,
    Object,
}

impl JsonType {
    /// Whether `value` is of this type (an integer is also a number).
    pub fn matches(self, value: &serde_json::Value) -> bool {
        use serde_json::Value;
        match self {
            JsonType::String => value.is_string(),
            JsonType::Integer => match value {
                Value::Number(n) => {
                    n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0)
                }
                _ => false,
            },
            JsonType::Number => value.is_number(),
            JsonType::Boolean => value.is_boolean(),
            JsonType::Array => value.is_array(),
            JsonType::Object => value.is_object(),
        }
    }
}

/// What a case expects back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    pub status: u16,
    /// The body is an object with a non-empty string field `error`.
    #[serde(default)]
    pub error: bool,
    /// The exact body (numbers compared by value: 4 equals 4.0).
    pub json: Option<serde_json::Value>,
    /// These keys, recursively, with these values.
    pub subset: Option<serde_json::Value>,
    /// JSON pointer -> type.
    #[serde(default)]
    pub types: BTreeMap<String, JsonType>,
    /// JSON pointer -> [value, tolerance].
    #[serde(default)]
    pub close: BTreeMap<String, [f64; 2]>,
    /// JSON pointer -> the length of the array there ("" is the whole body).
    #[serde(default)]
    pub lengths: BTreeMap<String, usize>,
    /// JSON pointer -> [low, high]: an integer within these bounds, inclusive. A pointer
    /// ending in `/*` applies to every element of the array before it.
    #[serde(default)]
    pub ranges: BTreeMap<String, [i64; 2]>,
    /// Fewest milliseconds to the full response.
    pub min_ms: Option<u64>,
    /// Most milliseconds to the full response.
    pub max_ms: Option<u64>,
    /// A body that is not JSON (the file I/O workload's file): its content type and bytes.
    /// The JSON checks above do not apply to it.
    pub text: Option<ExpectText>,
}

/// A text body: `repeat` over and over, `bytes` long in all, with this content type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectText {
    pub content_type: String,
    pub repeat: String,
    pub bytes: usize,
}

impl ExpectText {
    /// The whole body expected.
    pub fn body(&self) -> Vec<u8> {
        self.repeat.bytes().cycle().take(self.bytes).collect()
    }
}

/// Something to do before a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Before {
    /// POST /orders/reset with no body.
    Reset,
    /// Stop the target's services (its data server down). `verify` runs these cases after
    /// every other check; the check `run` makes before timing leaves them out, since its
    /// services must stay up for the trial.
    StopServices,
}

/// One request and what must come back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    pub id: String,
    pub workload: String,
    pub description: String,
    pub before: Option<Before>,
    pub request: CaseRequest,
    pub expect: Expect,
}

/// The db rows-read check: a short concurrent load of both db endpoints, after which the
/// database's own counters must show every row read by a statement of its own, and every
/// answered row must match the table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DbReads {
    /// Requests of `GET /db/single`.
    pub single_requests: usize,
    /// Requests of `GET /db/multiple?count={multiple_count}`.
    pub multiple_requests: usize,
    pub multiple_count: usize,
    /// Requests in flight at once.
    pub concurrency: usize,
}

/// The idle-connection check: a client connects and sends nothing; meanwhile another
/// client must be answered, and the target's state (the stock) must survive.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdleConnection {
    /// Most milliseconds the other client may wait for its answer.
    pub max_ms: u64,
}

/// The fuzz check: `inputs` bad inputs generated from `seed`, each a 400 with a JSON error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fuzz {
    pub seed: u64,
    pub inputs: usize,
}

/// The whole contract.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contract {
    pub defaults: Defaults,
    pub concurrency: Concurrency,
    /// The db workload's rows-read check.
    pub db_reads: Option<DbReads>,
    /// The idle-connection check (run with the orders workload).
    pub idle_connection: Option<IdleConnection>,
    /// The fuzz check (run with the orders workload).
    pub fuzz: Option<Fuzz>,
    #[serde(rename = "case")]
    pub cases: Vec<Case>,
}

impl Contract {
    /// Loads and validates `fixtures/contract.toml` under `root`.
    pub fn load(root: &Path) -> Result<Contract, ConfigError> {
        let path = root.join("fixtures").join("contract.toml");
        let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
            path: path.clone(),
            source,
        })?;
        let contract: Contract = parse_str(&text, &path)?;
        contract
            .validate()
            .map_err(|message| ConfigError::Invalid { path, message })?;
        Ok(contract)
    }

    fn validate(&self) -> Result<(), String> {
        let mut ids = BTreeSet::new();
        for case in &self.cases {
            if !ids.insert(case.id.as_str()) {
                return Err(format!("case `{}` defined twice", case.id));
            }
            if case.request.json.is_some() && case.request.body.is_some() {
                return Err(format!("case `{}`: give json or body, not both", case.id));
            }
            if !case.request.path.starts_with('/') {
                return Err(format!("case `{}`: path must start with /", case.id));
            }
            if case.request.chunked && case.request.declared_length.is_some() {
                return Err(format!(
                    "case `{}`: give chunked or declared_length, not both",
                    case.id
                ));
            }
            if case.expect.json.is_some() && case.expect.subset.is_some() {
                return Err(format!("case `{}`: give json or subset, not both", case.id));
            }
            let expect = &case.expect;
            let json_checks = expect.error
                || expect.json.is_some()
                || expect.subset.is_some()
                || !expect.types.is_empty()
                || !expect.close.is_empty()
                || !expect.lengths.is_empty()
                || !expect.ranges.is_empty();
            if let Some(text) = &expect.text {
                if json_checks {
                    return Err(format!(
                        "case `{}`: a text body has no JSON checks; give text or them",
                        case.id
                    ));
                }
                if text.repeat.is_empty() && text.bytes > 0 {
                    return Err(format!("case `{}`: text.repeat is empty", case.id));
                }
            }
        }
        Ok(())
    }

    /// The workloads the cases cover, in order of first appearance.
    pub fn workloads(&self) -> Vec<&str> {
        let mut seen = Vec::new();
        for case in &self.cases {
            if !seen.contains(&case.workload.as_str()) {
                seen.push(case.workload.as_str());
            }
        }
        seen
    }

    /// The cases of the given workloads (all when `workloads` is empty), in file order.
    pub fn cases_for(&self, workloads: &[String]) -> Vec<&Case> {
        self.cases
            .iter()
            .filter(|c| workloads.is_empty() || workloads.contains(&c.workload))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_contract_loads_and_covers_the_seed_workloads() {
        let contract = Contract::load(Path::new(env!("CARGO_MANIFEST_DIR"))).unwrap();
        assert_eq!(
            contract.workloads(),
            [
                "status",
                "sleep",
                "orders",
                "compute",
                "offload",
                "db",
                "hybrid",
                "sharkbench",
                "numeric",
                "files"
            ]
        );
        assert!(contract.cases.len() > 40);
        assert!(
            contract
                .cases
                .iter()
                .any(|c| c.request.body.as_deref() == Some(OVERSIZED))
        );
    }

    #[test]
    fn integer_type_accepts_whole_floats_but_not_fractions_or_strings() {
        use serde_json::json;
        assert!(JsonType::Integer.matches(&json!(4)));
        assert!(JsonType::Integer.matches(&json!(4.0)));
        assert!(!JsonType::Integer.matches(&json!(4.5)));
        assert!(!JsonType::Integer.matches(&json!("4")));
        assert!(JsonType::Number.matches(&json!(4)));
    }

    #[test]
    fn a_case_with_json_and_body_is_refused() {
        let text = r#"
            [defaults]
            content_type = "application/json"
            max_body_bytes = 10
            required_headers = ["Server"]
            [concurrency]
            product = "a"
            quantity = 1
            requests = 2
            [[case]]
            id = "x"
            workload = "w"
            description = "d"
            request = { method = "POST", path = "/x", json = {}, body = "{}" }
            expect = { status = 200 }
        "#;
        let contract: Contract = parse_str(text, Path::new("c.toml")).unwrap();
        assert!(contract.validate().unwrap_err().contains("not both"));
    }
}
