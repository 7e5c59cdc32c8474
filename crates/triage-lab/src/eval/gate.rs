//! The CI gate: each floor (minimum) and ceiling (maximum) of a suite checked against the
//! figure the run measured. A bound on a figure the task did not report fails too, so a
//! gate can never pass by naming something that is not measured.

use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Bound {
    Floor,
    Ceiling,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    pub(crate) task: String,
    pub(crate) metric: String,
    pub(crate) bound: Bound,
    pub(crate) limit: f64,
    /// `None` when the task did not report this figure.
    pub(crate) value: Option<f64>,
    pub(crate) passed: bool,
}

impl Check {
    /// One line for logs and the CLI's error: what was measured against what.
    pub fn describe(&self) -> String {
        let (op, word) = match self.bound {
            Bound::Floor => ("<", "floor"),
            Bound::Ceiling => (">", "ceiling"),
        };
        match self.value {
            Some(v) if self.passed => format!(
                "{}: {} {v:.4} within {word} {:.4}",
                self.task, self.metric, self.limit
            ),
            Some(v) => format!(
                "{}: {} {v:.4} {op} {word} {:.4}",
                self.task, self.metric, self.limit
            ),
            None => format!(
                "{}: {} has a {word} of {:.4} but the task does not report it",
                self.task, self.metric, self.limit
            ),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Gate {
    pub passed: bool,
    pub checks: Vec<Check>,
}

impl Gate {
    pub(crate) fn new(checks: Vec<Check>) -> Self {
        Self {
            passed: checks.iter().all(|c| c.passed),
            checks,
        }
    }

    pub fn failures(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| !c.passed)
    }
}

/// Checks one task's figures against its floors and ceilings.
pub(crate) fn check(
    task: &str,
    figures: &BTreeMap<String, f64>,
    floors: &BTreeMap<String, f64>,
    ceilings: &BTreeMap<String, f64>,
) -> Vec<Check> {
    let one = |bound: Bound, (metric, &limit): (&String, &f64)| {
        let value = figures.get(metric).copied().filter(|v| !v.is_nan());
        let passed = match (bound, value) {
            (Bound::Floor, Some(v)) => v >= limit,
            (Bound::Ceiling, Some(v)) => v <= limit,
            (_, None) => false,
        };
        Check {
            task: task.to_string(),
            metric: metric.clone(),
            bound,
            limit,
            value,
            passed,
        }
    };
    floors
        .iter()
        .map(|f| one(Bound::Floor, f))
        .chain(ceilings.iter().map(|c| one(Bound::Ceiling, c)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, f64)]) -> BTreeMap<String, f64> {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    #[test]
    fn floors_ceilings_and_missing_figures() {
        let figures = map(&[("accuracy", 0.9), ("ece", 0.04), ("voice.gap", 0.1)]);
        let pass = check(
            "t",
            &figures,
            &map(&[("accuracy", 0.9)]),
            &map(&[("ece", 0.05)]),
        );
        assert!(Gate::new(pass).passed, "equal to the floor passes");
        let checks = check(
            "t",
            &figures,
            &map(&[("accuracy", 0.95), ("oos_recall", 0.1)]),
            &map(&[("voice.gap", 0.05)]),
        );
        let gate = Gate::new(checks);
        assert!(!gate.passed);
        let msgs: Vec<String> = gate.failures().map(Check::describe).collect();
        assert_eq!(msgs.len(), 3, "{msgs:?}");
        assert!(
            msgs[0].contains("accuracy 0.9000 < floor 0.9500"),
            "{msgs:?}"
        );
        assert!(msgs[1].contains("oos_recall") && msgs[1].contains("does not report"));
        assert!(
            msgs[2].contains("voice.gap 0.1000 > ceiling 0.0500"),
            "{msgs:?}"
        );
        assert!(Gate::new(vec![]).passed);
    }
}
