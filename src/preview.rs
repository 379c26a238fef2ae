//! The built-in preview renderer (`renderer = "builtin"`, the embedded default's): a
//! worker that claims render jobs through the same ledger operations as an external
//! render service, and completes each with an SVG the service serves itself at
//! `/previews/<edit id>.svg`, layering the background, the original photo and the logo
//! at its corner. The SVG only names those images by their URLs, for the browser to
//! load: the service fetches nothing, so no dealer's URL can make it send a request.
use std::time::Duration;

use entity::enums::LogoPosition;
use entity::{edit, logo, photo};
use sea_orm::EntityTrait;
use tokio::task::JoinHandle;

use crate::auth::Role;
use crate::db;
use crate::error::Error;
use crate::ids::{IdCodec, Kind};
use crate::ledger::{Actor, Ledger, MAX_CLAIM, RenderResult};

/// How often the worker looks for jobs when the queue was empty.
const TICK: Duration = Duration::from_millis(500);

/// Who the built-in renderer acts as in the history.
pub const RENDERER_USER: &str = "builtin-renderer";

const WIDTH: u32 = 1200;
const HEIGHT: u32 = 800;
const LOGO_WIDTH: u32 = 240;
const LOGO_HEIGHT: u32 = 120;
const MARGIN: u32 = 32;

/// Starts the worker; the images it reports are under `base_url` (`http://host:port`).
/// Abort the handle to stop it (a claim it was in rolls back; a job it held comes
/// back after its lease).
pub fn spawn(ledger: Ledger, ids: IdCodec, base_url: String) -> JoinHandle<()> {
    let ledger = ledger.acting_as(Actor {
        user_id: RENDERER_USER.into(),
        role: Role::Renderer,
    });
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(TICK);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            if let Err(e) = render_waiting(&ledger, &ids, &base_url).await {
                tracing::error!(error = %e, "the built-in renderer failed; will try again");
            }
        }
    })
}

/// Claims what waits and completes each job with its preview's URL.
async fn render_waiting(ledger: &Ledger, ids: &IdCodec, base_url: &str) -> Result<(), Error> {
    for job in ledger.claim_render_jobs(MAX_CLAIM).await? {
        let image_url = format!("{base_url}/previews/{}.svg", ids.encode(Kind::PhotoEdit, job.edit.id));
        ledger
            .finish_render(job.claim, &RenderResult::Ready { image_url })
            .await?;
    }
    Ok(())
}

/// The preview of the edit a global id names; none for an id of nothing.
pub async fn preview(ledger: &Ledger, ids: &IdCodec, edit_id: &str) -> Result<Option<String>, Error> {
    let Some(edit_id) = ids.decode_i64(Kind::PhotoEdit, edit_id) else {
        return Ok(None);
    };
    let Some(edit) = db::by_key(edit::Entity::find_by_id(edit_id), ledger.db()).await? else {
        return Ok(None);
    };
    let photo = db::by_key(photo::Entity::find_by_id(edit.photo_id), ledger.db())
        .await?
        .ok_or_else(|| Error::Internal(format!("edit {edit_id} names no photo")))?;
    let logo = match edit.logo_id {
        Some(id) => db::by_key(logo::Entity::find_by_id(id), ledger.db()).await?,
        None => None,
    };
    let background = ledger
        .config()
        .backgrounds
        .iter()
        .find(|b| b.id == edit.background_id)
        .map(|b| b.preview_url.as_str());
    Ok(Some(svg(
        background,
        &photo.original_url,
        logo.as_ref().map(|l| l.image_url.as_str()).zip(edit.logo_position),
    )))
}

/// The SVG of a background, a photo on it, and a logo at its corner.
fn svg(background: Option<&str>, original: &str, logo: Option<(&str, LogoPosition)>) -> String {
    let mut layers = String::new();
    match background {
        Some(url) => layers.push_str(&image(url, 0, 0, WIDTH, HEIGHT, "xMidYMid slice")),
        None => layers.push_str(&format!(r##"<rect width="{WIDTH}" height="{HEIGHT}" fill="#ddd"/>"##)),
    }
    layers.push_str(&image(
        original,
        WIDTH / 12,
        HEIGHT / 12,
        WIDTH * 5 / 6,
        HEIGHT * 5 / 6,
        "xMidYMid meet",
    ));
    if let Some((url, position)) = logo {
        let (left, top) = (MARGIN, MARGIN);
        let (right, bottom) = (WIDTH - MARGIN - LOGO_WIDTH, HEIGHT - MARGIN - LOGO_HEIGHT);
        let (x, y) = match position {
            LogoPosition::TopLeft => (left, top),
            LogoPosition::TopRight => (right, top),
            LogoPosition::BottomLeft => (left, bottom),
            LogoPosition::BottomRight => (right, bottom),
        };
        layers.push_str(&image(url, x, y, LOGO_WIDTH, LOGO_HEIGHT, "xMidYMid meet"));
    }
    format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}">{layers}</svg>"#
    )
}

fn image(url: &str, x: u32, y: u32, width: u32, height: u32, fit: &str) -> String {
    format!(
        r#"<image href="{}" x="{x}" y="{y}" width="{width}" height="{height}" preserveAspectRatio="{fit}"/>"#,
        escape(url)
    )
}

/// `text` as an XML attribute value: a URL cannot close the attribute or the tag.
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&apos;"),
            c => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_preview_layers_background_photo_and_logo_at_its_corner() {
        let svg = svg(
            Some("https://cdn.example/bg.jpg"),
            "https://img.example/car.jpg",
            Some(("https://img.example/logo.png", LogoPosition::BottomRight)),
        );
        let background = svg.find("https://cdn.example/bg.jpg").unwrap();
        let photo = svg.find("https://img.example/car.jpg").unwrap();
        let logo = svg
            .find(r#"href="https://img.example/logo.png" x="928" y="648""#)
            .unwrap();
        assert!(background < photo && photo < logo, "{svg}");
    }

    #[test]
    fn a_url_cannot_break_out_of_its_attribute() {
        let svg = svg(None, r#"https://img.example/"><script>alert(1)</script>"#, None);
        assert!(!svg.contains("<script>"), "{svg}");
        assert!(svg.contains("&quot;&gt;&lt;script&gt;"), "{svg}");
    }
}
