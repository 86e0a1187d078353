//! knock-gui: the desktop front end of the knock suite.
//!
//! Everything a user does goes through `knock_profiles`: the same profile
//! file, types and sender as the `knock` CLI. The pieces:
//! - [`App`] owns the state; each frame it hands the views in [`ui`] the
//!   parts they show and applies the [`state::Intent`]s they return.
//! - [`state`] holds what views and app share; [`document`] is the profile
//!   file with its unsaved forms ([`draft`]), checked by the library's
//!   `from_fields` once per edit.
//! - A knock is the library's `resolve` of the form as typed, run by a
//!   [`Knocker`] as a job of the [`worker::Worker`], like every other piece
//!   of background work (tests inject fakes). Rotating profiles get their
//!   secrets from the [`app::Env`] (tests inject the keyring crate's mock
//!   store), loaded on the same worker.

pub mod app;
pub mod document;
pub mod draft;
pub mod headless;
pub mod knocker;
pub mod launch;
pub mod progress;
pub mod rotation;
pub mod state;
pub mod ui;
pub mod worker;

pub use app::App;
pub use knocker::Knocker;

/// The window icon (assets/knock.png).
pub const ICON_PNG: &[u8] = include_bytes!("../../assets/knock.png");

/// Opens the window (eframe, glow) and runs until it is closed.
pub fn run_window() -> anyhow::Result<()> {
    let mut viewport = egui::ViewportBuilder::default()
        .with_title("knock")
        .with_app_id("knock-gui")
        .with_inner_size([1120.0, 780.0])
        .with_min_inner_size([760.0, 480.0]);
    if let Ok(icon) = eframe::icon_data::from_png_bytes(ICON_PNG) {
        viewport = viewport.with_icon(icon);
    }
    let options = eframe::NativeOptions {
        viewport,
        renderer: eframe::Renderer::Glow,
        ..Default::default()
    };
    eframe::run_native(
        "knock-gui",
        options,
        Box::new(|cc| Ok(Box::new(App::from_creation_context(cc)?))),
    )
    .map_err(|e| anyhow::anyhow!("cannot open the window: {e}"))
}
