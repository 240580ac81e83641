//! BODY and BODYSTRUCTURE (RFC 3501 §7.4.2).

use wildduck_core::message::bodystructure::{
    BodyStructure, Extension, MultipartPart, Params, SinglePart, Specific,
};

use super::envelope::write_envelope;
use super::string::{write_nstring, write_number, write_string};

/// Writes a body structure without the item name: with `extended` the BODYSTRUCTURE form (extension
/// data included), without it the BODY form.
///
/// Parameter values that are non-ASCII UTF-8 (RFC 2231 values decoded at ingestion, or raw UTF-8 in the
/// source) go to a client without `utf8` as one RFC 2047 encoded-word (`=?UTF-8?Q?…?=`), as WildDuck
/// sends them: mail clients decode those in file names, while 8-bit literals there are rarely understood.
pub fn write_body_structure(body: &BodyStructure, extended: bool, out: &mut Vec<u8>, utf8: bool) {
    match body {
        BodyStructure::Single(part) => write_single(part, extended, out, utf8),
        BodyStructure::Multipart(multi) => write_multipart(multi, extended, out, utf8),
    }
}

fn write_single(part: &SinglePart, extended: bool, out: &mut Vec<u8>, utf8: bool) {
    out.push(b'(');
    write_string(out, &part.media_type, utf8);
    out.push(b' ');
    write_string(out, &part.subtype, utf8);
    out.push(b' ');
    write_params(&part.params, out, utf8);
    out.push(b' ');
    write_nstring(out, part.id.as_deref(), utf8);
    out.push(b' ');
    write_nstring(out, part.description.as_deref(), utf8);
    out.push(b' ');
    write_string(out, &part.encoding, utf8);
    out.push(b' ');
    write_number(out, part.size);
    match &part.specific {
        Specific::Basic => {}
        Specific::Text { lines } => {
            out.push(b' ');
            write_number(out, *lines);
        }
        Specific::Message {
            envelope,
            body,
            lines,
        } => {
            out.push(b' ');
            write_envelope(envelope, out, utf8);
            out.push(b' ');
            write_body_structure(body, extended, out, utf8);
            out.push(b' ');
            write_number(out, *lines);
        }
    }
    if extended {
        out.push(b' ');
        write_nstring(out, part.md5.as_deref(), utf8);
        write_extension(&part.extension, out, utf8);
    }
    out.push(b')');
}

fn write_multipart(multi: &MultipartPart, extended: bool, out: &mut Vec<u8>, utf8: bool) {
    out.push(b'(');
    for part in &multi.parts {
        write_body_structure(part, extended, out, utf8);
    }
    out.push(b' ');
    write_string(out, &multi.subtype, utf8);
    if extended {
        out.push(b' ');
        write_params(&multi.params, out, utf8);
        write_extension(&multi.extension, out, utf8);
    }
    out.push(b')');
}

/// ` disposition language location`, each preceded by a space.
fn write_extension(ext: &Extension, out: &mut Vec<u8>, utf8: bool) {
    out.push(b' ');
    match &ext.disposition {
        Some(d) => {
            out.push(b'(');
            write_string(out, &d.kind, utf8);
            out.push(b' ');
            write_params(&d.params, out, utf8);
            out.push(b')');
        }
        None => out.extend_from_slice(b"NIL"),
    }
    out.push(b' ');
    match ext.language.as_deref() {
        Some(tags) if !tags.is_empty() => {
            out.push(b'(');
            for (i, tag) in tags.iter().enumerate() {
                if i > 0 {
                    out.push(b' ');
                }
                write_string(out, tag, utf8);
            }
            out.push(b')');
        }
        _ => out.extend_from_slice(b"NIL"),
    }
    out.push(b' ');
    write_nstring(out, ext.location.as_deref(), utf8);
}

/// `NIL` or `("NAME" "value" …)`.
fn write_params(params: &Params, out: &mut Vec<u8>, utf8: bool) {
    if params.is_empty() {
        out.extend_from_slice(b"NIL");
        return;
    }
    out.push(b'(');
    for (i, (name, value)) in params.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        write_string(out, name, utf8);
        out.push(b' ');
        if !utf8 && !value.is_ascii() && std::str::from_utf8(value).is_ok() {
            write_string(out, &encoded_word(value), utf8);
        } else {
            write_string(out, value, utf8);
        }
    }
    out.push(b')');
}

/// `value` (UTF-8) as one RFC 2047 Q encoded-word.
fn encoded_word(value: &[u8]) -> Vec<u8> {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = b"=?UTF-8?Q?".to_vec();
    for &b in value {
        match b {
            b' ' => out.push(b'_'),
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'!' | b'*' | b'+' | b'-' | b'/' | b'.' => {
                out.push(b)
            }
            _ => {
                out.push(b'=');
                out.push(HEX[usize::from(b >> 4)]);
                out.push(HEX[usize::from(b & 0x0f)]);
            }
        }
    }
    out.extend_from_slice(b"?=");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn q_encoding() {
        assert_eq!(
            encoded_word("€ a_b.txt".as_bytes()),
            b"=?UTF-8?Q?=E2=82=AC_a=5Fb.txt?="
        );
    }
}
