//! The in-memory evaluation of a [`SearchPlan`]: the reference semantics every backend's query
//! translation is tested against.

use super::{Condition, SearchFields, SearchPlan, binary_string};
use crate::model::{Flag, MessageMeta};

/// Simple case folding of one character (the first character of its lowercase mapping), the way a
/// case-insensitive regular expression compares characters.
fn fold(c: char) -> char {
    c.to_lowercase().next().unwrap_or(c)
}

fn folded(s: &str) -> Vec<char> {
    s.chars().map(fold).collect()
}

fn contains_folded(haystack: &[char], needle: &[char]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

/// Whether `haystack` contains `needle`, ignoring case (simple case folding per character). An
/// empty needle is contained in everything.
pub fn contains_ci(haystack: &str, needle: &str) -> bool {
    contains_folded(&folded(haystack), &folded(needle))
}

/// For a raw header line `name[ \t]*:value`: the value, when the line's name is `name` (ignoring
/// case).
fn raw_value<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let mut rest = line;
    for n in name.chars() {
        let mut it = rest.chars();
        let c = it.next()?;
        if fold(c) != fold(n) {
            return None;
        }
        rest = it.as_str();
    }
    rest.trim_start_matches([' ', '\t']).strip_prefix(':')
}

fn body_contains(fields: &SearchFields, needle: &str) -> bool {
    // `text` and `textFooter` are one text cut in two: a match may span the cut.
    let mut all = folded(&fields.text);
    all.extend(fields.text_footer.chars().map(fold));
    contains_folded(&all, &folded(needle))
}

fn condition_matches(c: &Condition, meta: &MessageMeta, fields: &SearchFields) -> bool {
    match c {
        Condition::Uids(set) => set.contains(meta.uid.0),
        Condition::Flag(flag) => meta.flags.contains(flag),
        Condition::Keyword(k) => meta.flags.iter().any(|f| match f {
            Flag::Keyword(x) => x.eq_ignore_ascii_case(k),
            other => other.as_str().eq_ignore_ascii_case(k),
        }),
        Condition::IndexedHeaderPresent(name) => fields.headers.iter().any(|h| &h.key == name),
        Condition::IndexedHeader(name, needle) => fields
            .headers
            .iter()
            .any(|h| &h.key == name && contains_ci(&h.value, needle)),
        Condition::RawHeaderPresent(name) => fields
            .header_lines
            .iter()
            .any(|l| raw_value(l, name).is_some()),
        Condition::RawHeader(name, needle) => {
            let needle = binary_string(needle.as_bytes());
            fields
                .header_lines
                .iter()
                .filter_map(|l| raw_value(l, name))
                .any(|v| contains_ci(v, &needle))
        }
        Condition::Body(needle) => body_contains(fields, needle),
        Condition::Text(needle) => {
            let raw = binary_string(needle.as_bytes());
            fields.headers.iter().any(|h| contains_ci(&h.value, needle))
                || fields.header_lines.iter().any(|l| contains_ci(l, &raw))
                || body_contains(fields, needle)
        }
        Condition::InternalDate(r) => r.contains(meta.idate.0),
        Condition::SentDate(r) => r.contains(meta.hdate.0),
        Condition::SizeAbove(n) => meta.size > *n,
        Condition::SizeBelow(n) => meta.size < *n,
        Condition::ModSeqAtLeast(m) => meta.modseq >= *m,
    }
}

pub(super) fn plan_matches(p: &SearchPlan, meta: &MessageMeta, fields: &SearchFields) -> bool {
    match p {
        SearchPlan::All => true,
        SearchPlan::Nothing => false,
        SearchPlan::Cond(c) => condition_matches(c, meta, fields),
        SearchPlan::Not(inner) => !plan_matches(inner, meta, fields),
        SearchPlan::And(parts) => parts.iter().all(|x| plan_matches(x, meta, fields)),
        SearchPlan::Or(parts) => parts.iter().any(|x| plan_matches(x, meta, fields)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::maildata::IndexedHeader;
    use crate::model::{Flags, ModSeq, Timestamp, Uid, UidSet};
    use crate::search::{SearchDate, SearchKey, matches_at};

    fn sample() -> (MessageMeta, SearchFields) {
        let meta = MessageMeta {
            uid: Uid(7),
            modseq: ModSeq(12),
            idate: Timestamp(SearchDate::new(2024, 3, 10).map_or(0, |d| d.start_ms()) + 5_000),
            hdate: Timestamp(SearchDate::new(2024, 3, 9).map_or(0, |d| d.start_ms())),
            size: 1000,
            flags: Flags::parse(["\\Seen", "$Work"]).unwrap_or_default(),
            ..Default::default()
        };
        let fields = SearchFields {
            headers: vec![
                IndexedHeader {
                    key: "from".into(),
                    value: "andris <andris@example.com>".into(),
                },
                IndexedHeader {
                    key: "subject".into(),
                    value: "räksmörgås (1+1) [test]".into(),
                },
            ],
            header_lines: vec![
                "From: Andris <andris@example.com>".into(),
                "Bcc : Secret <hidden@example.org>".into(),
                "X-Mailer: Test\r\n\tfolded".into(),
            ],
            text: "Hello wor".into(),
            text_footer: "ld, and more".into(),
        };
        (meta, fields)
    }

    #[test]
    fn rfc3501_substring_semantics() {
        let (m, f) = sample();
        let now = Timestamp(m.idate.0 + 3_600_000);
        let yes = |k: SearchKey| assert!(matches_at(&k, &m, &f, now), "{k}");
        let no = |k: SearchKey| assert!(!matches_at(&k, &m, &f, now), "{k}");
        yes(SearchKey::From("ANDRIS@EXAMPLE".into()));
        yes(SearchKey::Subject("RÄKSMÖRGÅS (1+1) [".into()));
        no(SearchKey::Subject("1+1)x".into()));
        yes(SearchKey::Bcc("hidden@".into()));
        yes(SearchKey::header("bcc", ""));
        no(SearchKey::header("cc", ""));
        yes(SearchKey::header("X-MAILER", "folded"));
        no(SearchKey::header("x-mail", ""));
        yes(SearchKey::Body("WORLD, AND".into()));
        no(SearchKey::Body("andris".into()));
        yes(SearchKey::Text("andris".into()));
        yes(SearchKey::Text("x-mailer".into()));
        yes(SearchKey::Keyword("$work".into()));
        yes(SearchKey::Unkeyword("$other".into()));
        yes(SearchKey::Seen);
        no(SearchKey::Unseen);
        yes(SearchKey::On(SearchDate::new(2024, 3, 10).expect("d")));
        yes(SearchKey::SentOn(SearchDate::new(2024, 3, 9).expect("d")));
        no(SearchKey::Since(SearchDate::new(2024, 3, 11).expect("d")));
        yes(SearchKey::Before(SearchDate::new(2024, 3, 11).expect("d")));
        yes(SearchKey::Younger(3_601));
        no(SearchKey::Younger(3_599));
        yes(SearchKey::Older(3_600));
        yes(SearchKey::Larger(1000).negate());
        yes(SearchKey::Larger(999));
        yes(SearchKey::Smaller(1001));
        yes(SearchKey::modseq(12));
        no(SearchKey::modseq(13));
        yes(SearchKey::Uids(UidSet::range(5, 9)));
        no(SearchKey::Recent);
        yes(SearchKey::Seen.negate().or(SearchKey::Text("more".into())));
    }
}
