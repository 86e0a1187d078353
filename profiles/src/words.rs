//! Enums that the files write as one of a few words (`"ipv6"`, `"udp"`,
//! `"both"`): the `words!` macro makes the enum, `as_str`, `Display` and
//! `from_word` from one list of variants and their words.

/// `words! { #[derive(..)] pub enum Name { Variant = "word", ... } }`:
/// `Name::as_str`, `Display`, and `Name::from_word` (any case, surrounding
/// space ignored). `FromStr`, with its own error, stays with the enum.
macro_rules! words {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$variant_meta:meta])* $variant:ident = $word:literal, )+
        }
    ) => {
        $(#[$meta])*
        pub enum $name {
            $( $(#[$variant_meta])* $variant, )+
        }

        impl $name {
            /// The word the files write.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $word, )+
                }
            }

            /// The variant `word` names (any case, surrounding space ignored).
            pub fn from_word(word: &str) -> Option<$name> {
                let word = word.trim();
                [$( $name::$variant, )+]
                    .into_iter()
                    .find(|v| v.as_str().eq_ignore_ascii_case(word))
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
