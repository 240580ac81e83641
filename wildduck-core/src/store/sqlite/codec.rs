//! A compact binary encoding of [`StoredMessage`] for the `message_content` table.
//!
//! Layout: one format byte ([`FORMAT`]), then the fields in declaration order. Integers are LEB128
//! varints (signed ones zig-zagged), byte strings and lists are a varint length followed by the
//! items, `Option` and enum variants are a tag byte. There are no field names: the format byte
//! changes whenever the layout does, and a reader refuses formats it does not know.
//!
//! Decoding never panics and never allocates more than the input can fill: every length is checked
//! against the bytes left, and nesting is bounded.

use crate::message::bodystructure::{
    BodyStructure, Disposition, Extension, MultipartPart, Params, SinglePart, Specific,
};
use crate::message::envelope::{Envelope, EnvelopeAddress};
use crate::message::maildata::{AttachmentInfo, IndexedHeader, MailData, ThreadKeys};
use crate::message::{
    BodyContent, LeafBody, MimeNode, Multipart, NodeBody, Part, StoredEncoding, StoredMessage,
    StoredRef,
};
use crate::{Error, ErrorKind, Result};

/// The layout version written as the first byte.
pub const FORMAT: u8 = 1;

/// Deepest nesting of MIME nodes / BODYSTRUCTUREs accepted (the parser stops at 64).
const MAX_DEPTH: usize = 512;

/// Encodes a stored message.
pub fn encode(m: &StoredMessage) -> Vec<u8> {
    let mut w = Writer(Vec::with_capacity(m.size as usize / 2 + 256));
    w.0.push(FORMAT);
    w.node(&m.tree);
    w.uint(m.size);
    w.envelope(&m.envelope);
    w.structure(&m.body_structure);
    w.mail_data(&m.data);
    w.0
}

/// Decodes what [`encode`] wrote. Fails with a backend error on an unknown format or damaged bytes.
pub fn decode(bytes: &[u8]) -> Result<StoredMessage> {
    let mut r = Reader::open(bytes)?;
    let m = StoredMessage {
        tree: r.node()?,
        size: r.uint()?,
        envelope: r.envelope()?,
        body_structure: r.structure()?,
        data: r.mail_data()?,
    };
    if !r.b.is_empty() {
        return Err(damaged("trailing bytes"));
    }
    Ok(m)
}

/// Decodes only the MIME tree of what [`encode`] wrote (it comes first): all that rebuilding
/// the message bytes needs, without building the envelope, body structure and indexed data.
pub fn decode_tree(bytes: &[u8]) -> Result<MimeNode> {
    let mut r = Reader::open(bytes)?;
    r.node()
}

fn damaged(what: &str) -> Error {
    Error::new(
        ErrorKind::Backend,
        format!("stored message is damaged: {what}"),
    )
}

struct Writer(Vec<u8>);

impl Writer {
    fn uint(&mut self, mut v: u64) {
        loop {
            let low = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                self.0.push(low);
                return;
            }
            self.0.push(low | 0x80);
        }
    }

    fn int(&mut self, v: i64) {
        self.uint(((v << 1) ^ (v >> 63)) as u64);
    }

    fn usize(&mut self, v: usize) {
        self.uint(v as u64);
    }

    fn bool(&mut self, v: bool) {
        self.0.push(u8::from(v));
    }

    fn bytes(&mut self, b: &[u8]) {
        self.usize(b.len());
        self.0.extend_from_slice(b);
    }

    fn str(&mut self, s: &str) {
        self.bytes(s.as_bytes());
    }

    fn opt_bytes(&mut self, b: Option<&[u8]>) {
        match b {
            None => self.0.push(0),
            Some(b) => {
                self.0.push(1);
                self.bytes(b);
            }
        }
    }

    fn opt_str(&mut self, s: Option<&str>) {
        self.opt_bytes(s.map(str::as_bytes));
    }

    fn strs(&mut self, v: &[String]) {
        self.usize(v.len());
        for s in v {
            self.str(s);
        }
    }

    fn node(&mut self, n: &MimeNode) {
        self.bytes(&n.header);
        self.bool(n.has_separator);
        self.str(&n.content_type);
        self.opt_str(n.transfer_encoding.as_deref());
        match &n.body {
            NodeBody::Leaf(l) => {
                self.0.push(0);
                match &l.content {
                    BodyContent::Inline(b) => {
                        self.0.push(0);
                        self.bytes(b);
                    }
                    BodyContent::Stored(s) => {
                        self.0.push(1);
                        self.str(&s.attachment_id);
                        self.str(&s.hash);
                        match s.encoding {
                            StoredEncoding::Raw => self.0.push(0),
                            StoredEncoding::Base64Decoded {
                                line_len,
                                trailing_crlf,
                            } => {
                                self.0.push(1);
                                self.usize(line_len);
                                self.bool(trailing_crlf);
                            }
                        }
                    }
                }
                self.uint(l.size);
                self.uint(l.lines);
            }
            NodeBody::Multipart(m) => {
                self.0.push(1);
                self.bytes(&m.boundary);
                self.bytes(&m.preamble);
                self.usize(m.parts.len());
                for p in &m.parts {
                    self.bytes(&p.delimiter);
                    self.node(&p.node);
                }
                self.opt_bytes(m.close.as_deref());
                self.bytes(&m.epilogue);
            }
            NodeBody::Message(inner) => {
                self.0.push(2);
                self.node(inner);
            }
        }
    }

    fn addresses(&mut self, list: Option<&[EnvelopeAddress]>) {
        match list {
            None => self.0.push(0),
            Some(list) => {
                self.0.push(1);
                self.usize(list.len());
                for a in list {
                    self.opt_bytes(a.name.as_deref());
                    self.opt_bytes(a.adl.as_deref());
                    self.opt_bytes(a.mailbox.as_deref());
                    self.opt_bytes(a.host.as_deref());
                }
            }
        }
    }

    fn envelope(&mut self, e: &Envelope) {
        self.opt_bytes(e.date.as_deref());
        self.opt_bytes(e.subject.as_deref());
        self.addresses(e.from.as_deref());
        self.addresses(e.sender.as_deref());
        self.addresses(e.reply_to.as_deref());
        self.addresses(e.to.as_deref());
        self.addresses(e.cc.as_deref());
        self.addresses(e.bcc.as_deref());
        self.opt_bytes(e.in_reply_to.as_deref());
        self.opt_bytes(e.message_id.as_deref());
    }

    fn params(&mut self, p: &Params) {
        self.usize(p.len());
        for (k, v) in p {
            self.bytes(k);
            self.bytes(v);
        }
    }

    fn extension(&mut self, e: &Extension) {
        match &e.disposition {
            None => self.0.push(0),
            Some(d) => {
                self.0.push(1);
                self.bytes(&d.kind);
                self.params(&d.params);
            }
        }
        match &e.language {
            None => self.0.push(0),
            Some(tags) => {
                self.0.push(1);
                self.usize(tags.len());
                for t in tags {
                    self.bytes(t);
                }
            }
        }
        self.opt_bytes(e.location.as_deref());
    }

    fn structure(&mut self, s: &BodyStructure) {
        match s {
            BodyStructure::Single(p) => {
                self.0.push(0);
                self.bytes(&p.media_type);
                self.bytes(&p.subtype);
                self.params(&p.params);
                self.opt_bytes(p.id.as_deref());
                self.opt_bytes(p.description.as_deref());
                self.bytes(&p.encoding);
                self.uint(p.size);
                match &p.specific {
                    Specific::Basic => self.0.push(0),
                    Specific::Text { lines } => {
                        self.0.push(1);
                        self.uint(*lines);
                    }
                    Specific::Message {
                        envelope,
                        body,
                        lines,
                    } => {
                        self.0.push(2);
                        self.envelope(envelope);
                        self.structure(body);
                        self.uint(*lines);
                    }
                }
                self.opt_bytes(p.md5.as_deref());
                self.extension(&p.extension);
            }
            BodyStructure::Multipart(m) => {
                self.0.push(1);
                self.usize(m.parts.len());
                for p in &m.parts {
                    self.structure(p);
                }
                self.bytes(&m.subtype);
                self.params(&m.params);
                self.extension(&m.extension);
            }
        }
    }

    fn mail_data(&mut self, d: &MailData) {
        self.usize(d.headers.len());
        for h in &d.headers {
            self.str(&h.key);
            self.str(&h.value);
        }
        self.str(&d.msgid);
        self.str(&d.subject);
        match d.hdate {
            None => self.0.push(0),
            Some(t) => {
                self.0.push(1);
                self.int(t);
            }
        }
        self.str(&d.text);
        self.str(&d.text_footer);
        self.strs(&d.html);
        self.str(&d.intro);
        self.usize(d.attachments.len());
        for a in &d.attachments {
            self.str(&a.id);
            self.str(&a.filename);
            self.str(&a.content_type);
            self.opt_str(a.disposition.as_deref());
            self.str(&a.transfer_encoding);
            self.opt_str(a.cid.as_deref());
            self.bool(a.related);
            self.uint(a.size_kb);
            self.uint(a.size);
            self.opt_str(a.file_content_hash.as_deref());
        }
        self.bool(d.has_attachments);
        self.str(&d.thread.subject);
        self.strs(&d.thread.references);
    }
}

struct Reader<'a> {
    b: &'a [u8],
    depth: usize,
}

impl<'a> Reader<'a> {
    /// A reader past the format byte, which must be this binary's [`FORMAT`].
    fn open(bytes: &'a [u8]) -> Result<Self> {
        let mut r = Reader { b: bytes, depth: 0 };
        let format = r.byte()?;
        if format != FORMAT {
            return Err(Error::new(
                ErrorKind::Backend,
                format!(
                    "stored message format {format} is not supported (this binary reads {FORMAT})"
                ),
            ));
        }
        Ok(r)
    }
}

impl Reader<'_> {
    fn byte(&mut self) -> Result<u8> {
        let (&first, rest) = self.b.split_first().ok_or_else(|| damaged("truncated"))?;
        self.b = rest;
        Ok(first)
    }

    fn uint(&mut self) -> Result<u64> {
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f)
                .checked_shl(shift)
                .ok_or_else(|| damaged("varint"))?;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(damaged("varint too long"))
    }

    fn int(&mut self) -> Result<i64> {
        let u = self.uint()?;
        Ok(((u >> 1) as i64) ^ -((u & 1) as i64))
    }

    fn usize(&mut self) -> Result<usize> {
        usize::try_from(self.uint()?).map_err(|_| damaged("length"))
    }

    /// A list length: each item takes at least one byte, so a count above the bytes left is damage.
    fn count(&mut self) -> Result<usize> {
        let n = self.usize()?;
        if n > self.b.len() {
            return Err(damaged("list length"));
        }
        Ok(n)
    }

    fn bool(&mut self) -> Result<bool> {
        match self.byte()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(damaged("boolean")),
        }
    }

    fn tag(&mut self, max: u8) -> Result<u8> {
        let t = self.byte()?;
        if t > max {
            return Err(damaged("tag"));
        }
        Ok(t)
    }

    fn bytes(&mut self) -> Result<Vec<u8>> {
        let n = self.usize()?;
        if n > self.b.len() {
            return Err(damaged("byte string length"));
        }
        let (head, rest) = self.b.split_at(n);
        self.b = rest;
        Ok(head.to_vec())
    }

    fn str(&mut self) -> Result<String> {
        String::from_utf8(self.bytes()?).map_err(|_| damaged("text is not UTF-8"))
    }

    fn opt_bytes(&mut self) -> Result<Option<Vec<u8>>> {
        Ok(match self.tag(1)? {
            0 => None,
            _ => Some(self.bytes()?),
        })
    }

    fn opt_str(&mut self) -> Result<Option<String>> {
        Ok(match self.tag(1)? {
            0 => None,
            _ => Some(self.str()?),
        })
    }

    fn strs(&mut self) -> Result<Vec<String>> {
        let n = self.count()?;
        (0..n).map(|_| self.str()).collect()
    }

    fn enter(&mut self) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(damaged("nesting too deep"));
        }
        Ok(())
    }

    fn node(&mut self) -> Result<MimeNode> {
        self.enter()?;
        let header = self.bytes()?;
        let has_separator = self.bool()?;
        let content_type = self.str()?;
        let transfer_encoding = self.opt_str()?;
        let body = match self.tag(2)? {
            0 => {
                let content = match self.tag(1)? {
                    0 => BodyContent::Inline(self.bytes()?),
                    _ => {
                        let attachment_id = self.str()?;
                        let hash = self.str()?;
                        let encoding = match self.tag(1)? {
                            0 => StoredEncoding::Raw,
                            _ => StoredEncoding::Base64Decoded {
                                line_len: self.usize()?,
                                trailing_crlf: self.bool()?,
                            },
                        };
                        BodyContent::Stored(StoredRef {
                            attachment_id,
                            hash,
                            encoding,
                        })
                    }
                };
                NodeBody::Leaf(LeafBody {
                    content,
                    size: self.uint()?,
                    lines: self.uint()?,
                })
            }
            1 => {
                let boundary = self.bytes()?;
                let preamble = self.bytes()?;
                let n = self.count()?;
                let mut parts = Vec::with_capacity(n);
                for _ in 0..n {
                    let delimiter = self.bytes()?;
                    let node = self.node()?;
                    parts.push(Part { delimiter, node });
                }
                NodeBody::Multipart(Multipart {
                    boundary,
                    preamble,
                    parts,
                    close: self.opt_bytes()?,
                    epilogue: self.bytes()?,
                })
            }
            _ => NodeBody::Message(Box::new(self.node()?)),
        };
        self.depth -= 1;
        Ok(MimeNode {
            header,
            has_separator,
            content_type,
            transfer_encoding,
            body,
        })
    }

    fn addresses(&mut self) -> Result<Option<Vec<EnvelopeAddress>>> {
        if self.tag(1)? == 0 {
            return Ok(None);
        }
        let n = self.count()?;
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(EnvelopeAddress {
                name: self.opt_bytes()?,
                adl: self.opt_bytes()?,
                mailbox: self.opt_bytes()?,
                host: self.opt_bytes()?,
            });
        }
        Ok(Some(out))
    }

    fn envelope(&mut self) -> Result<Envelope> {
        Ok(Envelope {
            date: self.opt_bytes()?,
            subject: self.opt_bytes()?,
            from: self.addresses()?,
            sender: self.addresses()?,
            reply_to: self.addresses()?,
            to: self.addresses()?,
            cc: self.addresses()?,
            bcc: self.addresses()?,
            in_reply_to: self.opt_bytes()?,
            message_id: self.opt_bytes()?,
        })
    }

    fn params(&mut self) -> Result<Params> {
        let n = self.count()?;
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push((self.bytes()?, self.bytes()?));
        }
        Ok(out)
    }

    fn extension(&mut self) -> Result<Extension> {
        let disposition = match self.tag(1)? {
            0 => None,
            _ => Some(Disposition {
                kind: self.bytes()?,
                params: self.params()?,
            }),
        };
        let language = match self.tag(1)? {
            0 => None,
            _ => {
                let n = self.count()?;
                Some((0..n).map(|_| self.bytes()).collect::<Result<Vec<_>>>()?)
            }
        };
        Ok(Extension {
            disposition,
            language,
            location: self.opt_bytes()?,
        })
    }

    fn structure(&mut self) -> Result<BodyStructure> {
        self.enter()?;
        let s = match self.tag(1)? {
            0 => {
                let media_type = self.bytes()?;
                let subtype = self.bytes()?;
                let params = self.params()?;
                let id = self.opt_bytes()?;
                let description = self.opt_bytes()?;
                let encoding = self.bytes()?;
                let size = self.uint()?;
                let specific = match self.tag(2)? {
                    0 => Specific::Basic,
                    1 => Specific::Text {
                        lines: self.uint()?,
                    },
                    _ => Specific::Message {
                        envelope: Box::new(self.envelope()?),
                        body: Box::new(self.structure()?),
                        lines: self.uint()?,
                    },
                };
                BodyStructure::Single(SinglePart {
                    media_type,
                    subtype,
                    params,
                    id,
                    description,
                    encoding,
                    size,
                    specific,
                    md5: self.opt_bytes()?,
                    extension: self.extension()?,
                })
            }
            _ => {
                let n = self.count()?;
                let mut parts = Vec::with_capacity(n);
                for _ in 0..n {
                    parts.push(self.structure()?);
                }
                BodyStructure::Multipart(MultipartPart {
                    parts,
                    subtype: self.bytes()?,
                    params: self.params()?,
                    extension: self.extension()?,
                })
            }
        };
        self.depth -= 1;
        Ok(s)
    }

    fn mail_data(&mut self) -> Result<MailData> {
        let n = self.count()?;
        let mut headers = Vec::with_capacity(n);
        for _ in 0..n {
            headers.push(IndexedHeader {
                key: self.str()?,
                value: self.str()?,
            });
        }
        let msgid = self.str()?;
        let subject = self.str()?;
        let hdate = match self.tag(1)? {
            0 => None,
            _ => Some(self.int()?),
        };
        let text = self.str()?;
        let text_footer = self.str()?;
        let html = self.strs()?;
        let intro = self.str()?;
        let n = self.count()?;
        let mut attachments = Vec::with_capacity(n);
        for _ in 0..n {
            attachments.push(AttachmentInfo {
                id: self.str()?,
                filename: self.str()?,
                content_type: self.str()?,
                disposition: self.opt_str()?,
                transfer_encoding: self.str()?,
                cid: self.opt_str()?,
                related: self.bool()?,
                size_kb: self.uint()?,
                size: self.uint()?,
                file_content_hash: self.opt_str()?,
            });
        }
        Ok(MailData {
            headers,
            msgid,
            subject,
            hdate,
            text,
            text_footer,
            html,
            intro,
            attachments,
            has_attachments: self.bool()?,
            thread: ThreadKeys {
                subject: self.str()?,
                references: self.strs()?,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &[u8] = b"From: A <a@example.com>\r\nTo: b@example.com, Group: c@x.test;\r\n\
Subject: =?utf-8?q?h=C3=A9llo?=\r\nMessage-ID: <1@x>\r\nDate: Mon, 1 Jan 2024 10:00:00 +0000\r\n\
Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\npreamble\r\n--b1\r\n\
Content-Type: text/plain; charset=utf-8\r\n\r\nhello world\r\n--b1\r\n\
Content-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\ninner body\r\n--b1\r\n\
Content-Type: application/octet-stream; name=\"a.bin\"\r\nContent-Disposition: attachment; filename=a.bin\r\n\
Content-Transfer-Encoding: base64\r\n\r\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4\r\n\
OTo7PD0+P0BBQkNERUZHSElKS0xNTk9QUVJTVFVWV1hZWltcXV5fYGFiY2RlZmdoaWprbG1ub3Bx\r\n--b1--\r\nepilogue\r\n";

    #[test]
    fn round_trip_and_damage_is_an_error() {
        let m = crate::message::ingest(SAMPLE).map(|i| i.message);
        let Ok(m) = m else {
            panic!("ingest failed: {m:?}");
        };
        let enc = encode(&m);
        assert_eq!(decode(&enc).as_ref(), Ok(&m));
        // Every truncation and a wrong format byte are errors, never panics.
        for cut in 0..enc.len() {
            assert!(decode(&enc[..cut]).is_err(), "cut at {cut}");
        }
        let mut wrong = enc.clone();
        wrong[0] = 99;
        assert_eq!(
            decode(&wrong).map_err(|e| e.kind()),
            Err(ErrorKind::Backend)
        );
        let mut extra = enc;
        extra.push(0);
        assert!(decode(&extra).is_err());
    }

    #[test]
    fn decoding_the_tree_alone_gives_the_full_decodes_tree() {
        let m = crate::message::ingest(SAMPLE).map(|i| i.message);
        let Ok(m) = m else {
            panic!("ingest failed: {m:?}");
        };
        let enc = encode(&m);
        assert_eq!(decode_tree(&enc).as_ref(), Ok(&m.tree));
        let mut wrong = enc.clone();
        wrong[0] = 99;
        assert_eq!(
            decode_tree(&wrong).map_err(|e| e.kind()),
            Err(ErrorKind::Backend)
        );
        assert!(decode_tree(&enc[..3]).is_err());
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let mut b = bytes;
            if let Some(first) = b.first_mut() {
                *first = FORMAT;
            }
            let _ = decode(&b);
        }
    }
}
