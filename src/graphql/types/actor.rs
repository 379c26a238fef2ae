//! Who made a change, as the history and the studio show it (rules §4).
use async_graphql::SimpleObject;

use crate::auth::Role;
use crate::ledger;

/// Who made a change; null where the clock did.
#[derive(SimpleObject, Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The user's id: the `sub` of their token.
    pub user_id: String,
    /// The role they acted in.
    pub role: Role,
}

impl Actor {
    /// The actor of a stored row's `actor_user_id` and `actor_role`; null for the
    /// clock's rows and those the previous release wrote.
    pub fn stored(user_id: Option<&str>, role: Option<&str>) -> Option<Actor> {
        ledger::Actor::from_columns(user_id, role).map(|actor| Actor {
            user_id: actor.user_id,
            role: actor.role,
        })
    }
}
