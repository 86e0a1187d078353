//! Where packets come from, chosen once before anything is built: a live
//! capture or a capture file (`--read`). The pipeline and the worker take
//! it at construction; it decides how time runs, whether the packet path
//! may wait for the worker, and whether pending stops are journaled.

use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A live capture on `interface`. The packet path never waits for the
    /// worker; the worker times stops on the monotonic clock (the wall
    /// clock only for the journal's due times) and runs commands side by
    /// side.
    Live {
        interface: String,
        /// Where pending stops are journaled (`None`: `--no-journal`, or
        /// `--dry-run`, which opens nothing and must not leave stops for a
        /// later run).
        journal: Option<PathBuf>,
        /// Open a door even when its Stop_Command cannot be journaled (a
        /// crash then leaves it open); by default such an open is refused.
        open_without_journal: bool,
    },
    /// `--read FILE`: packet timestamps are the only clock. Every message
    /// goes to the worker in packet order (waiting for room), packet time
    /// drives the worker's timers (a stop runs at its Cmd_Timeout in packet
    /// time, between the right packets), a used one-time door waits for its
    /// next sequence, commands run one at a time, and nothing is journaled.
    Replay { file: PathBuf },
}

impl Source {
    pub fn is_replay(&self) -> bool {
        matches!(self, Source::Replay { .. })
    }
}
