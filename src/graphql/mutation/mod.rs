//! What clients change, by area: [`studio`] (applyChanges, revertPhotos,
//! reportFaultyPhoto, addLogo), [`billing`] (purchasePack), [`ops`] (the back
//! office: createAccount, updateSubscription, registerPhotos, setClock) and
//! [`renderer`] (the render service: claimRenderJobs, completeRender, failRender). Each resolver
//! decodes its ids, calls one ledger operation and turns a business refusal into
//! `userErrors`; only faults become top-level errors. What they share is in [`common`].
use async_graphql::MergedObject;

pub mod billing;
pub mod common;
pub mod ops;
pub mod renderer;
pub mod studio;

pub use common::UserError;

/// What clients change. Every mutation answers a payload: a business refusal is an
/// entry of its `userErrors` (and then nothing was changed); only a fault of the
/// request or the service is a top-level error with `extensions.code`.
#[derive(MergedObject, Default)]
pub struct Mutation(
    studio::StudioMutation,
    billing::BillingMutation,
    ops::OpsMutation,
    renderer::RendererMutation,
);
