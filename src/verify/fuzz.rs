//! The fuzz check: many generated bad inputs, each of which the contract answers with a
//! 400 and a JSON error, so every target must give the same answer to every one. Inputs come
//! from a seeded generator (the seed is in the contract and in the outcome's description),
//! so a failure is reproduced by running `verify` again.

use serde_json::{Value, json};

/// One generated request: method, path, and a JSON body (raw bytes) if any.
#[derive(Debug, Clone, PartialEq)]
pub struct BadInput {
    pub method: &'static str,
    pub path: String,
    pub body: Option<Vec<u8>>,
}

impl BadInput {
    /// One line naming the input, for a failure message.
    pub fn describe(&self) -> String {
        match &self.body {
            Some(body) => format!(
                "{} {} {}",
                self.method,
                self.path,
                super::shorten(&String::from_utf8_lossy(body))
            ),
            None => format!("{} {}", self.method, self.path),
        }
    }
}

/// SplitMix64: small, fast, and the same sequence on every platform for a seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Values no integer field of the contract accepts (whole floats in range are integers).
fn bad_integers() -> Vec<Value> {
    vec![
        json!("2"),
        json!(true),
        json!(null),
        json!([]),
        json!({}),
        json!(1.5),
        json!(-1),
        json!(0),
        // Above every integer bound (quantity, n, timeout_ms).
        json!(2_000_000_000),
        json!(1e300),
        json!("one"),
    ]
}

/// Values no string field of the contract accepts.
fn bad_strings() -> Vec<Value> {
    vec![
        json!(42),
        json!(true),
        json!(null),
        json!([]),
        json!({}),
        json!(""),
    ]
}

/// Values `total_amount` does not accept.
fn bad_amounts() -> Vec<Value> {
    vec![
        json!("10"),
        json!(true),
        json!(null),
        json!([]),
        json!({}),
        json!(0),
        json!(-10),
        json!(1e10),
    ]
}

fn valid_order() -> Value {
    json!({
        "customer_id": "fuzz",
        "items": [{"product_id": "item1", "quantity": 1}],
        "total_amount": 1,
    })
}

/// A valid order with one thing wrong: a field missing, a field added, a field of the
/// wrong type or out of range.
fn bad_order(rng: &mut Rng) -> Value {
    let mut order = valid_order();
    match rng.below(7) {
        0 => {
            let field = *rng.pick(&["customer_id", "items", "total_amount"]);
            order.as_object_mut().map(|o| o.remove(field));
        }
        1 => {
            let field = *rng.pick(&["coupon", "priority", "__proto__", "constructor"]);
            order[field] = json!("x");
        }
        2 => order["customer_id"] = rng.pick(&bad_strings()).clone(),
        3 => order["total_amount"] = rng.pick(&bad_amounts()).clone(),
        4 => order["items"][0]["quantity"] = rng.pick(&bad_integers()).clone(),
        5 => {
            let value = rng.pick(&bad_strings()).clone();
            // An empty product id is a product the inventory lacks: 400 as well.
            order["items"][0]["product_id"] = value;
        }
        _ => {
            order["items"] = rng
                .pick(&[
                    json!([]),
                    json!({}),
                    json!("item1"),
                    json!([1]),
                    json!([[]]),
                ])
                .clone();
        }
    }
    order
}

/// Characters for query values: never only digits (a generated value always holds one
/// that is not a digit), so no value is a plain decimal integer.
const QUERY_CHARS: &[u8] = b"0123456789-+.eE xa%,;";

fn bad_query_value(rng: &mut Rng) -> String {
    let len = 1 + rng.below(8);
    let mut value: Vec<u8> = (0..len).map(|_| *rng.pick(QUERY_CHARS)).collect();
    let not_digit = QUERY_CHARS[10 + rng.below(QUERY_CHARS.len() - 10)];
    let at = rng.below(value.len() + 1);
    value.insert(at, not_digit);
    // Percent-encode everything but letters, digits and -._ so the URL stays valid.
    value
        .iter()
        .map(|&b| match b {
            b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z' | b'-' | b'.' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `count` bad inputs from `seed`: orders with one thing wrong, orders cut short (never
/// valid JSON), jobs with a bad `n`, and query integers that are not plain digits.
pub fn bad_inputs(seed: u64, count: usize) -> Vec<BadInput> {
    let mut rng = Rng(seed);
    (0..count)
        .map(|_| match rng.below(5) {
            0 | 1 => BadInput {
                method: "POST",
                path: "/orders".into(),
                body: Some(bad_order(&mut rng).to_string().into_bytes()),
            },
            2 => {
                let text = valid_order().to_string();
                // A proper prefix of a JSON object is never JSON.
                let cut = rng.below(text.len());
                BadInput {
                    method: "POST",
                    path: "/orders".into(),
                    body: Some(text.as_bytes()[..cut.max(1)].to_vec()),
                }
            }
            3 => {
                let mut job = json!({"n": 10});
                if rng.below(2) == 0 {
                    job["n"] = rng.pick(&bad_integers()).clone();
                } else {
                    job["timeout_ms"] = rng.pick(&bad_integers()).clone();
                }
                BadInput {
                    method: "POST",
                    path: "/jobs/leibniz".into(),
                    body: Some(job.to_string().into_bytes()),
                }
            }
            _ => {
                let path = *rng.pick(&["/io/sleep?ms=", "/compute/leibniz?n="]);
                BadInput {
                    method: "GET",
                    path: format!("{path}{}", bad_query_value(&mut rng)),
                    body: None,
                }
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_inputs_and_another_seed_others() {
        assert_eq!(bad_inputs(13, 50), bad_inputs(13, 50));
        assert_ne!(bad_inputs(13, 50), bad_inputs(14, 50));
    }

    #[test]
    fn no_generated_query_value_is_plain_digits_and_no_order_is_valid() {
        for input in bad_inputs(7, 2000) {
            if let Some((_, value)) = input.path.split_once('=') {
                assert!(!value.bytes().all(|b| b.is_ascii_digit()), "{value}");
            }
            if let Some(body) = &input.body {
                let parsed = serde_json::from_slice::<Value>(body);
                if let Ok(order) = parsed.as_ref()
                    && input.path == "/orders"
                {
                    assert_ne!(order, &valid_order(), "a valid order was generated");
                }
            }
        }
    }

    #[test]
    fn every_kind_of_input_is_generated() {
        let inputs = bad_inputs(13, 200);
        assert!(inputs.iter().any(|i| i.path == "/jobs/leibniz"));
        assert!(inputs.iter().any(|i| i.path.starts_with("/io/sleep?")));
        assert!(inputs.iter().any(|i| i.path.starts_with("/compute/")));
        assert!(
            inputs
                .iter()
                .filter_map(|i| i.body.as_ref())
                .any(|b| serde_json::from_slice::<Value>(b).is_err())
        );
    }
}
