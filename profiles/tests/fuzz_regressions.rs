//! What the fuzz targets (fuzz/) found in knock-profiles, reduced to the
//! public API. A test marked `#[ignore]` is a known fault not fixed yet; its
//! input is under fuzz/regressions/known/ (see fuzz/regressions/README.md).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use knock_profiles::Sequence;
use knock_profiles::options::{Host, Millis, Options};
use knock_profiles::profile::Profile;
use knock_profiles::store::Store;

/// fuzz/regressions/store_edits/store_edits-u64-clamp: TOML integers are
/// i64; the store wrote a larger `delay_ms` / `wait_ms` (a `u64`, e.g. from
/// `knock --save NAME HOST 1 -d 18446744073709551615`) as i64::MAX without
/// a word. A `Millis` now holds at most `Millis::MAX` (typed text above it
/// is refused, the CLI refuses the flag), so what the store writes is what
/// it was given.
#[test]
fn upsert_writes_numbers_as_given_or_refuses_them() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("profiles.toml")).unwrap();
    let host = Host::parse("192.0.2.1").unwrap();
    let mut p = Profile::new(host, Sequence::parse("7000").unwrap());
    let given = Millis::new(u64::MAX);
    p.options.delay_ms = Some(given);
    if store.upsert("web", &p).is_ok() {
        let back = store.get("web").unwrap();
        assert_eq!(back.options.delay_ms, Some(given), "{}", store.text());
    }
    // Typed text past the file's range is refused, not clamped.
    let mut o = Options::default();
    assert!(o.set_text("delay_ms", "18446744073709551615").is_err());
    assert!(o.set_text("delay_ms", "9223372036854775807").is_ok());
}
