//! ENVELOPE (RFC 3501 §7.4.2).

use wildduck_core::message::envelope::{Envelope, EnvelopeAddress};

use super::string::write_nstring;

/// Writes an ENVELOPE structure, `(date subject from sender reply-to to cc bcc in-reply-to
/// message-id)`, without the `ENVELOPE ` item name.
pub fn write_envelope(envelope: &Envelope, out: &mut Vec<u8>, utf8: bool) {
    out.push(b'(');
    write_nstring(out, envelope.date.as_deref(), utf8);
    out.push(b' ');
    write_nstring(out, envelope.subject.as_deref(), utf8);
    for list in [
        &envelope.from,
        &envelope.sender,
        &envelope.reply_to,
        &envelope.to,
        &envelope.cc,
        &envelope.bcc,
    ] {
        out.push(b' ');
        write_address_list(list.as_deref(), out, utf8);
    }
    out.push(b' ');
    write_nstring(out, envelope.in_reply_to.as_deref(), utf8);
    out.push(b' ');
    write_nstring(out, envelope.message_id.as_deref(), utf8);
    out.push(b')');
}

/// `NIL` or `(` 1*address `)`; an empty list is NIL because the grammar wants at least one address.
fn write_address_list(list: Option<&[EnvelopeAddress]>, out: &mut Vec<u8>, utf8: bool) {
    match list {
        Some(list) if !list.is_empty() => {
            out.push(b'(');
            for address in list {
                out.push(b'(');
                write_nstring(out, address.name.as_deref(), utf8);
                out.push(b' ');
                write_nstring(out, address.adl.as_deref(), utf8);
                out.push(b' ');
                write_nstring(out, address.mailbox.as_deref(), utf8);
                out.push(b' ');
                write_nstring(out, address.host.as_deref(), utf8);
                out.push(b')');
            }
            out.push(b')');
        }
        _ => out.extend_from_slice(b"NIL"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wildduck_core::message::envelope::envelope;

    #[test]
    fn reference_envelope_three() {
        // The header of WildDuck's reference message 3; the answer must be the same bytes.
        let e = envelope(
            b"Date: Thu, 05 Jun 2025 09:15:00 -0700\r\nSubject: Third: html only\r\n\
From: \"Dave, Jr.\" <dave@example.com>\r\nSender: secretary@example.com\r\n\
To: undisclosed-recipients:;\r\nBcc: hidden@example.com\r\nMessage-ID: <imap-3@example.com>\r\n",
        );
        let mut out = Vec::new();
        write_envelope(&e, &mut out, false);
        assert_eq!(
            String::from_utf8_lossy(&out),
            "(\"Thu, 05 Jun 2025 09:15:00 -0700\" \"Third: html only\" ((\"Dave, Jr.\" NIL \"dave\" \"example.com\")) \
((NIL NIL \"secretary\" \"example.com\")) ((\"Dave, Jr.\" NIL \"dave\" \"example.com\")) \
((NIL NIL \"undisclosed-recipients\" NIL)(NIL NIL NIL NIL)) NIL ((NIL NIL \"hidden\" \"example.com\")) NIL \
\"<imap-3@example.com>\")"
        );
    }
}
