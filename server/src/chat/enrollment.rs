//! Who is in which arm: the hash decides, the audience rule may exclude, the store remembers.

use blendlab_experiments::{Arm, Audience, Experiment};
use chrono::{DateTime, Utc};

use blendlab_store::{ExperimentRow, Store, StoreError};

/// The arm `user_id` is enrolled in, given when the user was first seen.
/// `new_users` experiments enroll only users first seen at or after the start.
pub fn enrolled_arm<'a>(
    experiment: &'a Experiment,
    row: &ExperimentRow,
    user_id: &str,
    first_seen: Option<DateTime<Utc>>,
) -> Option<&'a Arm> {
    if experiment.definition().audience == Audience::NewUsers {
        let seen_before_start = match (first_seen, row.started_at) {
            (Some(seen), Some(started)) => seen < started,
            _ => false,
        };
        if seen_before_start {
            return None;
        }
    }
    experiment.assign(user_id)
}

/// The arm a user has or would get, without recording anything.
pub async fn assignment_for(
    store: &Store,
    experiment: &Experiment,
    row: &ExperimentRow,
    user_id: &str,
) -> Result<(Option<String>, bool), StoreError> {
    if let Some(stored) = store.assignment(experiment.key().as_str(), user_id).await? {
        return Ok((Some(stored.arm), true));
    }
    let first_seen = store.user_first_seen(user_id).await?;
    let arm = enrolled_arm(experiment, row, user_id, first_seen).map(|a| a.name.to_string());
    Ok((arm, false))
}
