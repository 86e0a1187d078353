//! Writes the seed corpora, fuzz/corpus/TARGET/NAME, from the example
//! files in assets/ and the cases of the unit tests:
//!
//!     cargo run --manifest-path fuzz/Cargo.toml --example seeds
//!
//! Existing files of the same name are replaced; others are left alone.

use std::fs;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use knock_fuzz::detector::{Script, SeedDoor};
use knock_profiles::{Knock, TcpFlags};
use knock_server::event::build;

const SEQ: [Knock; 3] = [Knock::tcp(7000), Knock::tcp(8000), Knock::tcp(9000)];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn write(target: &str, name: &str, bytes: &[u8]) {
    let dir = repo().join("fuzz/corpus").join(target);
    let path = dir.join(name);
    let done = fs::create_dir_all(&dir).and_then(|()| fs::write(&path, bytes));
    if let Err(e) = done {
        eprintln!("seeds: cannot write {}: {e}", path.display());
        std::process::exit(1);
    }
}

fn asset(path: &str) -> Vec<u8> {
    let full = repo().join(path);
    fs::read(&full).unwrap_or_else(|e| {
        eprintln!("seeds: cannot read {}: {e}", full.display());
        std::process::exit(1);
    })
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn syn() -> TcpFlags {
    TcpFlags {
        set: TcpFlags::SYN,
        clear: 0,
    }
}

fn door(knocks: &[Knock], timeout: u8) -> SeedDoor<'_> {
    SeedDoor {
        knocks,
        flags: syn(),
        timeout,
        target: None,
        enabled: true,
    }
}

fn detector() {
    let t = "detector";
    // The three-knock door opens (tests: opens_on_the_sequence).
    let mut s = Script::new(0x11, &[door(&SEQ, 50)]);
    for k in SEQ {
        s.packet(0, k, 0, 0, 10);
    }
    write(t, "open", &s.bytes);
    // A wrong knock breaks it, then a timeout, a retransmission, a restart.
    let mut s = Script::new(0x01, &[door(&SEQ, 50)]);
    s.packet(0, SEQ[0], 0, 0, 1)
        .packet(0, SEQ[0], 0, 0, 1)
        .packet(0, Knock::tcp(22), 0, 0, 1)
        .packet(0, SEQ[1], 0, 0, 1)
        .packet(1, SEQ[0], 0, 0, 1)
        .packet_secs(1, SEQ[1], 6, false)
        .packet(1, SEQ[0], 0, 0, 1)
        .packet(1, SEQ[0], 0, 0, 1)
        .packet(1, SEQ[1], 0, 0, 1)
        .packet(1, SEQ[2], 0, 0, 1);
    write(t, "break-timeout-restart", &s.bytes);
    // Issue 10, item 1: a one-time door moves to a shorter sequence in the
    // same tick as an attempt past the new length.
    let long = [
        Knock::tcp(7000),
        Knock::tcp(8000),
        Knock::tcp(9000),
        Knock::tcp(7001),
    ];
    let short = [Knock::tcp(22), Knock::tcp(1)];
    let mut s = Script::new(0x11, &[door(&long, 50)]);
    s.packet(0, long[0], 0, 0, 0)
        .packet(0, long[1], 0, 0, 0)
        .packet(0, long[2], 0, 0, 0)
        .set_sequence(0, &short)
        .packet(0, Knock::tcp(1), 0, 0, 0)
        .packet(0, Knock::tcp(22), 0, 0, 0)
        .packet(0, Knock::tcp(1), 0, 0, 0);
    write(t, "one-time-shorter", &s.bytes);
    // The same with packet time going backwards.
    let mut s = Script::new(0x11, &[door(&long, 50)]);
    s.packet(0, long[0], 0, 0, 0)
        .packet(0, long[1], 0, 0, 0)
        .packet(0, long[2], 0, 0, 0)
        .packet_secs(5, Knock::tcp(1), 3, false)
        .set_sequence(0, &short)
        .packet_secs(0, Knock::tcp(1), 10, true)
        .disable(0)
        .packet(0, Knock::tcp(22), 0, 0, 0);
    write(t, "one-time-backwards", &s.bytes);
    // Rotating steps (three doors), a replay, a burn, a step that moves on.
    let off = |knocks| SeedDoor {
        knocks,
        flags: syn(),
        timeout: 50,
        target: None,
        enabled: false,
    };
    let step = [Knock::tcp(7000), Knock::udp(8000)];
    let mut s = Script::new(0x05, &[off(&SEQ), off(&SEQ), off(&SEQ)]);
    s.set_step(0, 1, &step)
        .set_step(1, 2, &SEQ)
        .packet(0, step[0], 0, 0, 1)
        .packet(0, step[1], 0, 0, 1)
        .packet(1, step[0], 0, 0, 1)
        .packet(1, step[1], 0, 0, 1)
        .burn(1)
        .set_step(0, 1, &step)
        .set_step(0, 4, &SEQ)
        .sweep();
    write(t, "rotating", &s.bytes);
    // Targets, destinations and flags (a door per family, SYN,!ACK).
    let v6 = SeedDoor {
        knocks: &SEQ,
        flags: TcpFlags {
            set: TcpFlags::SYN,
            clear: TcpFlags::ACK,
        },
        timeout: 50,
        target: Some(1),
        enabled: true,
    };
    let mut s = Script::new(0x04, &[door(&SEQ, 50), v6]);
    for k in SEQ {
        s.packet(2, k, 1, 0, 5)
            .packet(3, k, 1, 2, 5)
            .packet(4, k, 2, 0, 5);
    }
    write(t, "targets-flags", &s.bytes);
    // A flood of first knocks from many sources into a one-bucket table.
    let mut s = Script::new(0x00, &[door(&SEQ, 50), door(&[Knock::tcp(7000)], 0)]);
    for i in 0..40u8 {
        s.bytes.extend([6, 0, i, 0, 0, 1]);
    }
    s.packet(0, SEQ[1], 0, 0, 1)
        .packet(0, SEQ[2], 0, 0, 1)
        .jump(-3600)
        .jump(7200);
    write(t, "flood", &s.bytes);
}

fn packets() {
    let t = "packets";
    let cases = [
        (
            "v4-tcp-syn",
            "192.0.2.7",
            "192.0.2.1",
            Knock::tcp(7000),
            TcpFlags::SYN,
        ),
        ("v6-udp", "2001:db8::7", "2001:db8::1", Knock::udp(8000), 0),
        (
            "v4-tcp-synack",
            "192.0.2.7",
            "192.0.2.1",
            Knock::tcp(9000),
            TcpFlags::SYN | TcpFlags::ACK,
        ),
        (
            "v6-tcp-all",
            "2001:db8::7",
            "2001:db8::1",
            Knock::tcp(65535),
            0x3f,
        ),
    ];
    for (name, s, d, k, f) in cases {
        let Some(frame) = build::ethernet(ip(s), ip(d), k, f) else {
            panic!("{name}: no frame");
        };
        // As the target reads them: the IP packet, and the whole frame.
        write(t, &format!("{name}-ip"), &frame[14..]);
        write(t, &format!("{name}-ethernet"), &frame);
        write(t, &format!("{name}-sll"), &build::ethernet_to_sll(&frame));
    }
}

fn texts() {
    write(
        "knockd_conf",
        "assets-knockd.conf",
        &asset("assets/knockd.conf"),
    );
    for f in [
        "knock-iptables.conf",
        "knock-nftables.conf",
        "knock-ipfw.conf",
    ] {
        write("knockd_conf", f, &asset(&format!("assets/firewall/{f}")));
    }
    write(
        "knockd_conf",
        "every-key",
        b"# a comment\n[options]\n    UseSyslog\n    LogFile = /var/log/knockd.log\n    \
          PidFile=/run/knockd.pid\n    Interface   =   eth1\n\n[openSSH]\n    \
          Sequence    = 7000,8000:udp,9000\n    Seq_Timeout = 5\n    TCPFlags    = syn,!ack\n    \
          Start_Command = /sbin/iptables -I INPUT -s %IP% -p tcp --dport 22 -j ACCEPT\n    \
          Start_Command_6 = /sbin/ip6tables -I INPUT -s %IP% -p tcp --dport 22 -j ACCEPT\n    \
          Cmd_Timeout = 30\n    \
          Stop_Command = /sbin/iptables -D INPUT -s %IP% -p tcp --dport 22 -j ACCEPT\n    \
          Stop_Command_6 = /sbin/ip6tables -D INPUT -s %IP% -p tcp --dport 22 -j ACCEPT\n    \
          Target = 192.0.2.1\n\n  [closeSSH]\n    sequence = 9000,8000,7000\n    \
          command = echo '# not a comment' %IP%\n    command_6 =\n    TARGET = 2001:db8::1\n",
    );
    write(
        "knockd_conf",
        "headerless",
        b"logfile = /var/log/knockd.log\ninterface = eth0\nsequence = 7000,8000,9000\n\
          seq_timeout = 10\ncommand = /bin/true %IP%\nsequence = 1:udp\ntcpflags = fin\n",
    );
    write(
        "knockd_conf",
        "rotating",
        b"[vault]\n    Rotate      = yes\n    Secret_File = /etc/knock/vault.secret\n    \
          Period      = 30\n    Length      = 4\n    Port_Range  = 10000-60000\n    \
          Exclude     = 22,443\n    Protocol    = both\n    Start_Command = /bin/true %IP%\n",
    );
    write(
        "knockd_conf",
        "one-time",
        b"[ots]\none_time_sequences = /etc/knockd/ots\nsequence = 9\n\0# used\n\n7000,8000:udp\n9000\n",
    );

    let profiles = asset("assets/profiles.toml");
    let shown = b"[defaults]\ndelay_ms = 50\nuser = \"o'neil \\\\ \\\"admin\\\"\"\n\n\
        [profiles.web]\nhost = \"we\\\"b\\\\x\"\nsequence = \"7000,8000:udp\"\n\
        close_sequence = \"8000:udp,7000\"\nopen_port = 22\nlaunch = \"mosh {user}@{host}\"\n\n\
        [profiles.plain]\nhost = \"192.0.2.1\"\nsequence = \"1\"\n\n\
        [profiles.vault]\nhost = \"va\\\"ult\\\\\"\nrotate = true\n\
        secret_cmd = \"pass show \\\"knock/vault\\\"\"\nexclude_ports = [22, 443]\n\
        protocol = \"both\"\nretries = 2\n";
    write("profile_file", "assets-profiles.toml", &profiles);
    write("profile_file", "shown", shown);
    write(
        "profile_file",
        "inline-dotted",
        b"profiles.a = { host = \"192.0.2.1\", sequence = \"1,2\" }\n\
          [profiles.b]\nhost = \"h\"\nsequence = \"3\"\nfamily = \"IPv6\"\n",
    );

    // Edits: upsert, upsert rotating, rename, remove, save (see store_edits.rs).
    let mut edits = profiles.clone();
    edits.extend([0, 0, 0, 1, 0, 1, 0xff, 1, 2, 1, 7, 3, 2, 0x80, 8, 3, 8, 4]);
    write("store_edits", "assets-profiles.toml", &edits);
    let mut edits = shown.to_vec();
    edits.extend([
        0, 1, 0x80, 0, 0x7f, 9, 3, 2, 0, 0, 0x80, 0x81, 0, 0x81, 4, 0, 1, 0, 4,
    ]);
    write("store_edits", "shown", &edits);
    write(
        "store_edits",
        "empty",
        &[0, 0, 0, 0, 0, 0, 0, 4, 2, 0, 1, 4, 3, 1, 4],
    );

    for (name, text) in [
        ("knockd", "7000,8000:udp,9000"),
        ("client", "7000 8000:UDP\t9000:tcp"),
        ("flags", "syn,!ack"),
        ("all-flags", "fin,syn,rst,psh,ack,urg"),
        ("range", "10000 - 60000"),
        (
            "share-uri",
            "knock://rotate?door=my%20server&secret=GAYTEMZUGU3DOOBZMFRGGZDFMZTWQ2LK&period=30&length=4&range=10000-60000&exclude=22,443&protocol=both",
        ),
    ] {
        write("sequence", name, text.as_bytes());
    }
}

fn main() {
    detector();
    packets();
    texts();
}
