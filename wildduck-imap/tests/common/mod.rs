//! Shared by the oracle and golden tests: wrap our output in FETCH responses and check that imap-codec
//! (a test oracle only) decodes them into the same structure as our model.

#![allow(dead_code)]

use imap_codec::ResponseCodec;
use imap_codec::decode::Decoder;
use imap_codec::imap_types::body::{
    BasicFields, BodyStructure as IBody, Disposition as IDisposition, SpecificFields,
};
use imap_codec::imap_types::core::{IString, NString};
use imap_codec::imap_types::envelope::{Address as IAddress, Envelope as IEnvelope};
use imap_codec::imap_types::fetch::MessageDataItem;
use imap_codec::imap_types::response::{Data, Response};
use wildduck_core::message::bodystructure::{
    BodyStructure, Disposition, Extension, Params, SinglePart, Specific,
};
use wildduck_core::message::envelope::{Envelope, EnvelopeAddress};
use wildduck_imap::response::{write_body_structure, write_envelope};

/// The three FETCH items for one message, for one `utf8` mode.
pub fn fetch_items(env: &Envelope, bs: &BodyStructure, utf8: bool) -> [Vec<u8>; 3] {
    let mut e = b"ENVELOPE ".to_vec();
    write_envelope(env, &mut e, utf8);
    let mut s = b"BODYSTRUCTURE ".to_vec();
    write_body_structure(bs, true, &mut s, utf8);
    let mut b = b"BODY ".to_vec();
    write_body_structure(bs, false, &mut b, utf8);
    [e, s, b]
}

/// `* seq FETCH (item item …)\r\n`
pub fn fetch_line(seq: u32, items: &[Vec<u8>]) -> Vec<u8> {
    let mut out = format!("* {seq} FETCH (").into_bytes();
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        out.extend_from_slice(item);
    }
    out.extend_from_slice(b")\r\n");
    out
}

/// Decodes one FETCH response with imap-codec and checks every item against the model. Returns the
/// unconsumed rest of `input`.
pub fn check_fetch<'a>(
    input: &'a [u8],
    env: &Envelope,
    bs: &BodyStructure,
    utf8: bool,
    what: &str,
) -> &'a [u8] {
    let (rest, response) = match ResponseCodec::default().decode(input) {
        Ok(ok) => ok,
        Err(e) => panic!(
            "{what}: imap-codec rejects our response ({e:?}):\n{}",
            String::from_utf8_lossy(input)
        ),
    };
    let Response::Data(Data::Fetch { items, .. }) = response else {
        panic!("{what}: not a FETCH response: {response:?}");
    };
    let items = items.into_inner();
    assert!(!items.is_empty(), "{what}: no items");
    for item in &items {
        match item {
            MessageDataItem::Envelope(e) => cmp_envelope(e, env, utf8, what),
            MessageDataItem::BodyStructure(b) => cmp_body(b, bs, true, utf8, what),
            MessageDataItem::Body(b) => cmp_body(b, bs, false, utf8, what),
            other => panic!("{what}: unexpected item {other:?}"),
        }
    }
    rest
}

fn bytes(s: &IString) -> Vec<u8> {
    s.as_ref().to_vec()
}

fn nbytes(s: &NString) -> Option<Vec<u8>> {
    s.0.as_ref().map(bytes)
}

/// What our writer puts on the wire for a string: NUL bytes cannot travel.
fn wire(v: &[u8]) -> Vec<u8> {
    v.iter().copied().filter(|&b| b != 0).collect()
}

fn cmp_nstring(got: &NString, want: Option<&[u8]>, what: &str) {
    assert_eq!(nbytes(got), want.map(wire), "{what}");
}

fn cmp_envelope(got: &IEnvelope, want: &Envelope, utf8: bool, what: &str) {
    cmp_nstring(&got.date, want.date.as_deref(), what);
    cmp_nstring(&got.subject, want.subject.as_deref(), what);
    let lists = [
        (&got.from, &want.from),
        (&got.sender, &want.sender),
        (&got.reply_to, &want.reply_to),
        (&got.to, &want.to),
        (&got.cc, &want.cc),
        (&got.bcc, &want.bcc),
    ];
    for (g, w) in lists {
        cmp_addresses(g, w.as_deref().unwrap_or_default(), what);
    }
    cmp_nstring(&got.in_reply_to, want.in_reply_to.as_deref(), what);
    cmp_nstring(&got.message_id, want.message_id.as_deref(), what);
    let _ = utf8;
}

fn cmp_addresses(got: &[IAddress], want: &[EnvelopeAddress], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: address count");
    for (g, w) in got.iter().zip(want) {
        cmp_nstring(&g.name, w.name.as_deref(), what);
        cmp_nstring(&g.adl, w.adl.as_deref(), what);
        cmp_nstring(&g.mailbox, w.mailbox.as_deref(), what);
        cmp_nstring(&g.host, w.host.as_deref(), what);
    }
}

/// Parameter values: what the writer sends for a value (see `write_body_structure`).
fn cmp_params(got: &[(IString, IString)], want: &Params, utf8: bool, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: parameter count");
    for ((gn, gv), (wn, wv)) in got.iter().zip(want) {
        assert_eq!(bytes(gn), wire(wn), "{what}: parameter name");
        let gv = bytes(gv);
        if !utf8 && !wv.is_ascii() && std::str::from_utf8(wv).is_ok() {
            assert!(
                gv.starts_with(b"=?UTF-8?Q?") && gv.is_ascii(),
                "{what}: non-ASCII parameter value not sent as an encoded-word"
            );
        } else {
            assert_eq!(gv, wire(wv), "{what}: parameter value");
        }
    }
}

fn cmp_body(got: &IBody, want: &BodyStructure, extended: bool, utf8: bool, what: &str) {
    match (got, want) {
        (
            IBody::Single {
                body,
                extension_data,
            },
            BodyStructure::Single(w),
        ) => {
            cmp_basic(&body.basic, w, utf8, what);
            match (&body.specific, &w.specific) {
                (SpecificFields::Basic { r#type, subtype }, Specific::Basic) => {
                    assert_eq!(bytes(r#type), w.media_type, "{what}");
                    assert_eq!(bytes(subtype), w.subtype, "{what}");
                }
                (
                    SpecificFields::Text {
                        subtype,
                        number_of_lines,
                    },
                    Specific::Text { lines },
                ) => {
                    assert_eq!(w.media_type, b"TEXT", "{what}");
                    assert_eq!(bytes(subtype), w.subtype, "{what}");
                    assert_eq!(u64::from(*number_of_lines), *lines, "{what}: lines");
                }
                (
                    SpecificFields::Message {
                        envelope,
                        body_structure,
                        number_of_lines,
                    },
                    Specific::Message {
                        envelope: we,
                        body: wb,
                        lines,
                    },
                ) => {
                    cmp_envelope(envelope, we, utf8, what);
                    cmp_body(body_structure, wb, extended, utf8, what);
                    assert_eq!(u64::from(*number_of_lines), *lines, "{what}: lines");
                }
                (g, w) => panic!("{what}: kind differs: {g:?} vs {w:?}"),
            }
            if extended {
                let ext = extension_data
                    .as_ref()
                    .unwrap_or_else(|| panic!("{what}: no extension data"));
                cmp_nstring(&ext.md5, w.md5.as_deref(), what);
                cmp_tail(ext.tail.as_ref(), &w.extension, utf8, what);
            } else {
                assert!(extension_data.is_none(), "{what}: BODY with extension data");
            }
        }
        (
            IBody::Multi {
                bodies,
                subtype,
                extension_data,
            },
            BodyStructure::Multipart(w),
        ) => {
            let bodies = bodies.as_ref();
            assert_eq!(bodies.len(), w.parts.len(), "{what}: part count");
            for (g, p) in bodies.iter().zip(&w.parts) {
                cmp_body(g, p, extended, utf8, what);
            }
            assert_eq!(bytes(subtype), w.subtype, "{what}");
            if extended {
                let ext = extension_data
                    .as_ref()
                    .unwrap_or_else(|| panic!("{what}: no extension data"));
                cmp_params(&ext.parameter_list, &w.params, utf8, what);
                cmp_tail(ext.tail.as_ref(), &w.extension, utf8, what);
            } else {
                assert!(extension_data.is_none(), "{what}: BODY with extension data");
            }
        }
        (g, w) => panic!("{what}: single/multi differs: {g:?} vs {w:?}"),
    }
}

fn cmp_basic(got: &BasicFields, want: &SinglePart, utf8: bool, what: &str) {
    cmp_params(&got.parameter_list, &want.params, utf8, what);
    cmp_nstring(&got.id, want.id.as_deref(), what);
    cmp_nstring(&got.description, want.description.as_deref(), what);
    assert_eq!(
        bytes(&got.content_transfer_encoding),
        want.encoding,
        "{what}"
    );
    assert_eq!(u64::from(got.size), want.size, "{what}: size");
}

/// We always send disposition, language and location (NIL when absent).
fn cmp_tail(got: Option<&IDisposition>, want: &Extension, utf8: bool, what: &str) {
    let d = got.unwrap_or_else(|| panic!("{what}: no disposition"));
    match (&d.disposition, &want.disposition) {
        (None, None) => {}
        (
            Some((kind, params)),
            Some(Disposition {
                kind: wk,
                params: wp,
            }),
        ) => {
            assert_eq!(bytes(kind), *wk, "{what}: disposition");
            cmp_params(params, wp, utf8, what);
        }
        (g, w) => panic!("{what}: disposition differs: {g:?} vs {w:?}"),
    }
    let l = d
        .tail
        .as_ref()
        .unwrap_or_else(|| panic!("{what}: no language"));
    let got_lang: Vec<Vec<u8>> = l.language.iter().map(bytes).collect();
    assert_eq!(
        got_lang,
        want.language.clone().unwrap_or_default(),
        "{what}: language"
    );
    let loc = l
        .tail
        .as_ref()
        .unwrap_or_else(|| panic!("{what}: no location"));
    cmp_nstring(&loc.location, want.location.as_deref(), what);
    assert!(loc.extensions.is_empty(), "{what}: unexpected extensions");
}
