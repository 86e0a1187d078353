//! Target `profile_file`: the profile file (`profiles.toml`) as the CLI
//! and the GUI read it, and `knock --show`'s round trip.
//!
//! Input: the file's text. Checked: parse never panics and its errors
//! format; the store opens the same text the same way; every profile's
//! shown settings (`settings_toml`, `rotating_toml`) parse back to the same
//! settings; names found are valid names.

use std::path::Path;

use knock_profiles::profile::{ProfileFile, validate_name};
use knock_profiles::store::{rotating_toml, settings_toml};

pub fn run(data: &[u8]) {
    let text = crate::text(data);
    let origin = Path::new("profiles.toml");
    let file = match ProfileFile::parse(&text, origin) {
        Ok(f) => f,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    let _ = file.defaults.validate();
    for (name, p) in &file.profiles {
        assert_eq!(validate_name(name), Ok(()), "{name:?}");
        assert!(
            !file.rotating.contains_key(name),
            "{name:?} is of both kinds"
        );
        let _ = p.validate();
        let Some(settings) = file.settings(name) else {
            panic!("no settings for profile {name:?}");
        };
        let shown = settings_toml(&settings);
        let back = match ProfileFile::parse(&shown, origin) {
            Ok(b) => b,
            Err(e) => panic!("shown profile {name:?} does not parse: {e}\n{shown}"),
        };
        assert_eq!(back.settings(name).as_ref(), Some(&settings), "{shown}");
        let _ = file.closest_name(&format!("{name}x"));
    }
    for (name, p) in &file.rotating {
        assert_eq!(validate_name(name), Ok(()), "{name:?}");
        let shown = rotating_toml(name, p, &file.defaults);
        let back = match ProfileFile::parse(&shown, origin) {
            Ok(b) => b,
            Err(e) => panic!("shown rotating profile {name:?} does not parse: {e}\n{shown}"),
        };
        assert_eq!(
            back.rotating.get(name).map(|b| &b.rotation),
            Some(&p.rotation),
            "{shown}"
        );
        assert_eq!(
            back.rotating_settings(name),
            file.rotating_settings(name),
            "{shown}"
        );
    }
}
