//! Known answers from the real fwknop client (Debian's fwknop-client 2.6.10):
//! the packets and field dumps in testdata/spa/ (made by its make.sh).
//! Every field `fwknop -v` printed must come out of our decoder, and our
//! encoder, given fwknop's random value, timestamp and salt, must make the
//! very same packet.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use data_encoding::BASE64_NOPAD;
use knock_profiles::Proto;
use knock_profiles::fwknop_keys::parse_key_gen;
use knock_profiles::spa::{
    self, AllowIp, ClientTimeout, EncryptionKey, HmacKey, Message, SpaError, SpaKeys,
};

fn testdata(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/spa")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn keys() -> SpaKeys {
    parse_key_gen(&testdata("keys")).expect("testdata/spa/keys")
}

fn passphrase_keys() -> SpaKeys {
    SpaKeys {
        encryption: EncryptionKey::from_passphrase("correct horse battery").expect("key"),
        hmac: HmacKey::from_passphrase("staple hmac key").expect("key"),
    }
}

/// The packet as `--save-packet` wrote it, without the newline.
fn packet(name: &str) -> Vec<u8> {
    testdata(&format!("{name}.pkt"))
        .trim_end()
        .as_bytes()
        .to_vec()
}

/// One field of the first "SPA Field Values" block of `fwknop -v`.
fn field(dump: &str, name: &str) -> String {
    let prefix = format!("{name}: ");
    dump.lines()
        .map(str::trim_start)
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no {name:?} in the fwknop dump"))
        .to_string()
}

/// The salt fwknop chose, from the packet itself (bytes 8..16 of the
/// base64-decoded `Salted__` block).
fn salt_of(packet: &[u8]) -> [u8; 8] {
    let body = &packet[..packet.len() - 43];
    let mut text = b"U2FsdGVkX1".to_vec();
    // 24 base64 characters are 18 bytes: the first 16 are "Salted__" and the salt.
    text.extend_from_slice(&body[..14]);
    let raw = BASE64_NOPAD.decode(&text).expect("base64");
    assert_eq!(&raw[..8], b"Salted__");
    raw[8..16].try_into().expect("8 bytes")
}

/// Decodes `name` and checks every field against fwknop's own dump, then
/// re-encodes it with fwknop's salt and wants fwknop's packet back.
fn check_known_answer(name: &str, keys: &SpaKeys) -> Message {
    let dump = testdata(&format!("{name}.fields"));
    let pkt = packet(name);
    assert_eq!(
        field(&dump, "Final SPA Data").as_bytes(),
        &pkt[..],
        "the dump is of this packet"
    );
    let msg = spa::decode(&pkt, keys).unwrap_or_else(|e| panic!("{name}: {e}"));

    assert_eq!(msg.random.as_str(), field(&dump, "Random Value"));
    assert_eq!(msg.user.as_str(), field(&dump, "Username"));
    assert_eq!(msg.timestamp.to_string(), field(&dump, "Timestamp"));
    assert_eq!(msg.version.as_str(), field(&dump, "FKO Version"));
    let kind = field(&dump, "Message Type");
    assert_eq!(
        kind.split_whitespace().next(),
        Some(msg.message_type().to_string().as_str()),
        "{kind}"
    );
    assert_eq!(msg.access_string(), field(&dump, "Message String"));
    assert_eq!(
        msg.client_timeout
            .map_or(0, ClientTimeout::secs)
            .to_string(),
        field(&dump, "Client Timeout")
    );
    assert_eq!(
        msg.encoded().expect("encodes"),
        field(&dump, "Encoded Data")
    );
    // `--dry-run` shows the fields as fwknop does.
    for line in msg.to_string().lines() {
        assert!(dump.contains(line), "{line:?} is not in fwknop's dump");
    }

    let again = spa::encode_with_salt(&msg, keys, salt_of(&pkt)).expect("encodes");
    assert_eq!(
        again.as_bytes(),
        &pkt[..],
        "{name}: our encoder makes fwknop's packet"
    );
    assert!(again.ends_with(&field(&dump, "HMAC")));
    msg
}

#[test]
fn access_request_from_fwknop() {
    let msg = check_known_answer("access", &keys());
    assert_eq!(msg.allow, AllowIp::Addr("192.0.2.2".parse().expect("ip")));
    assert_eq!(msg.ports.to_string(), "tcp/22");
    assert_eq!(msg.client_timeout, None);
    assert_eq!(msg.user.as_str(), "alice");
}

#[test]
fn several_ports_and_source_address_from_fwknop() {
    let msg = check_known_answer("source-multi", &keys());
    assert_eq!(msg.allow, AllowIp::Source);
    let ports: Vec<(Proto, u16)> = msg
        .ports
        .as_slice()
        .iter()
        .map(|p| (p.proto, p.port))
        .collect();
    assert_eq!(
        ports,
        [(Proto::Tcp, 22), (Proto::Udp, 53), (Proto::Tcp, 443)]
    );
}

#[test]
fn client_timeout_from_fwknop() {
    let msg = check_known_answer("client-timeout", &keys());
    assert_eq!(msg.client_timeout, ClientTimeout::new(300));
    assert_eq!(msg.message_type(), 3);
    assert_eq!(msg.user.as_str(), "carol.d_e");
}

#[test]
fn passphrase_keys_from_fwknop() {
    check_known_answer("passphrase", &passphrase_keys());
    // The other keys do not open it: the HMAC is checked first.
    assert_eq!(
        spa::decode(&packet("passphrase"), &keys()),
        Err(SpaError::BadHmac)
    );
}

#[test]
fn time_offset_shows_in_the_timestamp() {
    let stale = check_known_answer("stale", &keys());
    let fresh = spa::decode(&packet("access"), &keys()).expect("decodes");
    // Made seconds apart, the stale one 10 minutes back.
    let diff = fresh.timestamp as i64 - stale.timestamp as i64;
    assert!((590..=660).contains(&diff), "{diff}");
}

#[test]
fn refused_what_we_do_not_support() {
    assert_eq!(
        spa::decode(&packet("sha512-digest"), &keys()),
        Err(SpaError::UnsupportedDigest { len: 86 })
    );
    // Without an HMAC the last 43 characters are ciphertext, not a tag.
    assert_eq!(
        spa::decode(&packet("no-hmac"), &keys()),
        Err(SpaError::BadHmac)
    );
}

#[test]
fn wrong_encryption_key_with_the_right_hmac_key() {
    let mut wrong = keys();
    wrong.encryption = EncryptionKey::from_passphrase("not the key").expect("key");
    assert_eq!(
        spa::decode(&packet("access"), &wrong),
        Err(SpaError::Decrypt)
    );
}

#[test]
fn the_salted_prefix_put_back_is_refused_before_the_hmac() {
    let mut pkt = b"U2FsdGVkX1".to_vec();
    pkt.extend(packet("access"));
    assert_eq!(spa::decode(&pkt, &keys()), Err(SpaError::SaltedPrefix));
}

#[test]
fn any_change_to_a_real_packet_fails_the_hmac() {
    let pkt = packet("access");
    let keys = keys();
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for i in 0..pkt.len() {
        let mut bad = pkt.clone();
        let pos = alphabet.iter().position(|&c| c == bad[i]).expect("base64");
        // A neighbour in the alphabet: the smallest change at this spot
        // (for the last character, also one that differs only in the
        // unused low bits of the base64 quantum).
        bad[i] = alphabet[pos ^ 1];
        assert_eq!(spa::decode(&bad, &keys), Err(SpaError::BadHmac), "byte {i}");
    }
    let mut short = pkt.clone();
    short.truncate(pkt.len() - 1);
    assert_eq!(spa::decode(&short, &keys), Err(SpaError::BadHmac));
}

#[test]
fn the_replay_digest_is_of_the_whole_packet() {
    let a = packet("access");
    let b = packet("stale");
    assert_ne!(spa::replay_digest(&a), spa::replay_digest(&b));
    assert_eq!(spa::replay_digest(&a), spa::replay_digest(&a.clone()));
}
