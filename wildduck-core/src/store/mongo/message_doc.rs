//! The `messages` document in WildDuck 1.50's exact layout, as pure functions over BSON.
//!
//! [`to_document`] writes every field WildDuck's `MessageHandler._addAsync` writes — `mimeTree` (nodes
//! with `header` lines as binary strings, `parsedHeader`, `body`/`attachmentId`, `size`, `lineCount`,
//! `multipart`, `boundary`, `childNodes`, `message`, root `attachmentMap`), `envelope` and
//! `bodystructure` as WildDuck's nested arrays, `headers`, `msgid`, `subject`, `text`, `textFooter`,
//! `html`, `intro`, `attachments`, `ha`, `magic`, `size`, flags booleans — so WildDuck reads and
//! rebuilds the message. The bytes WildDuck's tree cannot hold (preamble/epilogue placement,
//! delimiter lines with transport padding, a missing header separator or close delimiter, header
//! lines WildDuck would split differently) go into extra node fields whose names start with `x`
//! (WildDuck ignores unknown fields); with them [`from_document`] gives back the exact tree.
//!
//! [`from_document`] also reads documents WildDuck wrote (no `x` fields): it rebuilds the tree the
//! way WildDuck's `Indexer.rebuild` emits the bytes. `docs/data-model.md` lists every field.

use std::collections::HashMap;

use bson::{Binary, Bson, Document, doc, spec::BinarySubtype};

use super::attachments::{file_id, hex_encode};
use super::messages::{meta_doc, meta_from};
use super::{get_bool, get_date, get_i64, get_str, get_u64, unum};
use crate::message::bodystructure::{
    BodyStructure, Disposition, Extension, MultipartPart, Params, SinglePart, Specific,
};
use crate::message::envelope::{Envelope, EnvelopeAddress};
use crate::message::maildata::{AttachmentInfo, IndexedHeader, MailData, ThreadKeys};
use crate::message::parse::{count_lines, is_identity_encoding, parse, parse_content_type};
use crate::message::tree::{
    BodyContent, LeafBody, MimeNode, Multipart, NodeBody, Part, StoredEncoding, StoredRef,
};
use crate::message::{StoredMessage, header, parsed_header};
use crate::model::MessageMeta;
use crate::{Error, ErrorKind, Result};

/// Value of the root's `xExact` marker: every node carries the exact-bytes extras.
const EXACT_VERSION: i32 = 1;

/// The document for `meta` with content `msg`. Where both have a field, `meta` wins for `size`,
/// `ha`, and for `msgid`/`subject` when set (it is what metadata reads and quota use); the
/// `attachmentMap` comes from the tree.
pub fn to_document(meta: &MessageMeta, msg: &StoredMessage) -> Document {
    let mut d = meta_doc(meta);
    d.insert("userDeleted", false);
    d.insert("meta", Document::new());
    d.insert("filters", Bson::Array(Vec::new()));

    let mut tree = node_doc(&msg.tree);
    let mut map = Document::new();
    attachment_map(&msg.tree, &mut map);
    tree.insert("attachmentMap", map);
    tree.insert("xExact", EXACT_VERSION);
    d.insert("mimeTree", tree);

    d.insert("envelope", envelope_bson(&msg.envelope));
    d.insert("bodystructure", body_bson(&msg.body_structure));
    write_maildata(&msg.data, &mut d);
    d.insert("ha", meta.has_attachments);
    if let Some(id) = meta.msgid.as_deref().filter(|s| !s.is_empty()) {
        d.insert("msgid", id);
    }
    if !meta.subject.is_empty() {
        d.insert("subject", &meta.subject);
    }
    d.insert("copied", false);
    d
}

/// Reads a `messages` document, written by [`to_document`] or by WildDuck. Blob encodings come from
/// the document's own extras (WildDuck's documents have none: `Raw` until the loader applies the
/// attachment store's metadata with [`apply_blob_encodings`]).
pub fn from_document(d: &Document) -> Result<(MessageMeta, StoredMessage)> {
    let meta = meta_from(d).ok_or_else(|| corrupt("message document without ids"))?;
    let tree_doc = d
        .get_document("mimeTree")
        .map_err(|_| corrupt("message document without mimeTree"))?;
    let exact = get_i64(tree_doc, "xExact") == i64::from(EXACT_VERSION);
    let mut map = HashMap::new();
    if let Ok(m) = tree_doc.get_document("attachmentMap") {
        for (k, v) in m {
            if let Some(h) = blob_key(v) {
                map.insert(k.clone(), h);
            }
        }
    }
    let reader = TreeReader { map: &map, exact };
    let tree = reader.node(tree_doc, false, 0)?;
    let size = crate::message::rebuild::size(&tree);
    let envelope = match d.get("envelope") {
        Some(Bson::Array(a)) => envelope_from(a),
        _ => crate::message::envelope::envelope(&tree.header),
    };
    let body_structure = match d.get("bodystructure") {
        Some(Bson::Array(a)) => body_from(a, 0),
        _ => crate::message::bodystructure::body_structure(&tree),
    };
    let data = read_maildata(d, &meta);
    Ok((
        meta,
        StoredMessage {
            tree,
            size,
            envelope,
            body_structure,
            data,
        },
    ))
}

/// Sets the encoding of every stored leaf whose blob is in `encodings` (hex key → how the
/// attachment store holds it). The store's metadata is the authority: a blob may have been written
/// by WildDuck, or kept raw where WildDuck could not re-encode it.
pub fn apply_blob_encodings(node: &mut MimeNode, encodings: &HashMap<String, StoredEncoding>) {
    match &mut node.body {
        NodeBody::Leaf(leaf) => {
            if let BodyContent::Stored(r) = &mut leaf.content
                && let Some(e) = encodings.get(&r.hash)
            {
                r.encoding = *e;
            }
        }
        NodeBody::Message(inner) => apply_blob_encodings(inner, encodings),
        NodeBody::Multipart(mp) => {
            for p in &mut mp.parts {
                apply_blob_encodings(&mut p.node, encodings);
            }
        }
    }
}

fn corrupt(msg: &str) -> Error {
    Error::new(ErrorKind::Backend, format!("message document: {msg}"))
}

// ---------------------------------------------------------------------------------------------
// Byte helpers

/// A JavaScript "binary" string: one char per byte (what WildDuck keeps header lines in).
fn bin_str(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

/// The bytes of a binary string; a string with chars above U+00FF was not written as one, so it is
/// taken as UTF-8.
fn bin_bytes(s: &str) -> Vec<u8> {
    if s.chars().all(|c| u32::from(c) <= 0xFF) {
        s.chars()
            .map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?'))
            .collect()
    } else {
        s.as_bytes().to_vec()
    }
}

fn binary(bytes: &[u8]) -> Bson {
    Bson::Binary(Binary {
        subtype: BinarySubtype::Generic,
        bytes: bytes.to_vec(),
    })
}

/// A string when the bytes are UTF-8 (what WildDuck has where it keeps a JS string), else Binary.
fn text_or_binary(bytes: &[u8]) -> Bson {
    match std::str::from_utf8(bytes) {
        Ok(s) => Bson::String(s.to_owned()),
        Err(_) => binary(bytes),
    }
}

fn opt_text(v: Option<&Vec<u8>>) -> Bson {
    v.map_or(Bson::Null, |b| text_or_binary(b))
}

fn opt_binary(v: Option<&Vec<u8>>) -> Bson {
    v.map_or(Bson::Null, |b| binary(b))
}

/// Bytes of a Binary or (UTF-8) String value; `None` for anything else (null, false…).
fn value_bytes(v: &Bson) -> Option<Vec<u8>> {
    match v {
        Bson::Binary(b) => Some(b.bytes.clone()),
        Bson::String(s) => Some(s.as_bytes().to_vec()),
        _ => None,
    }
}

fn bson_u64(v: Option<&Bson>) -> Option<u64> {
    match v {
        Some(Bson::Int32(n)) => u64::try_from(*n).ok(),
        Some(Bson::Int64(n)) => u64::try_from(*n).ok(),
        Some(Bson::Double(n)) if n.is_finite() && *n >= 0.0 => Some(*n as u64),
        _ => None,
    }
}

fn doc_binary(d: &Document, key: &str) -> Option<Vec<u8>> {
    d.get(key).and_then(value_bytes)
}

/// The hex key of an `attachmentMap` value (Binary SHA-256 as WildDuck writes it).
fn blob_key(v: &Bson) -> Option<String> {
    match v {
        Bson::Binary(b) => Some(hex_encode(&b.bytes)),
        Bson::String(s) => Some(s.clone()),
        Bson::ObjectId(o) => Some(o.to_hex()),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// mimeTree: writing

/// WildDuck's header lines: split at `\r*\n` or a lone `\r` (its `readLine`), continuation lines
/// (starting with JS white space) joined to the previous line with `\r\n`.
fn wildduck_header_lines(header: &[u8]) -> Vec<Vec<u8>> {
    let mut raw: Vec<Vec<u8>> = Vec::new();
    let mut line = Vec::new();
    let mut i = 0;
    while let Some(&b) = header.get(i) {
        if b == b'\r' || b == b'\n' {
            // `\r*\n` is one break; `\r` not eventually followed by `\n` breaks alone.
            let mut j = i;
            while header.get(j) == Some(&b'\r') {
                j += 1;
            }
            if header.get(j) == Some(&b'\n') {
                i = j + 1;
            } else {
                i += 1;
            }
            raw.push(std::mem::take(&mut line));
        } else {
            line.push(b);
            i += 1;
        }
    }
    if !line.is_empty() {
        raw.push(line);
    }
    let mut out: Vec<Vec<u8>> = Vec::with_capacity(raw.len());
    for l in raw {
        let folded = matches!(l.first(), Some(b' ' | b'\t' | 0x0B | 0x0C | 0xA0));
        match out.last_mut() {
            Some(prev) if folded => {
                prev.extend_from_slice(b"\r\n");
                prev.extend_from_slice(&l);
            }
            _ => out.push(l),
        }
    }
    out
}

fn join_lines(lines: &[Vec<u8>]) -> Vec<u8> {
    let mut out = lines.join(&b"\r\n"[..]);
    out.extend_from_slice(b"\r\n");
    out
}

fn node_doc(node: &MimeNode) -> Document {
    let lines = wildduck_header_lines(&node.header);
    let mut d = Document::new();
    d.insert(
        "header",
        Bson::Array(lines.iter().map(|l| Bson::String(bin_str(l))).collect()),
    );
    d.insert("parsedHeader", parsed_header_doc(&node.header));
    match &node.body {
        NodeBody::Leaf(leaf) => {
            match &leaf.content {
                BodyContent::Inline(bytes) => {
                    d.insert("body", binary(bytes));
                }
                BodyContent::Stored(r) => {
                    d.insert("body", false);
                    d.insert("attachmentId", &r.attachment_id);
                    if let StoredEncoding::Base64Decoded {
                        line_len,
                        trailing_crlf,
                    } = r.encoding
                    {
                        d.insert(
                            "xB64",
                            doc! { "lineLen": unum(line_len as u64), "crlf": trailing_crlf },
                        );
                    }
                }
            }
            d.insert("multipart", false);
            d.insert("boundary", false);
            d.insert("lineCount", unum(leaf.lines));
            d.insert("size", unum(leaf.size));
        }
        NodeBody::Multipart(mp) => {
            let body = wildduck_multipart_body(mp);
            let subtype = node
                .content_type
                .split_once('/')
                .map_or("mixed", |(_, s)| s)
                .to_owned();
            d.insert("body", binary(&body));
            d.insert("multipart", subtype);
            d.insert("boundary", bin_str(&mp.boundary));
            d.insert("lineCount", unum(count_crlf(&body)));
            d.insert("size", unum(body.len() as u64));
            d.insert(
                "childNodes",
                Bson::Array(
                    mp.parts
                        .iter()
                        .map(|p| Bson::Document(node_doc(&p.node)))
                        .collect(),
                ),
            );
            d.insert("xPreamble", binary(&mp.preamble));
            d.insert(
                "xDelims",
                Bson::Array(mp.parts.iter().map(|p| binary(&p.delimiter)).collect()),
            );
            d.insert("xClose", opt_binary(mp.close.as_ref()));
            d.insert("xEpilogue", binary(&mp.epilogue));
        }
        NodeBody::Message(inner) => {
            // WildDuck's rebuild walks `childNodes`, its FETCH of sub-parts follows `message`: an
            // empty body plus the nested root in both places rebuilds the exact bytes in WildDuck
            // without storing the embedded message a second time as a blob.
            let nested = node_doc(inner);
            d.insert("body", binary(&[]));
            d.insert("multipart", false);
            d.insert("boundary", false);
            d.insert("lineCount", 0);
            d.insert("size", 0);
            d.insert(
                "childNodes",
                Bson::Array(vec![Bson::Document(nested.clone())]),
            );
            d.insert("message", nested);
        }
    }
    if join_lines(&lines) != node.header {
        d.insert("xHeader", binary(&node.header));
    }
    if !node.has_separator {
        d.insert("xNoSep", true);
    }
    d
}

fn count_crlf(b: &[u8]) -> u64 {
    memchr::memmem::find_iter(b, b"\r\n").count() as u64
}

/// The `body` WildDuck's parser gives a multipart node: the preamble lines and, after the close
/// delimiter, the epilogue lines, ending with a line break when non-empty.
fn wildduck_multipart_body(mp: &Multipart) -> Vec<u8> {
    let mut body = mp.preamble.clone();
    if !mp.epilogue.is_empty() {
        if !body.is_empty() {
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(&mp.epilogue);
    }
    if body.last().is_some_and(|&b| b != b'\n') {
        body.extend_from_slice(b"\r\n");
    }
    body
}

fn attachment_map(node: &MimeNode, map: &mut Document) {
    match &node.body {
        NodeBody::Leaf(leaf) => {
            if let BodyContent::Stored(r) = &leaf.content
                && let Ok(id) = file_id(&r.hash)
            {
                map.insert(r.attachment_id.clone(), id);
            }
        }
        NodeBody::Message(inner) => attachment_map(inner, map),
        NodeBody::Multipart(mp) => {
            for p in &mp.parts {
                attachment_map(&p.node, map);
            }
        }
    }
}

/// WildDuck's `parsedHeader` as BSON (the shape is [`parsed_header::parsed_header`]'s).
fn parsed_header_doc(section: &[u8]) -> Document {
    let mut d = Document::new();
    for (k, v) in parsed_header::parsed_header(section) {
        d.insert(k, json_bson(v));
    }
    d
}

/// The JSON values a parsed header holds (strings, booleans, arrays, objects) as BSON.
fn json_bson(v: serde_json::Value) -> Bson {
    match v {
        serde_json::Value::String(s) => Bson::String(s),
        serde_json::Value::Bool(b) => Bson::Boolean(b),
        serde_json::Value::Array(a) => Bson::Array(a.into_iter().map(json_bson).collect()),
        serde_json::Value::Object(o) => {
            Bson::Document(o.into_iter().map(|(k, v)| (k, json_bson(v))).collect())
        }
        serde_json::Value::Number(n) => n.as_i64().map_or(Bson::Null, Bson::Int64),
        serde_json::Value::Null => Bson::Null,
    }
}

// ---------------------------------------------------------------------------------------------
// mimeTree: reading

struct TreeReader<'a> {
    /// `attachmentMap`: attachment id → hex blob key.
    map: &'a HashMap<String, String>,
    /// The document carries our exact-bytes extras.
    exact: bool,
}

/// Deeper documents than this are refused (a hostile or corrupt document must not exhaust the stack).
const MAX_NODE_DEPTH: usize = 128;

impl TreeReader<'_> {
    fn node(&self, d: &Document, in_digest: bool, depth: usize) -> Result<MimeNode> {
        if depth > MAX_NODE_DEPTH {
            return Err(corrupt("mimeTree nested too deeply"));
        }
        let header = match doc_binary(d, "xHeader") {
            Some(h) => h,
            None => {
                let lines: Vec<Vec<u8>> = d
                    .get_array("header")
                    .map(|a| {
                        a.iter()
                            .filter_map(|v| match v {
                                Bson::String(s) => Some(bin_bytes(s)),
                                Bson::Binary(b) => Some(b.bytes.clone()),
                                _ => None,
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                join_lines(&lines)
            }
        };
        let has_separator = !get_bool(d, "xNoSep");
        let ct = header::first(&header, "content-type").and_then(|f| parse_content_type(f.value));
        let content_type = match &ct {
            Some(ct) => ct.mime_type(),
            None if in_digest => "message/rfc822".to_owned(),
            None => "text/plain".to_owned(),
        };
        let transfer_encoding = header::first(&header, "content-transfer-encoding").map(|f| {
            String::from_utf8_lossy(&f.unfolded())
                .trim()
                .to_ascii_lowercase()
        });
        let digest = content_type == "multipart/digest";
        let body = if self.exact {
            self.exact_body(d, digest, depth)?
        } else {
            self.wildduck_body(
                d,
                &content_type,
                transfer_encoding.as_deref(),
                digest,
                depth,
            )?
        };
        Ok(MimeNode {
            header,
            has_separator,
            content_type,
            transfer_encoding,
            body,
        })
    }

    fn children(&self, d: &Document, digest: bool, depth: usize) -> Result<Vec<MimeNode>> {
        let Ok(list) = d.get_array("childNodes") else {
            return Ok(Vec::new());
        };
        list.iter()
            .filter_map(Bson::as_document)
            .map(|c| self.node(c, digest, depth + 1))
            .collect()
    }

    fn stored_leaf(&self, d: &Document, id: &str) -> Result<NodeBody> {
        let hash = self
            .map
            .get(id)
            .cloned()
            .ok_or_else(|| corrupt("attachmentId missing from attachmentMap"))?;
        let encoding = match d.get_document("xB64") {
            Ok(x) => StoredEncoding::Base64Decoded {
                line_len: usize::try_from(get_u64(x, "lineLen")).unwrap_or(76),
                trailing_crlf: get_bool(x, "crlf"),
            },
            Err(_) => StoredEncoding::Raw,
        };
        Ok(NodeBody::Leaf(LeafBody {
            content: BodyContent::Stored(StoredRef {
                attachment_id: id.to_owned(),
                hash,
                encoding,
            }),
            size: get_u64(d, "size"),
            lines: get_u64(d, "lineCount"),
        }))
    }

    fn exact_body(&self, d: &Document, digest: bool, depth: usize) -> Result<NodeBody> {
        if let Ok(id) = d.get_str("attachmentId") {
            return self.stored_leaf(d, id);
        }
        if let Ok(delims) = d.get_array("xDelims") {
            let nodes = self.children(d, digest, depth)?;
            if nodes.len() != delims.len() || nodes.is_empty() {
                return Err(corrupt("multipart parts and delimiters differ"));
            }
            let parts = delims
                .iter()
                .zip(nodes)
                .map(|(dl, node)| Part {
                    delimiter: value_bytes(dl).unwrap_or_default(),
                    node,
                })
                .collect();
            let boundary = bin_bytes(d.get_str("boundary").unwrap_or_default());
            return Ok(NodeBody::Multipart(Multipart {
                boundary,
                preamble: doc_binary(d, "xPreamble").unwrap_or_default(),
                parts,
                close: doc_binary(d, "xClose"),
                epilogue: doc_binary(d, "xEpilogue").unwrap_or_default(),
            }));
        }
        if let Ok(m) = d.get_document("message") {
            return Ok(NodeBody::Message(Box::new(self.node(
                m,
                false,
                depth + 1,
            )?)));
        }
        Ok(inline_leaf(doc_binary(d, "body").unwrap_or_default()))
    }

    /// A node WildDuck wrote, as `Indexer.rebuild` emits it: header lines joined by CRLF plus CRLF, a
    /// blank line, then the inline body, the attachment, or for a multipart its `body`, `--b`, the
    /// children separated by `CRLF--b`, and `CRLF--b--CRLF`.
    fn wildduck_body(
        &self,
        d: &Document,
        content_type: &str,
        cte: Option<&str>,
        digest: bool,
        depth: usize,
    ) -> Result<NodeBody> {
        if let Ok(id) = d.get_str("attachmentId") {
            return self.stored_leaf(d, id);
        }
        let body = doc_binary(d, "body").unwrap_or_default();
        let boundary = match d.get("boundary") {
            Some(Bson::String(s)) if !s.is_empty() => Some(bin_bytes(s)),
            _ => None,
        };
        if let Some(b) = boundary {
            let nodes = self.children(d, digest, depth)?;
            let mut dash = b"--".to_vec();
            dash.extend_from_slice(&b);
            let mut close = b"\r\n".to_vec();
            close.extend_from_slice(&dash);
            close.extend_from_slice(b"--\r\n");
            if nodes.is_empty() {
                // `body--b` CRLF `--b--` CRLF: no part to hold, so one leaf.
                let mut bytes = body;
                bytes.extend_from_slice(&dash);
                bytes.extend_from_slice(&close);
                return Ok(inline_leaf(bytes));
            }
            let (preamble, first) = match body.strip_suffix(b"\r\n") {
                Some(p) => (p.to_vec(), [&b"\r\n"[..], &dash, b"\r\n"].concat()),
                None => (body.clone(), [&dash[..], b"\r\n"].concat()),
            };
            let next = [&b"\r\n"[..], &dash, b"\r\n"].concat();
            let parts = nodes
                .into_iter()
                .enumerate()
                .map(|(i, node)| Part {
                    delimiter: if i == 0 { first.clone() } else { next.clone() },
                    node,
                })
                .collect();
            return Ok(NodeBody::Multipart(Multipart {
                boundary: b,
                preamble,
                parts,
                close: Some(close),
                epilogue: Vec::new(),
            }));
        }
        if (content_type == "message/rfc822" || content_type == "message/global")
            && is_identity_encoding(cte)
            && !body.is_empty()
        {
            // Same bytes, parsed so FETCH can address the embedded message's parts.
            return Ok(NodeBody::Message(Box::new(parse(&body))));
        }
        Ok(inline_leaf(body))
    }
}

fn inline_leaf(bytes: Vec<u8>) -> NodeBody {
    let lines = count_lines(&bytes);
    let size = bytes.len() as u64;
    NodeBody::Leaf(LeafBody {
        content: BodyContent::Inline(bytes),
        size,
        lines,
    })
}

// ---------------------------------------------------------------------------------------------
// envelope / bodystructure arrays (create-envelope.js, body-structure.js)

fn envelope_bson(e: &Envelope) -> Bson {
    Bson::Array(vec![
        opt_text(e.date.as_ref()),
        opt_binary(e.subject.as_ref()),
        addresses_bson(e.from.as_deref()),
        addresses_bson(e.sender.as_deref()),
        addresses_bson(e.reply_to.as_deref()),
        addresses_bson(e.to.as_deref()),
        addresses_bson(e.cc.as_deref()),
        addresses_bson(e.bcc.as_deref()),
        opt_text(e.in_reply_to.as_ref()),
        opt_text(e.message_id.as_ref()),
    ])
}

fn addresses_bson(list: Option<&[EnvelopeAddress]>) -> Bson {
    match list {
        None => Bson::Null,
        Some(l) => Bson::Array(
            l.iter()
                .map(|a| {
                    Bson::Array(vec![
                        opt_binary(a.name.as_ref()),
                        opt_binary(a.adl.as_ref()),
                        opt_binary(a.mailbox.as_ref()),
                        opt_binary(a.host.as_ref()),
                    ])
                })
                .collect(),
        ),
    }
}

fn envelope_from(a: &[Bson]) -> Envelope {
    let bytes = |i: usize| a.get(i).and_then(value_bytes);
    let addrs = |i: usize| match a.get(i) {
        Some(Bson::Array(list)) => Some(
            list.iter()
                .filter_map(|x| match x {
                    Bson::Array(f) => Some(EnvelopeAddress {
                        name: f.first().and_then(value_bytes),
                        adl: f.get(1).and_then(value_bytes),
                        mailbox: f.get(2).and_then(value_bytes),
                        host: f.get(3).and_then(value_bytes),
                    }),
                    _ => None,
                })
                .collect(),
        ),
        _ => None,
    };
    Envelope {
        date: bytes(0),
        subject: bytes(1),
        from: addrs(2),
        sender: addrs(3),
        reply_to: addrs(4),
        to: addrs(5),
        cc: addrs(6),
        bcc: addrs(7),
        in_reply_to: bytes(8),
        message_id: bytes(9),
    }
}

fn params_bson(p: &Params) -> Bson {
    if p.is_empty() {
        return Bson::Null;
    }
    Bson::Array(
        p.iter()
            .flat_map(|(k, v)| [text_or_binary(k), binary(v)])
            .collect(),
    )
}

fn params_from(v: Option<&Bson>) -> Params {
    let Some(Bson::Array(a)) = v else {
        return Vec::new();
    };
    a.chunks(2)
        .filter_map(|kv| match kv {
            [k, v] => Some((value_bytes(k)?, value_bytes(v).unwrap_or_default())),
            _ => None,
        })
        .collect()
}

fn extension_bson(e: &Extension, out: &mut Vec<Bson>) {
    out.push(match &e.disposition {
        None => Bson::Null,
        Some(d) => Bson::Array(vec![text_or_binary(&d.kind), params_bson(&d.params)]),
    });
    out.push(match &e.language {
        None => Bson::Null,
        Some(l) => Bson::Array(l.iter().map(|x| text_or_binary(x)).collect()),
    });
    out.push(opt_text(e.location.as_ref()));
}

fn extension_from(a: &[Bson], at: usize) -> Extension {
    Extension {
        disposition: match a.get(at) {
            Some(Bson::Array(d)) => d.first().and_then(value_bytes).map(|kind| Disposition {
                kind,
                params: params_from(d.get(1)),
            }),
            _ => None,
        },
        language: match a.get(at + 1) {
            Some(Bson::Array(l)) => Some(l.iter().filter_map(value_bytes).collect()),
            Some(Bson::String(s)) => Some(vec![s.as_bytes().to_vec()]),
            _ => None,
        },
        location: a.get(at + 2).and_then(value_bytes),
    }
}

fn body_bson(b: &BodyStructure) -> Bson {
    let mut out = Vec::new();
    match b {
        BodyStructure::Multipart(m) => {
            out.extend(m.parts.iter().map(body_bson));
            out.push(text_or_binary(&m.subtype));
            out.push(params_bson(&m.params));
            extension_bson(&m.extension, &mut out);
        }
        BodyStructure::Single(s) => {
            out.push(text_or_binary(&s.media_type));
            out.push(text_or_binary(&s.subtype));
            out.push(params_bson(&s.params));
            out.push(opt_text(s.id.as_ref()));
            out.push(opt_text(s.description.as_ref()));
            out.push(text_or_binary(&s.encoding));
            out.push(unum(s.size));
            match &s.specific {
                Specific::Basic => {}
                Specific::Text { lines } => out.push(unum(*lines)),
                Specific::Message {
                    envelope,
                    body,
                    lines,
                } => {
                    out.push(envelope_bson(envelope));
                    out.push(body_bson(body));
                    out.push(unum(*lines));
                }
            }
            out.push(opt_text(s.md5.as_ref()));
            extension_bson(&s.extension, &mut out);
        }
    }
    Bson::Array(out)
}

fn default_text_part() -> BodyStructure {
    BodyStructure::Single(SinglePart {
        media_type: b"TEXT".to_vec(),
        subtype: b"PLAIN".to_vec(),
        params: Vec::new(),
        id: None,
        description: None,
        encoding: b"7BIT".to_vec(),
        size: 0,
        specific: Specific::Text { lines: 0 },
        md5: None,
        extension: Extension::default(),
    })
}

fn body_from(a: &[Bson], depth: usize) -> BodyStructure {
    if depth > MAX_NODE_DEPTH {
        return default_text_part();
    }
    if matches!(a.first(), Some(Bson::Array(_))) {
        let n = a.iter().take_while(|x| matches!(x, Bson::Array(_))).count();
        let parts: Vec<BodyStructure> = a
            .iter()
            .take(n)
            .filter_map(|x| match x {
                Bson::Array(p) if !p.is_empty() => Some(body_from(p, depth + 1)),
                _ => None,
            })
            .collect();
        return BodyStructure::Multipart(MultipartPart {
            parts: if parts.is_empty() {
                vec![default_text_part()]
            } else {
                parts
            },
            subtype: a.get(n).and_then(value_bytes).unwrap_or_default(),
            params: params_from(a.get(n + 1)),
            extension: extension_from(a, n + 2),
        });
    }
    if a.is_empty() {
        return default_text_part();
    }
    let bytes = |i: usize| a.get(i).and_then(value_bytes);
    let (specific, ext_at) = match (a.get(7), a.get(8)) {
        (Some(Bson::Array(env)), Some(Bson::Array(body))) => (
            Specific::Message {
                envelope: Box::new(envelope_from(env)),
                body: Box::new(body_from(body, depth + 1)),
                lines: bson_u64(a.get(9)).unwrap_or(0),
            },
            10,
        ),
        (Some(n), _) if bson_u64(Some(n)).is_some() => (
            Specific::Text {
                lines: bson_u64(Some(n)).unwrap_or(0),
            },
            8,
        ),
        _ => (Specific::Basic, 7),
    };
    BodyStructure::Single(SinglePart {
        media_type: bytes(0).unwrap_or_default(),
        subtype: bytes(1).unwrap_or_default(),
        params: params_from(a.get(2)),
        id: bytes(3),
        description: bytes(4),
        encoding: bytes(5).unwrap_or_else(|| b"7BIT".to_vec()),
        size: bson_u64(a.get(6)).unwrap_or(0),
        specific,
        md5: bytes(ext_at),
        extension: extension_from(a, ext_at + 1),
    })
}

// ---------------------------------------------------------------------------------------------
// Derived fields (maildata)

fn write_maildata(m: &MailData, d: &mut Document) {
    d.insert(
        "headers",
        Bson::Array(
            m.headers
                .iter()
                .map(|h| Bson::Document(doc! { "key": &h.key, "value": &h.value }))
                .collect(),
        ),
    );
    d.insert("msgid", &m.msgid);
    d.insert("subject", &m.subject);
    if !m.text.is_empty() {
        d.insert("text", &m.text);
    }
    if !m.text_footer.is_empty() {
        d.insert("textFooter", &m.text_footer);
    }
    if !m.html.is_empty() {
        d.insert(
            "html",
            Bson::Array(m.html.iter().map(|h| Bson::String(h.clone())).collect()),
        );
    }
    if !m.intro.is_empty() {
        d.insert("intro", &m.intro);
    }
    if !m.attachments.is_empty() {
        d.insert(
            "attachments",
            Bson::Array(m.attachments.iter().map(attachment_bson).collect()),
        );
    }
    d.insert("ha", m.has_attachments);
    // Thread resolution inputs and a missing Date are ours (WildDuck recomputes or never needs them).
    d.insert(
        "xThread",
        doc! {
            "subject": &m.thread.subject,
            "ids": Bson::Array(m.thread.references.iter().map(|r| Bson::String(r.clone())).collect()),
        },
    );
    if m.hdate.is_none() {
        d.insert("xNoHdate", true);
    }
}

fn attachment_bson(a: &AttachmentInfo) -> Bson {
    let mut d = doc! {
        "id": &a.id,
        "filename": &a.filename,
        "contentType": &a.content_type,
        "disposition": a.disposition.clone().map_or(Bson::Boolean(false), Bson::String),
        "transferEncoding": &a.transfer_encoding,
        "cid": a.cid.clone().map_or(Bson::Null, Bson::String),
        "related": a.related,
        "sizeKb": unum(a.size_kb),
        "size": unum(a.size),
    };
    if let Some(h) = &a.file_content_hash {
        d.insert("fileContentHash", h);
    }
    Bson::Document(d)
}

fn attachment_from(d: &Document) -> AttachmentInfo {
    AttachmentInfo {
        id: get_str(d, "id"),
        filename: get_str(d, "filename"),
        content_type: get_str(d, "contentType"),
        disposition: d.get_str("disposition").ok().map(str::to_owned),
        transfer_encoding: get_str(d, "transferEncoding"),
        cid: d.get_str("cid").ok().map(str::to_owned),
        related: get_bool(d, "related"),
        size_kb: get_u64(d, "sizeKb"),
        size: get_u64(d, "size"),
        file_content_hash: d.get_str("fileContentHash").ok().map(str::to_owned),
    }
}

fn read_maildata(d: &Document, meta: &MessageMeta) -> MailData {
    let headers = d
        .get_array("headers")
        .map(|a| {
            a.iter()
                .filter_map(Bson::as_document)
                .map(|h| IndexedHeader {
                    key: get_str(h, "key"),
                    value: get_str(h, "value"),
                })
                .collect()
        })
        .unwrap_or_default();
    let thread = d
        .get_document("xThread")
        .map(|t| ThreadKeys {
            subject: get_str(t, "subject"),
            references: t
                .get_array("ids")
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
        })
        .unwrap_or_else(|_| ThreadKeys {
            subject: crate::message::maildata::normalize_subject(&get_str(d, "subject")),
            references: Vec::new(),
        });
    let hdate = match d.get("hdate") {
        _ if get_bool(d, "xNoHdate") => None,
        Some(Bson::DateTime(_) | Bson::Int64(_) | Bson::Double(_)) => Some(get_date(d, "hdate").0),
        _ => None,
    };
    MailData {
        headers,
        msgid: get_str(d, "msgid"),
        subject: get_str(d, "subject"),
        hdate,
        text: get_str(d, "text"),
        text_footer: get_str(d, "textFooter"),
        html: d
            .get_array("html")
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default(),
        intro: get_str(d, "intro"),
        attachments: d
            .get_array("attachments")
            .map(|a| {
                a.iter()
                    .filter_map(Bson::as_document)
                    .map(attachment_from)
                    .collect()
            })
            .unwrap_or_default(),
        has_attachments: meta.has_attachments,
        thread,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_lines_split_and_fold_like_wildduck() {
        let lines = wildduck_header_lines(b"A: 1\r\nB: 2\r\n\tmore\r\nC: 3\r\n");
        assert_eq!(
            lines,
            vec![
                b"A: 1".to_vec(),
                b"B: 2\r\n\tmore".to_vec(),
                b"C: 3".to_vec()
            ]
        );
        assert_eq!(join_lines(&lines), b"A: 1\r\nB: 2\r\n\tmore\r\nC: 3\r\n");
        // A lone CR breaks a line in WildDuck, so the joined form differs and needs xHeader.
        let odd = b"A: 1\rB: 2\r\n";
        assert_ne!(join_lines(&wildduck_header_lines(odd)), odd);
    }

    #[test]
    fn binary_strings_round_trip_every_byte() {
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(bin_bytes(&bin_str(&all)), all);
    }

    #[test]
    fn multipart_body_holds_preamble_and_epilogue() {
        let mp = Multipart {
            boundary: b"b".to_vec(),
            preamble: b"pre".to_vec(),
            parts: Vec::new(),
            close: Some(b"\r\n--b--\r\n".to_vec()),
            epilogue: b"epi\r\n".to_vec(),
        };
        assert_eq!(wildduck_multipart_body(&mp), b"pre\r\nepi\r\n");
    }
}
