//! What clients change, by area: [`studio`] (applyChanges, revertPhotos,
//! reportFaultyPhoto, addLogo), [`billing`] (purchasePack) and [`ops`] (the back
//! office: createAccount, updateSubscription, registerPhotos, setClock). Each resolver
//! decodes its ids, calls one ledger operation and turns a business refusal into
//! `userErrors`; only faults become top-level errors. What they share is in [`common`].
use async_graphql::MergedObject;

pub mod billing;
pub mod common;
pub mod ops;
pub mod studio;

pub use common::UserError;

// The schema's one Mutation type, its fields those of the three areas. No doc
// comment: it would become the type's description in the SDL.
#[derive(MergedObject, Default)]
pub struct Mutation(studio::StudioMutation, billing::BillingMutation, ops::OpsMutation);
