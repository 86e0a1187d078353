//! The state the views show and the intents they return, shared by
//! [`crate::app`], which owns the state and applies the intents, and
//! [`crate::ui`], which draws it and never sees the app.

use knock_profiles::field::FieldError;
use knock_profiles::options::Host;
use knock_profiles::secret::Secret;
use knock_profiles::{Proto, Sequence, SequenceError};

/// What the right-hand side shows.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Selection {
    #[default]
    Nothing,
    Quick,
    Profile(String),
}

/// Something the user asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Intent {
    Select(Selection),
    /// Arrow keys in the list: -1 up, +1 down (among the filtered profiles).
    Move(i32),
    FocusFilter,
    OpenDialog(Dialog),
    CloseDialog,
    Add {
        name: String,
        host: String,
        sequence: String,
        /// A rotating profile (no sequence; defaults for the rotation).
        rotating: bool,
    },
    Duplicate(String),
    Rename {
        old: String,
        new: String,
    },
    Delete(String),
    Save(String),
    Revert(String),
    /// Knock the selected profile (or the quick knock when that is shown).
    Knock {
        connect: bool,
    },
    Cancel,
    DismissRun,
    /// The file changed on disk: reload it; keep unsaved edits or not.
    Reload {
        keep_edits: bool,
    },
    SetPutty(String),
    /// A new secret for rotating profile NAME (into the keyring, replacing
    /// an existing one only when `replace`).
    GenerateSecret {
        name: String,
        replace: bool,
    },
    /// Read and reveal the secret of rotating profile NAME.
    ShowSecret(String),
    HideSecret,
}

/// The modal dialog on top, if any.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Dialog {
    #[default]
    None,
    Add {
        name: String,
        host: String,
        sequence: String,
        rotating: bool,
    },
    Rename {
        old: String,
        new: String,
    },
    ConfirmDelete(String),
    /// The file changed on disk while there are unsaved edits.
    Conflict,
    Settings {
        putty: String,
    },
    /// The keyring already holds a secret for this rotating profile.
    ReplaceSecret(String),
}

/// The quick knock form (no profile, like KnockKnock's single window).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Quick {
    pub host: String,
    pub ports: String,
    pub udp: bool,
}

impl Quick {
    /// The host, checked by the library's [`Host`] (the CLI's message).
    pub fn host(&self) -> Result<Host, FieldError> {
        Host::parse(self.host.trim())
    }

    /// The ports as a sequence (UDP for ports without `:tcp`/`:udp` when
    /// `udp` is set), checked by the library.
    pub fn ports(&self) -> Result<Sequence, SequenceError> {
        let proto = if self.udp { Proto::Udp } else { Proto::Tcp };
        Sequence::parse_with_default(&self.ports, proto)
    }
}

/// A one-line message at the bottom of the window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub text: String,
    pub error: bool,
}

/// A secret on screen (until hidden or another profile is selected).
#[derive(Debug)]
pub struct Revealed {
    pub secret: Secret,
    /// The `knock://rotate?...` URI for another device.
    pub uri: String,
}
