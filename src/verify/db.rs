//! The db workload's rows-read check: a short concurrent load of `GET /db/single` and
//! `GET /db/multiple`, with PostgreSQL's own counters (pg_stat_statements) read before and
//! after. Every row a target answers must match the `world` table, and the database must
//! have run at least one statement per row answered: a target that caches rows, batches them
//! into one query or makes them up fails.

use std::collections::{BTreeSet, HashMap};

use futures_util::StreamExt;
use serde_json::Value;

use super::{CaseOutcome, outcome_of, send};
use crate::contract::DbReads;
use crate::database;

/// The check's id in verify output.
pub const CHECK_ID: &str = "db.rows_read_in_database";

/// Runs the check against the target on `port` and the database at `database_url`.
pub async fn rows_read_check(
    client: &reqwest::Client,
    port: u16,
    spec: &DbReads,
    database_url: Option<&str>,
) -> CaseOutcome {
    let expected_rows = spec.single_requests + spec.multiple_requests * spec.multiple_count;
    let description = format!(
        "{} single and {} multiple (count={}) requests, {} at a time: every row matches the table, and the database read {expected_rows} rows with one statement each",
        spec.single_requests, spec.multiple_requests, spec.multiple_count, spec.concurrency
    );
    let fail = |failures: Vec<String>| outcome_of(CHECK_ID, "db", &description, failures);
    let Some(url) = database_url else {
        return fail(vec![
            "no database to count reads in: the db workload runs with a PostgreSQL (--runtime docker)".into(),
        ]);
    };
    let db = match database::connect(url).await {
        Ok(db) => db,
        Err(err) => return fail(vec![err.to_string()]),
    };
    let table = match database::world_table(&db).await {
        Ok(table) => table,
        Err(err) => return fail(vec![format!("reading the world table: {err}")]),
    };
    let before = match database::world_reads(&db).await {
        Ok(reads) => reads,
        Err(err) => return fail(vec![format!("reading pg_stat_statements: {err}")]),
    };
    let started = std::time::Instant::now();
    let multiple = format!("/db/multiple?count={}", spec.multiple_count);
    let paths = std::iter::repeat_n("/db/single", spec.single_requests).chain(std::iter::repeat_n(
        multiple.as_str(),
        spec.multiple_requests,
    ));
    let answers: Vec<(&str, Result<super::Observed, String>)> = futures_util::stream::iter(paths)
        .map(|path| async move { (path, send(client, port, "GET", path, None).await) })
        .buffer_unordered(spec.concurrency.max(1))
        .collect()
        .await;
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    let after = match database::world_reads(&db).await {
        Ok(reads) => reads,
        Err(err) => return fail(vec![format!("reading pg_stat_statements: {err}")]),
    };

    let mut failures = Vec::new();
    let mut single_ids = BTreeSet::new();
    let mut answered_rows = 0usize;
    for (path, answer) in &answers {
        let problem = match answer {
            Err(err) => Some(format!("request failed: {err}")),
            Ok(observed) if observed.status != 200 => Some(format!(
                "answered {}: {}",
                observed.status,
                super::excerpt(&observed.body)
            )),
            Ok(observed) => match serde_json::from_slice::<Value>(&observed.body) {
                Err(_) => Some(format!(
                    "body is not JSON: {}",
                    super::excerpt(&observed.body)
                )),
                Ok(body) => {
                    let rows: Vec<&Value> = match &body {
                        Value::Array(rows) if *path != "/db/single" => rows.iter().collect(),
                        Value::Object(_) if *path == "/db/single" => vec![&body],
                        _ => Vec::new(),
                    };
                    let wanted = if *path == "/db/single" {
                        1
                    } else {
                        spec.multiple_count
                    };
                    if rows.len() != wanted {
                        Some(format!("expected {wanted} rows, got {}", rows.len()))
                    } else {
                        answered_rows += rows.len();
                        let mismatch = rows.iter().find_map(|row| row_mismatch(row, &table));
                        if *path == "/db/single"
                            && let Some(id) = rows[0].get("id").and_then(Value::as_i64)
                        {
                            single_ids.insert(id);
                        }
                        mismatch
                    }
                }
            },
        };
        if let Some(problem) = problem {
            failures.push(format!("GET {path}: {problem}"));
            break;
        }
    }
    // Uniformly random ids out of 10,000 repeat rarely: a handful of distinct ids means the
    // target does not pick them at random.
    if failures.is_empty()
        && spec.single_requests >= 20
        && single_ids.len() < spec.single_requests / 2
    {
        failures.push(format!(
            "{} single requests returned only {} distinct ids: rows are not chosen at random",
            spec.single_requests,
            single_ids.len()
        ));
    }
    let statements = after.statements - before.statements;
    let rows = after.rows - before.rows;
    let expected = expected_rows as i64;
    if rows < expected {
        failures.push(format!(
            "the database returned {rows} rows of world during the check, the target answered {answered_rows}: rows were not all read from the database"
        ));
    }
    if statements < expected {
        failures.push(format!(
            "the database ran {statements} statements on world for {expected} rows: each row must be read by a query of its own (no caching or batching)"
        ));
    }
    let mut outcome = outcome_of(CHECK_ID, "db", &description, failures);
    outcome.elapsed_ms = elapsed_ms;
    outcome
}

/// Why a row does not match the table, if it does not.
fn row_mismatch(row: &Value, table: &HashMap<i32, i32>) -> Option<String> {
    let id = row.get("id").and_then(Value::as_i64);
    let number = row.get("randomNumber").and_then(Value::as_i64);
    match (id, number) {
        (Some(id), Some(number)) => {
            let stored = i32::try_from(id).ok().and_then(|id| table.get(&id));
            match stored {
                Some(stored) if i64::from(*stored) == number => None,
                Some(stored) => Some(format!(
                    "row {id} has randomNumber {number}, the table has {stored}"
                )),
                None => Some(format!("row id {id} is not in the table")),
            }
        }
        _ => Some(format!(
            "a row without integer id and randomNumber: {}",
            super::shorten(&row.to_string())
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rows_must_match_the_table() {
        let table = HashMap::from([(1, 42)]);
        assert_eq!(
            row_mismatch(&json!({"id": 1, "randomNumber": 42}), &table),
            None
        );
        assert!(
            row_mismatch(&json!({"id": 1, "randomNumber": 41}), &table)
                .unwrap()
                .contains("the table has 42")
        );
        assert!(row_mismatch(&json!({"id": 2, "randomNumber": 1}), &table).is_some());
        assert!(row_mismatch(&json!({"id": "1", "randomNumber": 42}), &table).is_some());
    }
}
