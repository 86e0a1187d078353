//! Makes and opens fwknop SPA packets with `knock_profiles::spa`, for the
//! end-to-end test against the real fwknopd (tests/spa-e2e.sh) and for
//! looking at packets by hand. Sends nothing.
//!
//! ```text
//! cargo run -p knock-profiles --example spa -- encode --keys KEYFILE --access tcp/22 \
//!     [--allow IP|source] [--user NAME] [--timeout SECS] [--time-offset SECS]
//! cargo run -p knock-profiles --example spa -- decode --keys KEYFILE [PACKET_FILE]
//! cargo run -p knock-profiles --example spa -- gen-keys
//! cargo run -p knock-profiles --example spa -- stanza --keys KEYFILE [--access tcp/22]
//! ```
//!
//! KEYFILE holds `fwknop --key-gen` output. `encode` prints the packet;
//! `decode` prints its fields as `fwknop -v` does, or why it was refused;
//! `gen-keys` prints new keys as `fwknop --key-gen` does; `stanza` prints
//! an access.conf stanza for the keys.

use std::error::Error;
use std::io::Read;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use knock_profiles::fwknop_access::format_stanza;
use knock_profiles::fwknop_keys::{format_key_gen, parse_key_gen};
use knock_profiles::spa::{self, AllowIp, ClientTimeout, Message, PortList, SpaKeys, Username};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("spa: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let cmd = args
        .next()
        .ok_or("usage: spa encode|decode|stanza --keys FILE ... | spa gen-keys")?;
    if cmd == "gen-keys" {
        print!("{}", format_key_gen(&SpaKeys::generate()?).as_str());
        return Ok(());
    }
    let mut keys: Option<SpaKeys> = None;
    let mut access: Option<PortList> = None;
    let mut allow = AllowIp::Source;
    let mut user = Username::new("knock")?;
    let mut timeout = None;
    let mut offset: i64 = 0;
    let mut file: Option<String> = None;
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{a} needs a value"));
        match a.as_str() {
            "--keys" => {
                let path = value()?;
                let text = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
                keys = Some(parse_key_gen(&text).map_err(|e| format!("{path}: {e}"))?);
            }
            "--access" => access = Some(value()?.parse()?),
            "--allow" => {
                let v = value()?;
                allow = if v == "source" {
                    AllowIp::Source
                } else {
                    AllowIp::Addr(v.parse()?)
                };
            }
            "--user" => user = value()?.parse()?,
            "--timeout" => {
                let v: u32 = value()?.parse()?;
                timeout = Some(ClientTimeout::new(v).ok_or("--timeout: 1-65536 seconds")?);
            }
            "--time-offset" => offset = value()?.parse()?,
            _ if file.is_none() && !a.starts_with("--") => file = Some(a),
            _ => return Err(format!("unknown argument {a}").into()),
        }
    }
    let keys = keys.ok_or("--keys FILE is required")?;
    match cmd.as_str() {
        "encode" => {
            let access = access.ok_or("--access tcp/22 is required")?;
            let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
            let ts = now
                .checked_add_signed(offset)
                .ok_or("--time-offset out of range")?;
            let msg = Message::new(user, allow, access, timeout, ts)?;
            println!("{}", spa::encode(&msg, &keys)?);
        }
        "decode" => {
            let mut text = String::new();
            match file.as_deref() {
                None | Some("-") => {
                    std::io::stdin().read_to_string(&mut text)?;
                }
                Some(path) => {
                    text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?
                }
            }
            let packet = text.trim_end().as_bytes();
            let msg = spa::decode(packet, &keys)?;
            println!("{msg}");
        }
        "stanza" => print!("{}", format_stanza(&keys, access.as_ref()).as_str()),
        _ => {
            return Err(
                format!("unknown command {cmd} (encode, decode, stanza or gen-keys)").into(),
            );
        }
    }
    Ok(())
}
