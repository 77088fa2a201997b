//! The figures of a scaling run: per target, throughput at each cpuset size, speedup over
//! one CPU and efficiency per core, a fitted scalability model, and what that model
//! projects for the steps the host could not hold. A projection is a curve extrapolated
//! beyond what was measured: reports label it so, and no claim is ever judged on it.
//!
//! The models, with X(n) the throughput on n CPUs and S(n) = X(n) / X(1) the speedup:
//! - Amdahl's law, S(n) = n / (1 + σ (n − 1)): a serial fraction σ caps the speedup at
//!   1/σ. One measured step besides n = 1 fixes σ.
//! - The Universal Scalability Law (Gunther), S(n) = n / (1 + σ (n − 1) + κ n (n − 1)):
//!   κ adds the coherency cost (workers contending for shared state, here the accept queue
//!   and the kernel), which makes throughput fall past a peak. It needs two steps besides
//!   n = 1. Both are fitted by least squares on the linearised form
//!   n / S(n) − 1 = σ (n − 1) + κ n (n − 1), with σ in [0, 1] and κ ≥ 0.

use crate::results::scaling::{ScalingRecord, ScalingStep};

/// A fitted scalability model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Model {
    Amdahl { sigma: f64 },
    Usl { sigma: f64, kappa: f64 },
}

impl Model {
    /// The speedup on `n` CPUs.
    pub fn speedup(&self, n: f64) -> f64 {
        let (sigma, kappa) = match *self {
            Model::Amdahl { sigma } => (sigma, 0.0),
            Model::Usl { sigma, kappa } => (sigma, kappa),
        };
        n / (1.0 + sigma * (n - 1.0) + kappa * n * (n - 1.0))
    }

    /// One line: the model and its parameters.
    pub fn describe(&self) -> String {
        match *self {
            Model::Amdahl { sigma } => format!(
                "Amdahl's law, serial fraction σ = {sigma:.3} (speedup at most {})",
                if sigma > 0.0 {
                    format!("{:.1}x", 1.0 / sigma)
                } else {
                    "unbounded".into()
                }
            ),
            Model::Usl { sigma, kappa } => format!(
                "Universal Scalability Law, contention σ = {sigma:.3}, coherency κ = {kappa:.4}"
            ),
        }
    }
}

/// One measured point of a curve.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub cpus: u32,
    pub workers: Option<u32>,
    pub requests_per_sec: f64,
    /// X(n) / X(1); `None` without a one-CPU figure.
    pub speedup: Option<f64>,
    /// Speedup per CPU: 1.0 is perfect scaling.
    pub efficiency: Option<f64>,
    pub server_cpu_percent: Option<f64>,
    pub generator_cpu_percent: Option<f64>,
    pub generator_bound: bool,
}

/// A model's throughput at a step that was not measured: a projection, never a verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct Projection {
    pub cpus: u32,
    pub requests_per_sec: f64,
    pub speedup: f64,
}

/// One target's scaling curve.
#[derive(Debug, Clone, PartialEq)]
pub struct Curve {
    pub target: String,
    pub points: Vec<Point>,
    pub model: Option<Model>,
    /// Projections for the steps the host could not hold (only with a model).
    pub projections: Vec<Projection>,
    /// Why there is no model, when there is none.
    pub no_model: Option<String>,
}

/// Every target's curve, in the record's target order.
pub fn curves(record: &ScalingRecord) -> Vec<Curve> {
    record
        .targets
        .iter()
        .map(|target| {
            let steps: Vec<&ScalingStep> = record
                .steps
                .iter()
                .filter(|s| &s.target == target)
                .collect();
            curve(target, &steps, record)
        })
        .collect()
}

fn curve(target: &str, steps: &[&ScalingStep], record: &ScalingRecord) -> Curve {
    let base = steps
        .iter()
        .find(|s| s.server_cpus == 1 && !s.generator_bound)
        .and_then(|s| s.requests_per_sec)
        .filter(|x| *x > 0.0);
    let points: Vec<Point> = steps
        .iter()
        .filter_map(|s| {
            let x = s.requests_per_sec?;
            let speedup = base.map(|b| x / b);
            Some(Point {
                cpus: s.server_cpus,
                workers: s.workers,
                requests_per_sec: x,
                speedup,
                efficiency: speedup.map(|v| v / f64::from(s.server_cpus)),
                server_cpu_percent: s.server_cpu_percent,
                generator_cpu_percent: s.generator_cpu_percent,
                generator_bound: s.generator_bound,
            })
        })
        .collect();
    let usable: Vec<(f64, f64)> = points
        .iter()
        .filter(|p| p.cpus > 1 && !p.generator_bound)
        .filter_map(|p| Some((f64::from(p.cpus), p.speedup?)))
        .collect();
    let (model, no_model) = match (base, fit(&usable)) {
        (None, _) => (
            None,
            Some("no one-CPU figure the server set the pace of: no speedup to fit".to_string()),
        ),
        (Some(_), Some(model)) => (Some(model), None),
        (Some(_), None) => (
            None,
            Some(format!(
                "one step measured ({} CPU): a model needs a second step (Amdahl) or a third (USL){}",
                points.first().map_or(1, |p| p.cpus),
                match record.steps_beyond_host.first() {
                    Some(next) => format!(
                        "; a host of {} CPUs would measure {} server CPUs",
                        next.host_cpus_needed, next.server_cpus
                    ),
                    None => String::new(),
                }
            )),
        ),
    };
    let projections = match (model, base) {
        (Some(model), Some(base)) => record
            .steps_beyond_host
            .iter()
            .map(|b| {
                let speedup = model.speedup(f64::from(b.server_cpus));
                Projection {
                    cpus: b.server_cpus,
                    requests_per_sec: base * speedup,
                    speedup,
                }
            })
            .collect(),
        _ => Vec::new(),
    };
    Curve {
        target: target.to_string(),
        points,
        model,
        projections,
        no_model,
    }
}

/// Fits a model to (n, speedup) points with n > 1: USL from two distinct n, Amdahl from
/// one; `None` from none.
pub fn fit(points: &[(f64, f64)]) -> Option<Model> {
    let points: Vec<(f64, f64)> = points
        .iter()
        .copied()
        .filter(|(n, s)| *n > 1.0 && s.is_finite() && *s > 0.0)
        .collect();
    if points.is_empty() {
        return None;
    }
    // y = n / S − 1 = σ a + κ b, with a = n − 1 and b = n (n − 1).
    let rows: Vec<(f64, f64, f64)> = points
        .iter()
        .map(|&(n, s)| (n - 1.0, n * (n - 1.0), n / s - 1.0))
        .collect();
    let amdahl = || {
        let (num, den) = rows.iter().fold((0.0, 0.0), |(num, den), (a, _, y)| {
            (num + a * y, den + a * a)
        });
        Model::Amdahl {
            sigma: (num / den).clamp(0.0, 1.0),
        }
    };
    let mut distinct: Vec<f64> = points.iter().map(|p| p.0).collect();
    distinct.sort_by(f64::total_cmp);
    distinct.dedup();
    if distinct.len() < 2 {
        return Some(amdahl());
    }
    let (mut saa, mut sab, mut sbb, mut say, mut sby) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for (a, b, y) in &rows {
        saa += a * a;
        sab += a * b;
        sbb += b * b;
        say += a * y;
        sby += b * y;
    }
    let det = saa * sbb - sab * sab;
    if det.abs() < f64::EPSILON {
        return Some(amdahl());
    }
    let sigma = (say * sbb - sby * sab) / det;
    let kappa = (saa * sby - sab * say) / det;
    if kappa < 0.0 {
        // No coherency cost in the data: Amdahl is the model that fits within bounds.
        return Some(amdahl());
    }
    Some(Model::Usl {
        sigma: sigma.clamp(0.0, 1.0),
        kappa,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::RunStatus;
    use crate::results::scaling::StepBeyondHost;

    fn step(target: &str, cpus: u32, rps: f64) -> ScalingStep {
        ScalingStep {
            target: target.into(),
            server_cpus: cpus,
            cpuset: "1".into(),
            workers: Some(cpus),
            results: "x".into(),
            trials: 3,
            requests_per_sec: Some(rps),
            server_cpu_percent: Some(100.0 * f64::from(cpus)),
            generator_cpu_percent: Some(40.0),
            generator_bound: false,
            error: None,
        }
    }

    fn record(steps: Vec<ScalingStep>, beyond: &[(u32, usize)]) -> ScalingRecord {
        ScalingRecord {
            schema_version: 1,
            run_id: "r".into(),
            status: RunStatus::Complete,
            started_at: "t".into(),
            finished_at: None,
            workload: "status".into(),
            targets: vec!["fastify-cluster".into()],
            host_cpus: 2,
            generator_cpus: vec![0],
            steps_asked: vec![1, 2, 4, 8],
            steps_measured: steps.iter().map(|s| s.server_cpus).collect(),
            steps_beyond_host: beyond
                .iter()
                .map(|&(server_cpus, host_cpus_needed)| StepBeyondHost {
                    server_cpus,
                    host_cpus_needed,
                })
                .collect(),
            steps,
        }
    }

    #[test]
    fn amdahl_is_recovered_from_one_step_beyond_one_cpu() {
        let truth = Model::Amdahl { sigma: 0.1 };
        let model = fit(&[(4.0, truth.speedup(4.0))]).unwrap();
        let Model::Amdahl { sigma } = model else {
            panic!("{model:?}")
        };
        assert!((sigma - 0.1).abs() < 1e-9);
    }

    #[test]
    fn usl_is_recovered_from_two_steps_and_predicts_the_fall_past_the_peak() {
        let truth = Model::Usl {
            sigma: 0.05,
            kappa: 0.01,
        };
        let points: Vec<(f64, f64)> = [2.0, 4.0, 8.0]
            .iter()
            .map(|&n| (n, truth.speedup(n)))
            .collect();
        let Some(Model::Usl { sigma, kappa }) = fit(&points) else {
            panic!()
        };
        assert!((sigma - 0.05).abs() < 1e-6 && (kappa - 0.01).abs() < 1e-6);
        assert!(truth.speedup(32.0) < truth.speedup(8.0));
    }

    #[test]
    fn one_measured_step_gives_no_model_and_no_projection_but_names_the_host_needed() {
        let record = record(
            vec![step("fastify-cluster", 1, 10_000.0)],
            &[(2, 3), (4, 6)],
        );
        let curves = curves(&record);
        let curve = &curves[0];
        assert!(curve.model.is_none() && curve.projections.is_empty());
        assert_eq!(curve.points[0].speedup, Some(1.0));
        let why = curve.no_model.as_deref().unwrap();
        assert!(
            why.contains("a host of 3 CPUs would measure 2 server CPUs"),
            "{why}"
        );
    }

    #[test]
    fn projections_cover_only_the_steps_beyond_the_host_and_come_from_the_model() {
        let record = record(
            vec![
                step("fastify-cluster", 1, 10_000.0),
                step("fastify-cluster", 2, 18_000.0),
            ],
            &[(4, 6)],
        );
        let curve = &curves(&record)[0];
        let Some(Model::Amdahl { sigma }) = curve.model else {
            panic!("{:?}", curve.model)
        };
        // 2 / (1 + σ) = 1.8
        assert!((sigma - (2.0 / 1.8 - 1.0)).abs() < 1e-9);
        assert_eq!(curve.projections.len(), 1);
        assert_eq!(curve.projections[0].cpus, 4);
        assert!((curve.points[1].efficiency.unwrap() - 0.9).abs() < 1e-9);
    }

    #[test]
    fn a_generator_bound_step_is_left_out_of_the_fit() {
        let mut bound = step("fastify-cluster", 2, 11_000.0);
        bound.generator_bound = true;
        let record = record(vec![step("fastify-cluster", 1, 10_000.0), bound], &[]);
        let curve = &curves(&record)[0];
        assert!(curve.model.is_none());
        assert!(curve.points[1].generator_bound);
    }
}
