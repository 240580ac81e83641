//! IMAP UIDs, MODSEQs and UID sets.

use std::fmt;

/// An IMAP UID (1-based, never reused within a `uidValidity`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Uid(pub u32);

impl fmt::Display for Uid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A MODSEQ (CONDSTORE); the mailbox's highest is its `modifyIndex`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ModSeq(pub u64);

impl fmt::Display for ModSeq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A set of UIDs as sorted, non-overlapping, non-adjacent inclusive ranges. Protocol-neutral: an
/// adapter resolves `*` and sequence numbers before building one.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UidSet {
    ranges: Vec<(u32, u32)>,
}

impl UidSet {
    /// The empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every UID (`1:*`).
    pub fn all() -> Self {
        Self {
            ranges: vec![(1, u32::MAX)],
        }
    }

    /// One range `a:b` (either order, as IMAP allows).
    pub fn range(a: u32, b: u32) -> Self {
        let mut s = Self::new();
        s.insert_range(a, b);
        s
    }

    /// From ranges in any order, normalised.
    pub fn from_ranges<I: IntoIterator<Item = (u32, u32)>>(ranges: I) -> Self {
        let mut s = Self::new();
        for (a, b) in ranges {
            s.insert_range(a, b);
        }
        s
    }

    /// Adds one UID.
    pub fn insert(&mut self, uid: u32) {
        self.insert_range(uid, uid);
    }

    /// Adds a range (either order). UID 0 does not exist and is dropped.
    pub fn insert_range(&mut self, a: u32, b: u32) {
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        let lo = lo.max(1);
        if hi < lo {
            return;
        }
        let mut lo = lo;
        let mut hi = hi;
        let mut out = Vec::with_capacity(self.ranges.len() + 1);
        let mut placed = false;
        for &(x, y) in &self.ranges {
            if y.saturating_add(1) < lo {
                out.push((x, y));
            } else if hi.saturating_add(1) < x {
                if !placed {
                    out.push((lo, hi));
                    placed = true;
                }
                out.push((x, y));
            } else {
                lo = lo.min(x);
                hi = hi.max(y);
            }
        }
        if !placed {
            out.push((lo, hi));
        }
        self.ranges = out;
    }

    /// Whether `uid` is in the set.
    pub fn contains(&self, uid: u32) -> bool {
        self.ranges.iter().any(|&(a, b)| a <= uid && uid <= b)
    }

    /// The normalised ranges.
    pub fn ranges(&self) -> &[(u32, u32)] {
        &self.ranges
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Number of UIDs in the set.
    pub fn count(&self) -> u64 {
        self.ranges.iter().map(|&(a, b)| u64::from(b - a) + 1).sum()
    }

    /// Whether this is `1:*`.
    pub fn is_all(&self) -> bool {
        self.ranges == [(1, u32::MAX)]
    }

    /// The UIDs of a sorted list that are in this set.
    pub fn filter_sorted(&self, uids: &[Uid]) -> Vec<Uid> {
        uids.iter()
            .copied()
            .filter(|u| self.contains(u.0))
            .collect()
    }
}

impl FromIterator<Uid> for UidSet {
    fn from_iter<T: IntoIterator<Item = Uid>>(iter: T) -> Self {
        let mut v: Vec<u32> = iter.into_iter().map(|u| u.0).collect();
        v.sort_unstable();
        let mut s = UidSet::new();
        let mut run: Option<(u32, u32)> = None;
        for u in v {
            run = match run {
                Some((a, b)) if u <= b.saturating_add(1) => Some((a, b.max(u))),
                Some((a, b)) => {
                    s.ranges.push((a, b));
                    Some((u, u))
                }
                None => Some((u, u)),
            };
        }
        if let Some(r) = run {
            s.insert_range(r.0, r.1);
        }
        s
    }
}

impl fmt::Display for UidSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, &(a, b)) in self.ranges.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            if a == b {
                write!(f, "{a}")?;
            } else {
                write!(f, "{a}:{b}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_ranges() {
        let s = UidSet::from_ranges([(5, 3), (7, 7), (6, 6), (10, 12), (0, 0)]);
        assert_eq!(s.ranges(), &[(3, 7), (10, 12)]);
        assert_eq!(s.count(), 8);
        assert!(s.contains(6) && !s.contains(8));
        assert_eq!(s.to_string(), "3:7,10:12");
        let t: UidSet = [Uid(4), Uid(1), Uid(2), Uid(9)].into_iter().collect();
        assert_eq!(t.ranges(), &[(1, 2), (4, 4), (9, 9)]);
        assert!(UidSet::all().is_all());
    }
}
