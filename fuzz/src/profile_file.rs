//! Target `profile_file`: the profile file (`profiles.toml`) as the CLI
//! and the GUI read it, and `knock --show`'s round trip.
//!
//! Input: the file's text. Checked:
//! - parse never panics; its errors format and point into the text;
//! - names found are valid names, each of one kind;
//! - every key set in `[defaults]` and in each profile shows as text
//!   (`Options::text`) that a form reads back (`Options::set_text`) to the
//!   same value; the first lines of the input, typed into each key, are
//!   refused with that key's name or read back the same way;
//! - every profile's shown settings (`settings_toml`, either kind) parse
//!   back to the same settings, as a profile of the same kind;
//! - the same settings, typed into a form's fields (`profile::from_fields`),
//!   give the same profile.
//!
//! There is no `validate()` any more: a parsed profile holds validated
//! types (`Host`, `Port`, `Millis`, `Launch`, ...), so the bad states it
//! refused cannot be built. What is checked instead is that the typed and
//! the shown forms of each value read back equal, and that what is refused
//! is refused by name.

use std::path::Path;

use knock_profiles::field::Value;
use knock_profiles::options::Options;
use knock_profiles::profile::{
    AnyProfile, Knocks, ProfileFile, Settings, from_fields, validate_name,
};
use knock_profiles::rotate;
use knock_profiles::secret::SecretSource;
use knock_profiles::store::settings_toml;

/// Lines of the input typed into every key (each key parses a line: a few
/// keep the fuzzer fast).
const TYPED_LINES: usize = 4;

pub fn run(data: &[u8]) {
    let text = crate::text(data);
    for line in text.lines().take(TYPED_LINES) {
        typed(line);
    }
    let origin = Path::new("profiles.toml");
    let file = match ProfileFile::parse(&text, origin) {
        Ok(f) => f,
        Err(e) => {
            let _ = e.to_string();
            let lines = text.split('\n').count();
            assert!(
                e.line >= 1 && e.line <= lines && e.col >= 1,
                "error outside the text ({lines} lines): {e}"
            );
            return;
        }
    };
    shows_back(&file.defaults, "[defaults]");
    let names = file.profiles.keys().chain(file.rotating.keys());
    for name in names {
        assert_eq!(validate_name(name), Ok(()), "{name:?}");
        let fixed = file.profiles.get(name);
        let rotating = file.rotating.get(name);
        let options = match (fixed, rotating) {
            (Some(_), Some(_)) => panic!("{name:?} is of both kinds"),
            (Some(p), None) => &p.options,
            (None, Some(p)) => &p.options,
            (None, None) => unreachable!("a name of the file"),
        };
        shows_back(options, name);
        let Some(settings) = file.settings(name) else {
            panic!("no settings for profile {name:?}");
        };
        let shown = settings_toml(&settings);
        let back = match ProfileFile::parse(&shown, origin) {
            Ok(b) => b,
            Err(e) => panic!("shown profile {name:?} does not parse: {e}\n{shown}"),
        };
        assert_eq!(back.settings(name).as_ref(), Some(&settings), "{shown}");
        assert_eq!(
            back.rotating.contains_key(name),
            rotating.is_some(),
            "shown profile {name:?} changed kind\n{shown}"
        );
        as_fields(&settings);
        let _ = file.closest_name(&format!("{name}x"));
    }
}

/// Every key set in `o` shows as text that reads back to the same value.
/// A string with whitespace around it reads back trimmed, as a form reads
/// it (and one of whitespace alone as unset).
fn shows_back(o: &Options, what: &str) {
    for &key in Options::KEYS {
        let Some(shown) = o.text(key) else {
            continue;
        };
        let mut back = Options::default();
        if let Err(e) = back.set_text(key, &shown) {
            panic!("{what}: {key} = {shown:?} shown, then refused: {e}");
        }
        if shown.trim().is_empty() {
            assert_eq!(back, Options::default(), "{what}: {key} = {shown:?}");
            continue;
        }
        let others: Vec<&str> = Options::KEYS
            .iter()
            .copied()
            .filter(|k| *k != key)
            .collect();
        if shown.trim() == shown {
            assert_eq!(
                back,
                o.clone().without(&others),
                "{what}: {key} = {shown:?} reads back otherwise"
            );
        }
        fixed_point(&back, key);
    }
}

/// `o`'s `key` shows as text that reads back to the same `o`.
fn fixed_point(o: &Options, key: &'static str) {
    let Some(shown) = o.text(key) else {
        panic!("{key} is set but shows no text: {o:?}");
    };
    let mut again = Options::default();
    match again.set_text(key, &shown) {
        Ok(()) => assert_eq!(&again, o, "{key} = {shown:?} reads back otherwise"),
        Err(e) => panic!("{key} = {shown:?} shown, then refused: {e}"),
    }
}

/// `line` typed into each key: refused by that key's name (and nothing
/// set), or read to a value that shows as text that reads back the same.
fn typed(line: &str) {
    for &key in Options::KEYS {
        let mut o = Options::default();
        match o.set_text(key, line) {
            Err(e) => {
                assert_eq!(e.key, key, "{line:?} typed into {key}: {e}");
                assert!(!e.to_string().is_empty(), "{key}: {e:?}");
                assert_eq!(o, Options::default(), "refused {line:?} set {key}");
            }
            Ok(()) if line.trim().is_empty() => {
                assert_eq!(o, Options::default(), "empty {line:?} set {key}");
            }
            Ok(()) => fixed_point(&o, key),
        }
    }
}

/// The settings typed into a form's fields, as the file would have them
/// (every key written): `from_fields` reads them to a profile with the same
/// settings.
fn as_fields(s: &Settings) {
    let host = s.host.to_string();
    let options = s.options.to_options().values();
    let (sequence, close, range);
    let mut fields: Vec<(&'static str, Value<'_>)> = vec![("host", Value::text(&host))];
    match &s.knocks {
        Knocks::Fixed(seq) => {
            sequence = seq.to_string();
            fields.push(("sequence", Value::text(&sequence)));
            close = s.close_sequence.as_ref().map(ToString::to_string);
            if let Some(c) = &close {
                fields.push(("close_sequence", Value::text(c)));
            }
        }
        Knocks::Rotating(spec) => {
            let params = &spec.params;
            fields.push(("rotate", Value::Bool(true)));
            match &spec.secret {
                SecretSource::Keyring => fields.push(("secret", Value::text("keyring"))),
                SecretSource::Command(cmd) => fields.push(("secret_cmd", Value::text(cmd))),
            }
            fields.push(("door", Value::text(&spec.door)));
            fields.push(("period_s", Value::Int(params.period_secs().into())));
            fields.push((
                "length",
                Value::Int(params.length.try_into().unwrap_or(i128::MAX)),
            ));
            range = rotate::format_range(&params.range);
            fields.push(("port_range", Value::text(&range)));
            let exclude = params.exclude.iter().map(|p| Value::Int(i128::from(*p)));
            fields.push(("exclude_ports", Value::Array(exclude.collect())));
            fields.push(("protocol", Value::text(params.protos.as_str())));
        }
    }
    for (key, value) in &options {
        let Some(value) = value else { continue };
        let value = if let Some(n) = value.as_integer() {
            Value::Int(n.into())
        } else if let Some(text) = value.as_str() {
            Value::text(text)
        } else {
            panic!("{key} = {value}: neither a number nor a string");
        };
        fields.push((key, value));
    }
    let what = format!("{fields:?}");
    let profile = match from_fields(&s.name, fields) {
        Ok(p) => p,
        Err(e) => panic!("the fields of {:?} are refused: {e:?}\n{what}", s.name),
    };
    assert_eq!(
        matches!(profile, AnyProfile::Rotating(_)),
        matches!(s.knocks, Knocks::Rotating(_)),
        "{what}"
    );
    assert_eq!(&profile.settings(&s.name, &Options::default()), s, "{what}");
}
