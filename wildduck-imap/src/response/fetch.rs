//! FETCH responses (RFC 3501 §7.4.2, RFC 7162 §3.1.4): `* n FETCH (item value …)`, built from the
//! core's [`MessageMeta`] and, for content items, its [`StoredMessage`].
//!
//! Body data always goes out as a literal (as WildDuck sends it), so binary and 8-bit content never
//! needs quoting decisions; a partial `<o.l>` is echoed as `<o>`.

use wildduck_core::Result;
use wildduck_core::message::section::{SectionKind, SectionSpec};
use wildduck_core::message::{BodySource, StoredMessage};
use wildduck_core::model::{Flags, MessageMeta, Timestamp};
use wildduck_core::store::FlagsRow;

use super::body_structure::write_body_structure;
use super::envelope::write_envelope;
use super::string::{write_number, write_string};
use crate::proto::{FetchItem, Partial};

/// The content of one message for body items: its stored form and the blobs it references.
#[derive(Clone, Copy)]
pub struct FetchContent<'a> {
    /// The stored message (tree, ENVELOPE, BODYSTRUCTURE).
    pub message: &'a StoredMessage,
    /// Where attachment bodies come from.
    pub blobs: &'a dyn BodySource,
}

impl std::fmt::Debug for FetchContent<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FetchContent")
            .field("size", &self.message.size)
            .finish()
    }
}

/// Writes a flag list `(\Seen $Label)`.
pub fn write_flags(out: &mut Vec<u8>, flags: &Flags) {
    out.push(b'(');
    for (i, f) in flags.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        out.extend_from_slice(f.as_str().as_bytes());
    }
    out.push(b')');
}

/// Writes a flag list from stored strings (journal entries carry flags this way).
pub fn write_flag_strings(out: &mut Vec<u8>, flags: &[String]) {
    write_flags(out, &Flags::from_stored(flags));
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Days since 1970-01-01 → (year, month 1..=12, day 1..=31) in the proleptic Gregorian calendar.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    // Howard Hinnant's algorithm, shifted so the era starts on 0000-03-01.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        year,
        u32::try_from(month).unwrap_or(1),
        u32::try_from(day).unwrap_or(1),
    )
}

/// INTERNALDATE in RFC 3501 `date-time` form, in UTC as WildDuck sends it:
/// `28-Nov-2026 09:49:24 +0000`.
pub fn format_internal_date(ts: Timestamp) -> String {
    let secs = ts.secs();
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    let month_name = usize::try_from(month)
        .ok()
        .and_then(|m| m.checked_sub(1))
        .and_then(|m| MONTHS.get(m))
        .copied()
        .unwrap_or("Jan");
    // date-day-fixed: a space-padded two-character day.
    format!(
        "{day:>2}-{month_name}-{year:04} {:02}:{:02}:{:02} +0000",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

/// Whether `s` can be sent as an atom (header names in an echoed section).
fn atom_safe(s: &str) -> bool {
    !s.is_empty()
        && s.bytes().all(|b| {
            b > b' '
                && b < 0x7f
                && !matches!(b, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\' | b']')
        })
}

/// Writes the section specifier inside the brackets: `1.2.HEADER.FIELDS (SUBJECT FROM)`.
pub fn write_section(out: &mut Vec<u8>, section: &SectionSpec) {
    for (i, n) in section.part.iter().enumerate() {
        if i > 0 {
            out.push(b'.');
        }
        write_number(out, u64::from(*n));
    }
    let text: &[u8] = match &section.kind {
        SectionKind::Full => return,
        SectionKind::Header => b"HEADER",
        SectionKind::Text => b"TEXT",
        SectionKind::Mime => b"MIME",
        SectionKind::HeaderFields(_) => b"HEADER.FIELDS",
        SectionKind::HeaderFieldsNot(_) => b"HEADER.FIELDS.NOT",
    };
    if !section.part.is_empty() {
        out.push(b'.');
    }
    out.extend_from_slice(text);
    if let SectionKind::HeaderFields(names) | SectionKind::HeaderFieldsNot(names) = &section.kind {
        out.extend_from_slice(b" (");
        for (i, name) in names.iter().enumerate() {
            if i > 0 {
                out.push(b' ');
            }
            if atom_safe(name) {
                out.extend_from_slice(name.as_bytes());
            } else {
                write_string(out, name.as_bytes(), false);
            }
        }
        out.push(b')');
    }
}

/// Writes a literal `{n}\r\n` followed by the bytes.
pub fn write_literal(out: &mut Vec<u8>, data: &[u8]) {
    out.push(b'{');
    write_number(out, data.len() as u64);
    out.extend_from_slice(b"}\r\n");
    out.extend_from_slice(data);
}

fn whole_message() -> SectionSpec {
    SectionSpec {
        part: Vec::new(),
        kind: SectionKind::Full,
    }
}

fn section_of(kind: SectionKind) -> SectionSpec {
    SectionSpec {
        part: Vec::new(),
        kind,
    }
}

/// Writes one FETCH data item (name and value). Items that need content are skipped when
/// `content` is `None` (the caller loads content whenever an item needs it).
pub fn write_fetch_item(
    out: &mut Vec<u8>,
    item: &FetchItem,
    meta: &MessageMeta,
    content: Option<FetchContent<'_>>,
    utf8: bool,
) -> Result<()> {
    match item {
        FetchItem::Flags => {
            out.extend_from_slice(b"FLAGS ");
            write_flags(out, &meta.flags);
        }
        FetchItem::Uid => {
            out.extend_from_slice(b"UID ");
            write_number(out, u64::from(meta.uid.0));
        }
        FetchItem::ModSeq => {
            out.extend_from_slice(b"MODSEQ (");
            write_number(out, meta.modseq.0);
            out.push(b')');
        }
        FetchItem::InternalDate => {
            out.extend_from_slice(b"INTERNALDATE \"");
            out.extend_from_slice(format_internal_date(meta.idate).as_bytes());
            out.push(b'"');
        }
        FetchItem::Rfc822Size => {
            out.extend_from_slice(b"RFC822.SIZE ");
            write_number(out, meta.size);
        }
        FetchItem::Envelope => {
            if let Some(c) = content {
                out.extend_from_slice(b"ENVELOPE ");
                write_envelope(&c.message.envelope, out, utf8);
            }
        }
        FetchItem::BodyStructure => {
            if let Some(c) = content {
                out.extend_from_slice(b"BODYSTRUCTURE ");
                write_body_structure(&c.message.body_structure, true, out, utf8);
            }
        }
        FetchItem::Body => {
            if let Some(c) = content {
                out.extend_from_slice(b"BODY ");
                write_body_structure(&c.message.body_structure, false, out, utf8);
            }
        }
        FetchItem::BodySection {
            section, partial, ..
        } => {
            if let Some(c) = content {
                out.extend_from_slice(b"BODY[");
                write_section(out, section);
                out.push(b']');
                let range = partial.map(|Partial { offset, length }| {
                    (u64::from(offset), length.map_or(u64::MAX, u64::from))
                });
                if let Some(p) = partial {
                    out.push(b'<');
                    write_number(out, u64::from(p.offset));
                    out.push(b'>');
                }
                out.push(b' ');
                let data = c.message.section(section, c.blobs, range)?;
                write_literal(out, &data);
            }
        }
        FetchItem::Rfc822 | FetchItem::Rfc822Header | FetchItem::Rfc822Text => {
            if let Some(c) = content {
                let (name, spec): (&[u8], SectionSpec) = match item {
                    FetchItem::Rfc822 => (b"RFC822 ", whole_message()),
                    FetchItem::Rfc822Header => (b"RFC822.HEADER ", section_of(SectionKind::Header)),
                    _ => (b"RFC822.TEXT ", section_of(SectionKind::Text)),
                };
                out.extend_from_slice(name);
                let data = c.message.section(&spec, c.blobs, None)?;
                write_literal(out, &data);
            }
        }
    }
    Ok(())
}

/// Writes `* <seq> FETCH (…)\r\n` for items that are all FLAGS, UID or MODSEQ, from the
/// narrow read (others are skipped): no full metadata record needed.
pub fn write_flags_fetch(out: &mut Vec<u8>, seq: u32, items: &[FetchItem], row: &FlagsRow) {
    out.extend_from_slice(b"* ");
    write_number(out, u64::from(seq));
    out.extend_from_slice(b" FETCH (");
    let mut first = true;
    for item in items {
        let sep: &[u8] = if first { b"" } else { b" " };
        match item {
            FetchItem::Flags => {
                out.extend_from_slice(sep);
                out.extend_from_slice(b"FLAGS ");
                write_flags(out, &row.flags);
            }
            FetchItem::Uid => {
                out.extend_from_slice(sep);
                out.extend_from_slice(b"UID ");
                write_number(out, u64::from(row.uid.0));
            }
            FetchItem::ModSeq => {
                out.extend_from_slice(sep);
                out.extend_from_slice(b"MODSEQ (");
                write_number(out, row.modseq.0);
                out.push(b')');
            }
            _ => continue,
        }
        first = false;
    }
    out.extend_from_slice(b")\r\n");
}

/// Writes `* seq FETCH (items…)\r\n` for one message, items in the given order.
pub fn write_fetch(
    out: &mut Vec<u8>,
    seq: u32,
    items: &[FetchItem],
    meta: &MessageMeta,
    content: Option<FetchContent<'_>>,
    utf8: bool,
) -> Result<()> {
    out.extend_from_slice(b"* ");
    write_number(out, u64::from(seq));
    out.extend_from_slice(b" FETCH (");
    let mut first = true;
    for item in items {
        let before = out.len();
        if !first {
            out.push(b' ');
        }
        let mark = out.len();
        write_fetch_item(out, item, meta, content, utf8)?;
        if out.len() == mark {
            // Nothing written (content missing): drop the separator too.
            out.truncate(before);
        } else {
            first = false;
        }
    }
    out.extend_from_slice(b")\r\n");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_date_format() {
        // 2026-11-28 09:49:24 UTC
        assert_eq!(
            format_internal_date(Timestamp(1_795_859_364_000)),
            "28-Nov-2026 09:49:24 +0000"
        );
        assert_eq!(
            format_internal_date(Timestamp(0)),
            " 1-Jan-1970 00:00:00 +0000"
        );
        assert_eq!(
            format_internal_date(Timestamp(951_782_400_000)),
            "29-Feb-2000 00:00:00 +0000"
        );
        assert_eq!(
            format_internal_date(Timestamp(-1000)),
            "31-Dec-1969 23:59:59 +0000"
        );
    }

    #[test]
    fn section_names() {
        let mut out = Vec::new();
        write_section(
            &mut out,
            &SectionSpec {
                part: vec![1, 2],
                kind: SectionKind::HeaderFields(vec!["Subject".into(), "X a".into()]),
            },
        );
        assert_eq!(out, b"1.2.HEADER.FIELDS (Subject \"X a\")");
        out.clear();
        write_section(
            &mut out,
            &SectionSpec {
                part: vec![3],
                kind: SectionKind::Full,
            },
        );
        assert_eq!(out, b"3");
        out.clear();
        write_section(&mut out, &section_of(SectionKind::Text));
        assert_eq!(out, b"TEXT");
    }
}
