//! What a resolver takes from the request: the ledger, the viewer, the id codec, the
//! loaders, and who may see what: every role rule is here. Its errors are built in [`super::errors`].
use async_graphql::Context;

use super::errors::{forbidden, internal, unauthenticated};
use super::loaders::Loaders;
use crate::auth::{Role, Viewer};
use crate::ids::IdCodec;
use crate::ledger::{Actor, Ledger};
use crate::reads::Reads;

pub fn ledger<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a Ledger> {
    ctx.data::<Ledger>()
        .map_err(|_| internal(ctx, "the ledger is missing from the schema"))
}

/// The ledger acting as the signed-in user: what a mutation writes records them.
pub fn acting_ledger(ctx: &Context<'_>) -> async_graphql::Result<Ledger> {
    Ok(ledger(ctx)?.acting_as(Actor::of(viewer(ctx)?)))
}

pub fn ids<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a IdCodec> {
    ctx.data::<IdCodec>()
        .map_err(|_| internal(ctx, "the id codec is missing from the schema"))
}

pub fn reads<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a Reads> {
    ctx.data::<Reads>()
        .map_err(|_| internal(ctx, "the read side is missing from the schema"))
}

pub fn store<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a Loaders> {
    ctx.data::<Loaders>()
        .map_err(|_| internal(ctx, "the request's loaders are missing"))
}

pub fn viewer<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a Viewer> {
    ctx.data::<Viewer>().map_err(|_| unauthenticated())
}

/// The viewer, who must be a member or an OPS user: the fields of accounts and what
/// they hold. The render service (RENDERER) acts for no account and reads only the
/// public fields (backgrounds, the pack catalog, its own `viewer { userId role }`).
pub fn account_user<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a Viewer> {
    let viewer = viewer(ctx)?;
    match viewer.role {
        Role::Member | Role::Ops => Ok(viewer),
        Role::Renderer => Err(forbidden("This field is for members and OPS users only.")),
    }
}

/// The viewer, who must be an OPS user.
pub fn ops<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a Viewer> {
    let viewer = viewer(ctx)?;
    if viewer.role == Role::Ops {
        Ok(viewer)
    } else {
        Err(forbidden("This field is for OPS users only."))
    }
}

/// The viewer, who must be the render service (RENDERER): the render queue is its
/// alone.
pub fn renderer<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a Viewer> {
    let viewer = viewer(ctx)?;
    if viewer.role == Role::Renderer {
        Ok(viewer)
    } else {
        Err(forbidden("This field is for the render service only."))
    }
}

/// Whether the viewer may see a record of `account_id`: OPS sees every account, a
/// member only their own.
pub fn may_see(viewer: &Viewer, account_id: i64) -> bool {
    viewer.role == Role::Ops || viewer.account_id == Some(account_id)
}
