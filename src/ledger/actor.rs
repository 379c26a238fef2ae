//! Who made a change (rules §4): the user of the token and the role they acted in.
//! The clock's own changes (expiries, resets, promotion grants) have none. Stored on
//! each row a person makes as two columns, `actor_user_id` and `actor_role`.
use crate::auth::{Role, Viewer};

/// A user acting in a role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The token's `sub`.
    pub user_id: String,
    pub role: Role,
}

impl Actor {
    /// The signed-in user of a request.
    pub fn of(viewer: &Viewer) -> Actor {
        Actor {
            user_id: viewer.user_id.clone(),
            role: viewer.role,
        }
    }

    /// The stored columns of `actor`: both null for none.
    pub fn columns(actor: Option<&Actor>) -> (Option<String>, Option<String>) {
        match actor {
            Some(actor) => (Some(actor.user_id.clone()), Some(role_name(actor.role).to_owned())),
            None => (None, None),
        }
    }

    /// The actor stored as `user_id` and `role`; none when either is missing (a row of
    /// the clock's, or one the previous release wrote) or the role is not one this
    /// release knows.
    pub fn from_columns(user_id: Option<&str>, role: Option<&str>) -> Option<Actor> {
        let role = match role? {
            "member" => Role::Member,
            "ops" => Role::Ops,
            "renderer" => Role::Renderer,
            _ => return None,
        };
        Some(Actor {
            user_id: user_id?.to_owned(),
            role,
        })
    }
}

/// How a role is stored: as the token's `role` claim spells it.
fn role_name(role: Role) -> &'static str {
    match role {
        Role::Member => "member",
        Role::Ops => "ops",
        Role::Renderer => "renderer",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_actor_reads_back_from_its_columns_and_none_stays_none() {
        for role in [Role::Member, Role::Ops, Role::Renderer] {
            let actor = Actor {
                user_id: "u-17".into(),
                role,
            };
            let (user_id, stored_role) = Actor::columns(Some(&actor));
            assert_eq!(
                Actor::from_columns(user_id.as_deref(), stored_role.as_deref()),
                Some(actor)
            );
        }
        assert_eq!(Actor::columns(None), (None, None));
        assert_eq!(Actor::from_columns(None, None), None);
        assert_eq!(Actor::from_columns(Some("u"), Some("admin")), None);
    }
}
