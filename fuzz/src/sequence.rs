//! Target `sequence`: the small parsers of knock-profiles on one text:
//! knock sequences, a knock, TCP flags, port ranges and the rotation
//! sharing URI.
//!
//! Checked: nothing panics; what parses prints as text that parses back to
//! the same value (`Sequence`: knockd's form and the client's spaced form;
//! `TcpFlags`: "any" is the empty filter); a sharing URI read back from
//! `share_uri` is the same door, parameters and secret, and its sequences
//! have the parameters' length and ports.

use knock_profiles::rotate::{self, Rotation};
use knock_profiles::{Knock, Proto, Sequence, TcpFlags};

pub fn run(data: &[u8]) {
    let text = crate::text(data);
    let text = text.as_ref();

    for default in [Proto::Tcp, Proto::Udp] {
        if let Ok(s) = Sequence::parse_with_default(text, default) {
            assert!(!s.is_empty());
            let shown = s.to_string();
            assert_eq!(Sequence::parse(&shown).as_ref(), Ok(&s), "{shown}");
            let spaced: Vec<String> = s
                .iter()
                .map(|k| format!("{}:{}", k.port, k.proto))
                .collect();
            let spaced = spaced.join(" ");
            assert_eq!(Sequence::parse(&spaced).as_ref(), Ok(&s), "{spaced}");
            assert!(s.iter().all(|k| k.port != 0), "{s:?}");
            let args = Sequence::from_args(text.split('\n'), default);
            if !text.contains('\n') {
                assert_eq!(args.as_ref(), Ok(&s));
            }
        }
    }
    if let Ok(k) = text.parse::<Knock>() {
        assert_eq!(k.to_string().parse::<Knock>(), Ok(k));
        assert_ne!(k.port, 0);
    }
    if let Ok(f) = TcpFlags::parse(text) {
        assert_eq!(f.set & f.clear, 0, "{f:?}");
        assert_eq!((f.set | f.clear) & !0x3f, 0, "{f:?}");
        let shown = f.to_string();
        let again = if f.is_any() {
            String::new()
        } else {
            shown.clone()
        };
        assert_eq!(TcpFlags::parse(&again), Ok(f), "{shown}");
        for bits in 0..=0x3fu8 {
            assert_eq!(
                f.matches(bits),
                bits & f.set == f.set && bits & f.clear == 0
            );
        }
    }
    if let Ok(r) = rotate::parse_range(text) {
        assert!(*r.start() >= 1 && r.start() <= r.end(), "{r:?}");
        let shown = rotate::format_range(&r);
        assert_eq!(rotate::parse_range(&shown), Ok(r), "{shown}");
    }
    match rotate::parse_share_uri(text) {
        Ok((door, params, secret)) => {
            assert_eq!(params.validate(), Ok(()));
            let uri = rotate::share_uri(&door, &params, &secret);
            match rotate::parse_share_uri(&uri) {
                Ok((d, p, s)) => {
                    assert_eq!(d, door, "{uri}");
                    assert_eq!(p, params, "{uri}");
                    assert!(s == secret, "{uri}: another secret");
                }
                Err(e) => panic!("{uri}: {e}"),
            }
            let rotation = match Rotation::new(params.clone(), secret) {
                Ok(r) => r,
                Err(e) => panic!("{uri}: parameters refused: {e}"),
            };
            for step in [0, 1, u64::MAX] {
                let seq = rotation.sequence_at(&door, step);
                assert_eq!(seq.len(), params.length, "{uri}");
                for k in seq.knocks() {
                    // What `Params::allowed_ports` lists (cheaper than searching it).
                    let allowed =
                        params.range.contains(&k.port) && !params.exclude.contains(&k.port);
                    assert!(allowed, "{uri}: {k} not allowed");
                }
            }
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
}
