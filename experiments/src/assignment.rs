//! Which arm a user is in: a pure function of (salt, user id, weights, coverage).

use crate::{
    experiment::{Arm, Experiment},
    hashing::{choose_bucket, growthbook_hash_v2},
};

impl Experiment {
    /// The user's arm, or `None` when the user falls outside coverage (not enrolled: served by the
    /// control's models, with no exposure stored and not counted in reports).
    pub fn assign(&self, user_id: &str) -> Option<&Arm> {
        let n = growthbook_hash_v2(self.salt(), user_id);
        choose_bucket(n, self.ranges()).map(|i| &self.arms()[i])
    }
}

#[cfg(test)]
mod tests {
    use crate::{Experiment, ExperimentDefinition};

    fn experiment(coverage: f64) -> Experiment {
        let mut d = ExperimentDefinition::from_toml(include_str!("../definitions/chai-blend.toml"))
            .unwrap();
        d.coverage = coverage;
        Experiment::parse(d, |_| true).unwrap()
    }

    #[test]
    fn assignment_is_sticky_without_state() {
        let (a, b) = (experiment(1.0), experiment(1.0));
        for i in 0..1000 {
            let user = format!("user-{i}");
            assert_eq!(
                a.assign(&user).map(|x| &x.name),
                b.assign(&user).map(|x| &x.name)
            );
        }
    }

    #[test]
    fn full_coverage_enrolls_everyone_and_half_coverage_about_half() {
        let full = experiment(1.0);
        assert!((0..2000).all(|i| full.assign(&format!("u{i}")).is_some()));
        let half = experiment(0.5);
        let enrolled = (0..10_000)
            .filter(|i| half.assign(&format!("u{i}")).is_some())
            .count();
        // Binomial(10000, 0.5): 4 standard deviations is 200.
        assert!((4800..=5200).contains(&enrolled), "{enrolled}");
    }
}
