//! Message flags: the IMAP system flags plus keywords, in the order they were set (WildDuck's `flags`
//! array keeps insertion order, and clients see that order).

use crate::{Error, Result};

/// The longest keyword accepted (WildDuck: any atom up to 255 characters).
pub const MAX_KEYWORD_LEN: usize = 255;

/// One flag.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Flag {
    /// `\Seen`
    Seen,
    /// `\Answered`
    Answered,
    /// `\Flagged`
    Flagged,
    /// `\Deleted`
    Deleted,
    /// `\Draft`
    Draft,
    /// A keyword (no leading backslash), as the client wrote it.
    Keyword(String),
}

impl Flag {
    /// Parses a flag: system flags case-insensitively (normalised), anything else as a keyword.
    /// `\Recent` and unknown backslash flags are refused: they are never stored.
    pub fn parse(s: &str) -> Result<Self> {
        if let Some(rest) = s.strip_prefix('\\') {
            return match rest.to_ascii_lowercase().as_str() {
                "seen" => Ok(Self::Seen),
                "answered" => Ok(Self::Answered),
                "flagged" => Ok(Self::Flagged),
                "deleted" => Ok(Self::Deleted),
                "draft" => Ok(Self::Draft),
                _ => Err(Error::invalid(format!("unsupported system flag {s}"))),
            };
        }
        if s.is_empty()
            || s.len() > MAX_KEYWORD_LEN
            || s.bytes().any(|b| {
                b <= b' '
                    || b >= 0x7f
                    || matches!(b, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b']')
            })
        {
            return Err(Error::invalid("invalid keyword"));
        }
        Ok(Self::Keyword(s.to_string()))
    }

    /// The wire/storage form (`\Seen`, or the keyword).
    pub fn as_str(&self) -> &str {
        match self {
            Self::Seen => "\\Seen",
            Self::Answered => "\\Answered",
            Self::Flagged => "\\Flagged",
            Self::Deleted => "\\Deleted",
            Self::Draft => "\\Draft",
            Self::Keyword(k) => k,
        }
    }

    /// Flags are compared case-insensitively (RFC 3501 §2.3.2).
    pub fn same(&self, other: &Flag) -> bool {
        self.as_str().eq_ignore_ascii_case(other.as_str())
    }
}

/// A message's flags, de-duplicated, in insertion order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Flags(Vec<Flag>);

impl Flags {
    /// No flags.
    pub fn new() -> Self {
        Self(Vec::new())
    }

    /// Builds from stored strings, skipping anything unparsable (old data must not break reads).
    pub fn from_stored<I, S>(items: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut f = Self::new();
        for s in items {
            if let Ok(flag) = Flag::parse(s.as_ref()) {
                f.insert(flag);
            }
        }
        f
    }

    /// Parses client input: every item must be a valid flag.
    pub fn parse<I, S>(items: I) -> Result<Self>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut f = Self::new();
        for s in items {
            f.insert(Flag::parse(s.as_ref())?);
        }
        Ok(f)
    }

    /// Whether `flag` is set.
    pub fn contains(&self, flag: &Flag) -> bool {
        self.0.iter().any(|f| f.same(flag))
    }

    /// Adds a flag; returns whether it was new.
    pub fn insert(&mut self, flag: Flag) -> bool {
        if self.contains(&flag) {
            return false;
        }
        self.0.push(flag);
        true
    }

    /// Removes a flag; returns whether it was there.
    pub fn remove(&mut self, flag: &Flag) -> bool {
        let before = self.0.len();
        self.0.retain(|f| !f.same(flag));
        before != self.0.len()
    }

    /// The flags in order.
    pub fn iter(&self) -> impl Iterator<Item = &Flag> {
        self.0.iter()
    }

    /// Number of flags.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether no flag is set.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The stored form.
    pub fn to_strings(&self) -> Vec<String> {
        self.0.iter().map(|f| f.as_str().to_string()).collect()
    }

    /// Keywords only (for the mailbox's known-keyword list).
    pub fn keywords(&self) -> impl Iterator<Item = &str> {
        self.0.iter().filter_map(|f| match f {
            Flag::Keyword(k) => Some(k.as_str()),
            _ => None,
        })
    }

    /// Same set of flags, ignoring order.
    pub fn same_set(&self, other: &Flags) -> bool {
        self.len() == other.len() && self.0.iter().all(|f| other.contains(f))
    }

    /// Applies `op` and returns the result.
    pub fn apply(&self, op: &FlagOp) -> Flags {
        let mut out = self.clone();
        match op {
            FlagOp::Add(add) => {
                for f in add.iter() {
                    out.insert(f.clone());
                }
            }
            FlagOp::Remove(rm) => {
                for f in rm.iter() {
                    out.remove(f);
                }
            }
            FlagOp::Replace(new) => out = new.clone(),
        }
        out
    }
}

impl FromIterator<Flag> for Flags {
    fn from_iter<T: IntoIterator<Item = Flag>>(iter: T) -> Self {
        let mut f = Flags::new();
        for x in iter {
            f.insert(x);
        }
        f
    }
}

/// A flag change (IMAP STORE `FLAGS`, `+FLAGS`, `-FLAGS`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlagOp {
    /// Set exactly these flags.
    Replace(Flags),
    /// Add these flags.
    Add(Flags),
    /// Remove these flags.
    Remove(Flags),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_flags_normalise_and_keywords_are_case_insensitive() {
        let f = Flags::parse(["\\SEEN", "$Label1", "$label1", "\\draft"]).unwrap_or_default();
        assert_eq!(f.to_strings(), vec!["\\Seen", "$Label1", "\\Draft"]);
        assert!(Flag::parse("\\Recent").is_err());
        assert!(Flag::parse("bad word").is_err());
        let g = f.apply(&FlagOp::Remove(
            Flags::parse(["\\seen"]).unwrap_or_default(),
        ));
        assert_eq!(g.to_strings(), vec!["$Label1", "\\Draft"]);
        assert!(g.same_set(&Flags::parse(["\\Draft", "$LABEL1"]).unwrap_or_default()));
    }
}
