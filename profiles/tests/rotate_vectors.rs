//! Known-answer vectors for rotating sequences: `testdata/rotate-vectors.toml`
//! was computed by an independent implementation (`testdata/rotate-vectors.py`)
//! from the scheme written in `src/rotate.rs`. The server's tests read the
//! same file (`knock_profiles::rotate` is the code both sides run).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::time::Duration;

use knock_profiles::Sequence;
use knock_profiles::rotate::{Params, Rotation, parse_range};
use knock_profiles::secret::Secret;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Vector {
    name: String,
    secret: String,
    door: String,
    unix_time: u64,
    period_s: u64,
    length: usize,
    port_range: String,
    exclude_ports: Vec<u16>,
    protocol: String,
    step: u64,
    sequence: String,
}

#[derive(Deserialize)]
struct File {
    vector: Vec<Vector>,
}

fn vectors() -> Vec<Vector> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/rotate-vectors.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    toml::from_str::<File>(&text).unwrap().vector
}

#[test]
fn derivation_matches_the_independent_vectors() {
    let vectors = vectors();
    assert!(vectors.len() >= 10);
    for v in vectors {
        let params = Params {
            period: Duration::from_secs(v.period_s),
            length: v.length,
            range: parse_range(&v.port_range).unwrap(),
            exclude: v.exclude_ports.clone(),
            protos: v.protocol.parse().unwrap(),
        };
        let rotation = Rotation::new(params, Secret::parse_base32(&v.secret).unwrap()).unwrap();
        let (step, seq) = rotation.sequence_now(&v.door, v.unix_time);
        assert_eq!(step, v.step, "{}", v.name);
        assert_eq!(seq, Sequence::parse(&v.sequence).unwrap(), "{}", v.name);
        assert_eq!(seq.to_string(), v.sequence, "{}", v.name);
    }
}
