//! The profile file as the window has it: the loaded [`Store`] (or why it
//! could not be loaded) and the unsaved form of each profile the user
//! opened.
//!
//! A form equal to its saved profile is clean; saving, reverting or
//! deleting a profile forgets its form. A form is checked again only when
//! it changed, not every frame.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use knock_profiles::options::Options;
use knock_profiles::profile::{AnyProfile, Profile, RotatingProfile};
use knock_profiles::store::{Store, StoreError};

use crate::draft::rotating::RotatingDraft;
use crate::draft::{Draft, Edit, Problems};

#[derive(Debug)]
pub struct Document {
    path: PathBuf,
    store: Option<Store>,
    /// Why the file could not be (re)loaded; saving is off while set.
    load_error: Option<String>,
    /// Form state per profile.
    drafts: BTreeMap<String, Form>,
}

/// A profile checked from its form, or what is wrong with the form.
pub type Checked = Result<AnyProfile, Box<Problems>>;

/// One profile's form, and the form as last checked with what the check
/// found.
#[derive(Debug)]
struct Form {
    edit: Edit,
    checked: Option<(Edit, Checked)>,
}

impl Form {
    fn new(edit: Edit) -> Form {
        Form {
            edit,
            checked: None,
        }
    }

    /// What is wrong with the form as it is now (`None`: nothing),
    /// checking it again if it changed since the last check.
    fn problems(&mut self, name: &str) -> Option<Problems> {
        if self.checked.as_ref().is_none_or(|(of, _)| *of != self.edit) {
            self.checked = Some((self.edit.clone(), self.edit.check(name)));
        }
        match &self.checked {
            Some((_, Err(problems))) => Some((**problems).clone()),
            _ => None,
        }
    }

    /// The form checked as it is now.
    fn checked(&self, name: &str) -> Checked {
        match &self.checked {
            Some((of, checked)) if *of == self.edit => checked.clone(),
            _ => self.edit.check(name),
        }
    }
}

/// How a reload went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reload {
    /// The file is loaded again; `announce` when it replaced a loaded file
    /// or an error (worth a status line).
    Loaded { announce: bool },
    /// It could not be read or parsed; [`Document::load_error`] says why.
    Failed,
}

impl Document {
    /// The file at `path`, or why it cannot be loaded.
    pub fn open(path: &Path) -> Document {
        let (store, load_error) = match Store::open(path) {
            Ok(store) => (Some(store), None),
            Err(e) => (None, Some(e.to_string())),
        };
        Document {
            path: path.to_path_buf(),
            store,
            load_error,
            drafts: BTreeMap::new(),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn load_error(&self) -> Option<&str> {
        self.load_error.as_deref()
    }

    /// Whether edits can be written: the file is loaded without error.
    pub fn can_save(&self) -> bool {
        self.store.is_some() && self.load_error.is_none()
    }

    /// Saved profile names, fixed and rotating, sorted.
    pub fn names(&self) -> Vec<String> {
        self.filtered_names("")
    }

    /// Names matching `filter` (name or host, case-insensitive), sorted.
    pub fn filtered_names(&self, filter: &str) -> Vec<String> {
        let needle = filter.trim().to_lowercase();
        let Some(store) = &self.store else {
            return Vec::new();
        };
        let file = store.file();
        let hosts = file
            .profiles
            .iter()
            .map(|(name, p)| (name, &p.host))
            .chain(file.rotating.iter().map(|(name, p)| (name, &p.host)));
        let mut names: Vec<String> = hosts
            .filter(|(name, host)| {
                needle.is_empty()
                    || name.to_lowercase().contains(&needle)
                    || host.to_lowercase().contains(&needle)
            })
            .map(|(name, _)| name.clone())
            .collect();
        names.sort();
        names
    }

    /// A saved profile with a fixed sequence.
    pub fn profile(&self, name: &str) -> Option<&Profile> {
        self.store.as_ref()?.file().profiles.get(name)
    }

    /// A saved rotating profile.
    pub fn rotating(&self, name: &str) -> Option<&RotatingProfile> {
        self.store.as_ref()?.file().rotating.get(name)
    }

    /// Whether a saved profile, fixed or rotating, has this name.
    pub fn exists(&self, name: &str) -> bool {
        self.store.as_ref().is_some_and(|s| s.file().contains(name))
    }

    /// The file's `[defaults]`.
    pub fn defaults(&self) -> Options {
        self.store
            .as_ref()
            .map(|s| s.file().defaults.clone())
            .unwrap_or_default()
    }

    /// The form of `name`, if it was opened.
    pub fn edit(&self, name: &str) -> Option<&Edit> {
        self.drafts.get(name).map(|form| &form.edit)
    }

    /// The form of fixed profile `name`, created from the saved profile on
    /// first use (or when the file turned it into the other kind), and
    /// what is wrong with it.
    pub fn fixed_mut(&mut self, name: &str) -> Option<(&mut Draft, Option<Problems>)> {
        match self.form_mut(name, false)? {
            (Edit::Fixed(draft), problems) => Some((draft, problems)),
            _ => None,
        }
    }

    /// The form of rotating profile `name`, like [`Document::fixed_mut`].
    pub fn rotating_mut(&mut self, name: &str) -> Option<(&mut RotatingDraft, Option<Problems>)> {
        match self.form_mut(name, true)? {
            (Edit::Rotating(draft), problems) => Some((draft, problems)),
            _ => None,
        }
    }

    fn form_mut(&mut self, name: &str, rotating: bool) -> Option<(&mut Edit, Option<Problems>)> {
        let fits = match self.edit(name) {
            Some(Edit::Fixed(_)) => !rotating,
            Some(Edit::Rotating(_)) => rotating,
            None => false,
        };
        if !fits {
            let edit = if rotating {
                Edit::Rotating(RotatingDraft::from_profile(name, self.rotating(name)?))
            } else {
                Edit::Fixed(Draft::from_profile(self.profile(name)?))
            };
            self.drafts.insert(name.to_string(), Form::new(edit));
        }
        let form = self.drafts.get_mut(name)?;
        let problems = form.problems(name);
        Some((&mut form.edit, problems))
    }

    /// Forgets the form of `name` (it shows the saved profile again).
    pub fn forget_edit(&mut self, name: &str) {
        self.drafts.remove(name);
    }

    /// The form of renamed profile `old` follows it to `new`.
    pub fn rename_edit(&mut self, old: &str, new: &str) {
        if let Some(mut form) = self.drafts.remove(old) {
            // A rotating profile's default door is its name: check again.
            form.checked = None;
            self.drafts.insert(new.to_string(), form);
        }
    }

    /// Whether `name` has edits not saved to the file.
    pub fn is_dirty(&self, name: &str) -> bool {
        match self.edit(name) {
            None => false,
            Some(Edit::Fixed(draft)) => self
                .profile(name)
                .is_none_or(|saved| *draft != Draft::from_profile(saved)),
            Some(Edit::Rotating(draft)) => self
                .rotating(name)
                .is_none_or(|saved| *draft != RotatingDraft::from_profile(name, saved)),
        }
    }

    pub fn any_dirty(&self) -> bool {
        self.drafts.keys().any(|name| self.is_dirty(name))
    }

    /// The names with unsaved edits.
    pub fn dirty_names(&self) -> Vec<String> {
        self.drafts
            .keys()
            .filter(|name| self.is_dirty(name))
            .cloned()
            .collect()
    }

    /// The form of `name` checked, if it was opened.
    pub fn checked(&self, name: &str) -> Option<Checked> {
        Some(self.drafts.get(name)?.checked(name))
    }

    /// Saved profile `name`.
    pub fn saved(&self, name: &str) -> Option<AnyProfile> {
        self.rotating(name)
            .cloned()
            .map(AnyProfile::Rotating)
            .or_else(|| self.profile(name).cloned().map(AnyProfile::Fixed))
    }

    /// Writes `profile` into the file as `name` (added or replaced) and
    /// saves.
    pub fn put(&mut self, name: &str, profile: &AnyProfile) -> Result<(), String> {
        self.change(|store| match profile {
            AnyProfile::Fixed(p) => store.upsert(name, p),
            AnyProfile::Rotating(p) => store.upsert_rotating(name, p),
        })
    }

    /// Saved profile `name` as the form has it when that is valid, else as
    /// saved.
    pub fn as_typed(&self, name: &str) -> Option<AnyProfile> {
        let typed = self.checked(name).and_then(Result::ok);
        match (typed, self.rotating(name), self.profile(name)) {
            (Some(typed @ AnyProfile::Rotating(_)), _, _) => Some(typed),
            (_, Some(saved), _) => Some(AnyProfile::Rotating(saved.clone())),
            (Some(typed @ AnyProfile::Fixed(_)), None, Some(_)) => Some(typed),
            (_, None, Some(saved)) => Some(AnyProfile::Fixed(saved.clone())),
            (_, None, None) => None,
        }
    }

    /// Applies a store edit and saves; on failure reloads the file so the
    /// in-memory document matches the disk again.
    pub fn change(
        &mut self,
        change: impl FnOnce(&mut Store) -> Result<(), StoreError>,
    ) -> Result<(), String> {
        if let Some(e) = &self.load_error {
            return Err(format!("cannot save while the file has an error: {e}"));
        }
        let Some(store) = &mut self.store else {
            return Err("no profile file loaded".to_string());
        };
        let result = change(store).and_then(|()| store.save());
        if let Err(e) = result {
            if let Ok(fresh) = Store::open(&self.path) {
                self.store = Some(fresh);
            }
            return Err(e.to_string());
        }
        Ok(())
    }

    /// Whether the file changed on disk since it was loaded (or could not
    /// be loaded: always worth another try).
    pub fn changed_on_disk(&self) -> bool {
        self.store.as_ref().is_none_or(Store::changed_on_disk)
    }

    /// Loads the file again; keeps unsaved edits or not. Clean forms are
    /// forgotten, so they show the new file.
    pub fn reload(&mut self, keep_edits: bool) -> Reload {
        let had_error = self.load_error.is_some();
        match Store::open(&self.path) {
            Ok(store) => {
                let was_loaded = self.store.is_some();
                self.store = Some(store);
                self.load_error = None;
                if !keep_edits {
                    self.drafts.clear();
                }
                let clean: Vec<String> = self
                    .drafts
                    .keys()
                    .filter(|n| !self.is_dirty(n))
                    .cloned()
                    .collect();
                for name in clean {
                    self.drafts.remove(&name);
                }
                Reload::Loaded {
                    announce: was_loaded || had_error,
                }
            }
            Err(e) => {
                self.load_error = Some(e.to_string());
                Reload::Failed
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const FILE: &str = "[profiles.vault]\nhost = \"192.0.2.7\"\nrotate = true\n\n[profiles.alpha]\nhost = \"192.0.2.1\"\nsequence = \"7000,8000\"\n";

    fn doc() -> (tempfile::TempDir, Document) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("profiles.toml");
        std::fs::write(&path, FILE).unwrap();
        let doc = Document::open(&path);
        (dir, doc)
    }

    #[test]
    fn a_form_is_checked_again_only_when_it_changed() {
        let (_dir, mut doc) = doc();
        let (draft, problems) = doc.rotating_mut("vault").unwrap();
        assert_eq!(problems, None);
        draft.period_s = "3".into();
        let (_, problems) = doc.rotating_mut("vault").unwrap();
        let message = "period_s 3 is out of range (expected 5-86400 seconds)";
        assert_eq!(problems.unwrap().get("period_s"), Some(message));

        // An unchanged form keeps what its last check found: plant another
        // finding and see that it is what comes back.
        let mut planted = Problems::default();
        planted.knocks.push(Some("planted".into()));
        let form = doc.drafts.get_mut("vault").unwrap();
        form.checked.as_mut().unwrap().1 = Err(Box::new(planted.clone()));
        let (draft, problems) = doc.rotating_mut("vault").unwrap();
        assert_eq!(problems, Some(planted));

        // An edit is checked again.
        draft.period_s = "45".into();
        let (_, problems) = doc.rotating_mut("vault").unwrap();
        assert_eq!(problems, None);
        assert!(matches!(
            doc.checked("vault"),
            Some(Ok(AnyProfile::Rotating(_)))
        ));
    }

    #[test]
    fn checked_never_answers_for_an_older_form() {
        let (_dir, mut doc) = doc();
        let (draft, _) = doc.fixed_mut("alpha").unwrap();
        // Edited after the last check, and not shown since.
        draft.common.open_port = "0".into();
        let Some(Err(problems)) = doc.checked("alpha") else {
            panic!("the edit was not checked");
        };
        assert_eq!(
            problems.get("open_port"),
            Some("open_port 0 is out of range (expected 1-65535)")
        );
        assert!(doc.is_dirty("alpha"));
        doc.forget_edit("alpha");
        assert!(!doc.is_dirty("alpha"));
    }
}
