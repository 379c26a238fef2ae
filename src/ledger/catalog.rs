//! The configured backgrounds and packs, stored so edits and purchases can refer to them.
use entity::{background, pack};
use sea_orm::sea_query::OnConflict;
use sea_orm::{DatabaseConnection, EntityTrait, Set};

use crate::config::Config;
use crate::error::Error;

/// Inserts or updates every background and pack of `config`.
pub async fn store(db: &DatabaseConnection, config: &Config) -> Result<(), Error> {
    for b in &config.backgrounds {
        background::Entity::insert(background::ActiveModel {
            id: Set(b.id.clone()),
            name: Set(b.name.clone()),
            preview_url: Set(b.preview_url.clone()),
        })
        .on_conflict(
            OnConflict::column(background::Column::Id)
                .update_columns([background::Column::Name, background::Column::PreviewUrl])
                .to_owned(),
        )
        .exec(db)
        .await?;
    }
    for p in &config.packs {
        pack::Entity::insert(pack::ActiveModel {
            id: Set(p.id.clone()),
            name: Set(p.name.clone()),
            credits: Set(p.credits),
            discount_percent: Set(p.discount_percent),
            price_cents: Set(p.price_cents(config.credit_price_cents)),
            currency: Set(config.currency.clone()),
        })
        .on_conflict(
            OnConflict::column(pack::Column::Id)
                .update_columns([
                    pack::Column::Name,
                    pack::Column::Credits,
                    pack::Column::DiscountPercent,
                    pack::Column::PriceCents,
                    pack::Column::Currency,
                ])
                .to_owned(),
        )
        .exec(db)
        .await?;
    }
    Ok(())
}
