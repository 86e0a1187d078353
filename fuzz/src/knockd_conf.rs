//! Target `knockd_conf`: a knockd.conf as `knock-server --check` and
//! start-up read it: parse, describe, layout, the capture filter, the
//! detector.
//!
//! Input: the config text, optionally followed by a NUL byte and the text
//! of every `One_Time_Sequences` file it names (none: the file is missing).
//!
//! Checked:
//! - nothing panics, errors and warnings format;
//! - each door's sequence prints as text that parses back to it;
//! - `check_capacity` accepts the config exactly when `Detector::new`
//!   accepts its layout;
//! - the capture filter exists exactly when a door is enabled, and
//!   libpcap compiles it (with and without local addresses);
//! - every enabled door opens when its own sequence is knocked, and so
//!   does every rotating door in a step set from a test secret.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

use knock_profiles::knockd_conf::{self, KnockdConfig};
use knock_profiles::rotate::{Rotation, Secret};
use knock_profiles::{Proto, Sequence};
use knock_server::detector::{Destinations, Detector, DoorSpec, Notice};
use knock_server::doors;
use knock_server::event::Packet;
use knock_server::filter;

const ORIGIN: &str = "knockd.conf";

fn compiles(filter: &str) {
    // A dead capture compiles filters without an interface.
    if let Ok(dead) = pcap::Capture::dead(pcap::Linktype::ETHERNET)
        && let Err(e) = dead.compile(filter, true)
    {
        panic!("libpcap refuses the capture filter: {e}\n{filter}");
    }
}

/// Knocks door `door`'s sequence from `src` and checks that it opens.
fn knock_open(det: &mut Detector, door: usize, src: IpAddr) {
    let spec: DoorSpec = det.doors()[door].clone();
    let dst = spec.target.unwrap_or(match src {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)),
    });
    let mut opened = false;
    for (i, &knock) in spec.knocks.iter().enumerate() {
        let ev = Packet {
            src,
            dst,
            knock,
            flags: if knock.proto == Proto::Tcp {
                spec.flags.set
            } else {
                0
            },
            ts: 1_700_000_000_000,
        };
        det.on_event(&ev, ev.ts, &mut |n| {
            if n == (Notice::Opened { src, door }) {
                assert_eq!(
                    i + 1,
                    spec.knocks.len(),
                    "door {door} opened early: {spec:?}"
                );
                opened = true;
            }
        });
    }
    assert!(
        opened,
        "door {door} did not open for its own sequence: {spec:?}"
    );
}

pub fn run(data: &[u8]) {
    let (conf, one_time) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], Some(crate::text(&data[i + 1..]))),
        None => (data, None),
    };
    let text = crate::text(conf);
    let origin = Path::new(ORIGIN);
    let cfg = KnockdConfig::parse_with(&text, origin, &mut |_| match &one_time {
        Some(t) => Ok(t.to_string()),
        None => Err(std::io::Error::from(std::io::ErrorKind::NotFound)),
    });
    let cfg = match cfg {
        Ok(cfg) => cfg,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    for w in &cfg.warnings {
        let _ = w.to_string();
    }
    if let Some(t) = &one_time {
        let _ = knockd_conf::first_unused_sequence(t, Path::new("ots"));
    }
    for d in &cfg.doors {
        let shown = d.sequence.to_string();
        assert_eq!(Sequence::parse(&shown).as_ref(), Ok(&d.sequence), "{shown}");
        for c in [
            &d.commands.start,
            &d.commands.start_6,
            &d.commands.stop,
            &d.commands.stop_6,
        ]
        .into_iter()
        .flatten()
        {
            let _ = knockd_conf::appends_accept(c);
            let _ = knockd_conf::substitute_ip(c, &IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7)));
        }
    }
    let _ = doors::describe(&cfg, ORIGIN, &[]);
    let layout = doors::layout(&cfg);
    let fits = doors::check_capacity(&cfg, origin);
    let any_enabled = layout.specs.iter().any(|s| s.enabled);
    let f = filter::build(&layout.specs, &[], &[]);
    assert_eq!(f.is_some(), any_enabled, "{f:?}");
    if let Some(f) = f {
        compiles(&f);
        let locals = [
            IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
            IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)),
        ];
        if let Some(f) = filter::build(&layout.specs, &[], &locals) {
            compiles(&f);
        }
    }
    let det = Detector::new(layout.specs.clone(), Destinations::Any, 4096);
    assert_eq!(
        fits.is_ok(),
        det.is_ok(),
        "check_capacity: {fits:?}, Detector::new: {:?}",
        det.as_ref().err()
    );
    let Ok(mut det) = det else {
        return;
    };
    let src = |i: usize| IpAddr::V4(Ipv4Addr::new(198, 18, (i >> 8) as u8, i as u8));
    for (i, spec) in layout.specs.iter().enumerate() {
        if spec.enabled {
            knock_open(&mut det, i, src(i));
        }
    }
    // Rotating doors: a test secret, the steps of one moment.
    let Ok(secret) = Secret::from_bytes(vec![7; 20]) else {
        return;
    };
    for (d, &base) in cfg.rotating.iter().zip(&layout.rotating_base) {
        let rotation = Rotation::new(d.params.clone(), secret.clone());
        let rotation = match rotation {
            Ok(r) => r,
            Err(e) => panic!("door {}: parsed parameters refused: {e}", d.name),
        };
        let step = d.params.step(1_700_000_000);
        let seq = rotation.sequence_at(&d.name, step);
        assert_eq!(seq.len(), d.params.length, "door {}", d.name);
        for k in seq.knocks() {
            // What `Params::allowed_ports` lists (cheaper than searching it).
            let p = &d.params;
            let allowed = p.range.contains(&k.port) && !p.exclude.contains(&k.port);
            assert!(allowed, "door {}: {k} not allowed", d.name);
        }
        let slot = base + 1;
        assert_eq!(det.set_step(slot, step, seq.knocks()), Ok(true));
        knock_open(&mut det, slot, src(slot + 256));
    }
}
