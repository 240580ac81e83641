//! WildDuck's `messages` document layout: our documents round-trip exactly (pure and through the
//! real test server with blobs in GridFS), and a document written the way WildDuck writes it is read
//! and rebuilt the way WildDuck rebuilds it.
#![cfg(feature = "scale-out")]

#[allow(dead_code)]
#[path = "../../tests/support/corpus.rs"]
mod corpus;

use std::sync::Arc;

use bson::{Binary, Bson, Document, doc, spec::BinarySubtype};
use sha2::{Digest as _, Sha256};
use wildduck_core::message::parse::normalize_line_endings;
use wildduck_core::message::split::{Blob, hex};
use wildduck_core::message::tree::{BodyContent, NodeBody, StoredEncoding};
use wildduck_core::message::{StoredMessage, ingest};
use wildduck_core::model::{
    Flags, MailboxId, MessageId, MessageMeta, ModSeq, Timestamp, Uid, UidSet, UserId,
};
use wildduck_core::store::mongo::MongoStore;
use wildduck_core::store::mongo::message_doc::{from_document, to_document};
use wildduck_core::store::{NewBlob, NewMessage};

/// The corpus lives at the workspace root (the loader's own path is relative to the root package).
fn corpus_messages() -> Vec<(String, Vec<u8>)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/corpus");
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read corpus dir {}: {e}", dir.display()))
        .filter_map(|e| {
            let p = e.ok()?.path();
            let name = p.file_name()?.to_str()?.to_owned();
            name.ends_with(".eml")
                .then(|| (name, std::fs::read(&p).expect("read corpus file")))
        })
        .collect();
    out.sort();
    assert!(out.len() >= 50, "corpus has {} messages", out.len());
    out
}

fn meta_for(msg: &StoredMessage, user: UserId, mailbox: MailboxId, uid: u32) -> MessageMeta {
    let id = MessageId::new();
    let idate = Timestamp(1_700_000_000_000 + i64::from(uid));
    let mut blobs = msg.blob_hashes();
    blobs.sort();
    blobs.dedup();
    MessageMeta {
        id,
        root: id,
        user,
        mailbox,
        uid: Uid(uid),
        modseq: ModSeq(7),
        thread: None,
        idate,
        hdate: msg.data.hdate.map_or(idate, Timestamp),
        flags: Flags::parse(["\\Seen", "$Label1"]).expect("flags"),
        size: msg.size,
        msgid: Some(msg.data.msgid.clone()).filter(|s| !s.is_empty()),
        subject: msg.data.subject.clone(),
        has_attachments: msg.data.has_attachments,
        junk: false,
        magic: 4242,
        rdate: None,
        blobs,
    }
}

fn new_blob(b: &Blob, magic: u32) -> NewBlob {
    NewBlob {
        hash: b.hash.clone(),
        data: b.data.clone(),
        content_type: b.content_type.clone(),
        transfer_encoding: b.transfer_encoding.clone(),
        encoded_size: b.encoded_size,
        decoded_line_len: match b.encoding {
            StoredEncoding::Base64Decoded { line_len, .. } => Some(line_len),
            StoredEncoding::Raw => None,
        },
        magic,
    }
}

fn bson_len(d: &Document) -> usize {
    bson::to_vec(d).map(|v| v.len()).unwrap_or(usize::MAX)
}

#[test]
fn corpus_documents_round_trip_without_a_server() {
    let user = UserId(wildduck_core::model::ObjectId::new());
    let mailbox = MailboxId(wildduck_core::model::ObjectId::new());
    for (i, (name, raw)) in corpus_messages().into_iter().enumerate() {
        let ing = ingest(&raw).expect("ingest");
        let meta = meta_for(
            &ing.message,
            user,
            mailbox,
            u32::try_from(i).expect("uid") + 1,
        );
        let d = to_document(&meta, &ing.message);
        // WildDuck's own fields are there.
        let tree = d.get_document("mimeTree").expect("mimeTree");
        assert!(tree.get_array("header").is_ok(), "{name}: header lines");
        assert!(
            tree.get_document("parsedHeader").is_ok(),
            "{name}: parsedHeader"
        );
        assert!(
            d.get_array("envelope").is_ok_and(|a| a.len() == 10),
            "{name}"
        );
        assert!(d.get_array("bodystructure").is_ok(), "{name}");
        let (m2, s2) = from_document(&d).expect("from_document");
        assert_eq!(m2, meta, "{name}: metadata");
        assert_eq!(s2, ing.message, "{name}: content");
    }
}

async fn store() -> MongoStore {
    let url = wildduck_test_support::mongodb_url().await;
    MongoStore::connect(&url, &wildduck_test_support::unique_db_name())
        .await
        .expect("connect")
}

async fn put(store: &MongoStore, blobs: &[Blob], magic: u32) {
    let b = store.backend();
    let nb: Vec<NewBlob> = blobs.iter().map(|x| new_blob(x, magic)).collect();
    b.attachments.put_blobs(&nb).await.expect("put blobs");
}

async fn rebuild_loaded(store: &MongoStore, msg: &StoredMessage) -> Vec<u8> {
    let blobs = store
        .backend()
        .attachments
        .get_blobs(&msg.blob_hashes())
        .await
        .expect("get blobs");
    msg.rebuild(&blobs).expect("rebuild")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corpus_round_trips_through_the_server_byte_exact() {
    let store = store().await;
    let b = store.backend();
    let user = UserId(wildduck_core::model::ObjectId::new());
    let mailbox = MailboxId(wildduck_core::model::ObjectId::new());
    let corpus = corpus_messages();
    let mut new = Vec::new();
    let mut expected = Vec::new();
    for (i, (name, raw)) in corpus.iter().enumerate() {
        let ing = ingest(raw).expect("ingest");
        put(&store, &ing.blobs, 4242).await;
        let meta = meta_for(
            &ing.message,
            user,
            mailbox,
            u32::try_from(i).expect("uid") + 1,
        );
        expected.push((name.clone(), normalize_line_endings(raw).into_owned()));
        new.push(NewMessage {
            meta_data: None,
            meta,
            content: Arc::new(ing.message),
        });
    }
    b.messages.insert_messages(&new).await.expect("insert");
    let loaded = b
        .messages
        .load_messages(mailbox, &UidSet::all())
        .await
        .expect("load");
    assert_eq!(loaded.len(), corpus.len());
    for ((meta, msg), (name, want)) in loaded.iter().zip(&expected) {
        let got = rebuild_loaded(&store, msg).await;
        assert_eq!(got.len(), want.len(), "{name}: length");
        assert!(got == *want, "{name}: bytes differ");
        assert_eq!(meta.size, want.len() as u64, "{name}: size");
    }
    // A subset by UID, sorted, content only where asked.
    let some = b
        .messages
        .load_messages(mailbox, &UidSet::range(3, 5))
        .await
        .expect("load 3:5");
    let uids: Vec<u32> = some.iter().map(|(m, _)| m.uid.0).collect();
    assert_eq!(uids, [3, 4, 5]);
    // Metadata reads still leave the heavy fields out: the meta of a loaded message equals find_meta's.
    let metas = b
        .messages
        .find_meta(mailbox, &Default::default())
        .await
        .expect("find_meta");
    assert_eq!(metas.len(), corpus.len());
    assert_eq!(metas.first(), loaded.first().map(|(m, _)| m));
}

/// A base64 body whose last line ends with CRLF cannot be re-encoded by WildDuck's reader, so the
/// store keeps it raw, and the loader follows the store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn base64_with_final_crlf_is_stored_raw_and_rebuilds_exactly() {
    let store = store().await;
    let b = store.backend();
    let mut raw = b"Subject: t\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n\
Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        .to_vec();
    use base64::Engine as _;
    let data: Vec<u8> = (0..300u32).map(|i| (i * 7 % 251) as u8).collect();
    let text = base64::engine::general_purpose::STANDARD.encode(&data);
    for chunk in text.as_bytes().chunks(76) {
        raw.extend_from_slice(chunk);
        raw.extend_from_slice(b"\r\n");
    }
    raw.extend_from_slice(b"\r\n--x--\r\n");
    let ing = ingest(&raw).expect("ingest");
    let blob = ing.blobs.first().expect("one blob");
    assert!(matches!(
        blob.encoding,
        StoredEncoding::Base64Decoded {
            trailing_crlf: true,
            ..
        }
    ));
    put(&store, &ing.blobs, 1).await;
    let files = store.database().collection::<Document>("attachments.files");
    let f = files
        .find_one(
            doc! { "_id": Binary { subtype: BinarySubtype::Generic, bytes: Sha256::digest(
            blob_encoded(&ing.message)).to_vec() } },
        )
        .await
        .expect("find")
        .expect("file");
    let md = f.get_document("metadata").expect("metadata");
    assert!(!md.get_bool("decoded").unwrap_or(false), "{md:?}");
    assert!(md.get_str("fileContentHash").is_ok());
    let mailbox = MailboxId(wildduck_core::model::ObjectId::new());
    let meta = meta_for(
        &ing.message,
        UserId(wildduck_core::model::ObjectId::new()),
        mailbox,
        1,
    );
    b.messages
        .insert_messages(&[NewMessage {
            meta_data: None,
            meta,
            content: Arc::new(ing.message.clone()),
        }])
        .await
        .expect("insert");
    let loaded = b
        .messages
        .load_messages(mailbox, &UidSet::all())
        .await
        .expect("load");
    let (_, msg) = loaded.first().expect("one");
    assert_eq!(rebuild_loaded(&store, msg).await, raw);
}

/// The encoded body of the first stored leaf (rebuilt from the ingest's own tree with the input).
fn blob_encoded(msg: &StoredMessage) -> Vec<u8> {
    fn find(n: &wildduck_core::message::MimeNode) -> Option<u64> {
        match &n.body {
            NodeBody::Leaf(l) => matches!(l.content, BodyContent::Stored(_)).then_some(l.size),
            NodeBody::Message(m) => find(m),
            NodeBody::Multipart(mp) => mp.parts.iter().find_map(|p| find(&p.node)),
        }
    }
    let size = find(&msg.tree).expect("stored leaf");
    // The blob body is the base64 text: 300 bytes → 400 chars in lines of 76 with CRLFs.
    use base64::Engine as _;
    let data: Vec<u8> = (0..300u32).map(|i| (i * 7 % 251) as u8).collect();
    let text = base64::engine::general_purpose::STANDARD.encode(&data);
    let mut out = Vec::new();
    for chunk in text.as_bytes().chunks(76) {
        out.extend_from_slice(chunk);
        out.extend_from_slice(b"\r\n");
    }
    assert_eq!(out.len() as u64, size);
    out
}

fn bin(b: &[u8]) -> Bson {
    Bson::Binary(Binary {
        subtype: BinarySubtype::Generic,
        bytes: b.to_vec(),
    })
}

/// A message as WildDuck 1.50 stores it (field layout from parse-mime-tree.js, indexer.js
/// getMaildata/storeNodeBodies, gridstore-storage.js): a 2-part multipart whose second part is a
/// base64 attachment GridFS holds decoded (`decoded: true, lineLen: 76`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wildduck_written_document_rebuilds_as_wildduck_rebuilds() {
    use base64::Engine as _;
    let store = store().await;
    let b = store.backend();
    let db = store.database();

    let data: Vec<u8> = (0..200u32).map(|i| (i * 13 % 256) as u8).collect();
    let text = base64::engine::general_purpose::STANDARD.encode(&data);
    let lines: Vec<&[u8]> = text.as_bytes().chunks(76).collect();
    let encoded = lines.join(&b"\r\n"[..]);
    let hash = Sha256::digest(&encoded).to_vec();

    // GridFS as WildDuck's GridstoreStorage.create leaves it.
    db.collection::<Document>("attachments.chunks")
        .insert_one(doc! { "files_id": bin(&hash), "n": 0, "data": bin(&data) })
        .await
        .expect("chunk");
    db.collection::<Document>("attachments.files")
        .insert_one(doc! {
            "_id": bin(&hash), "length": 200, "chunkSize": 261120,
            "uploadDate": bson::DateTime::now(), "filename": Bson::Null,
            "contentType": "application/octet-stream",
            "metadata": { "m": 77, "c": 1, "cu": bson::DateTime::now(), "esize": i32::try_from(encoded.len()).expect("len"),
                "transferEncoding": "base64", "decoded": true, "lineLen": 76, "fileContentHash": "x" },
        })
        .await
        .expect("file");

    let user = bson::oid::ObjectId::new();
    let mailbox = bson::oid::ObjectId::new();
    let id = bson::oid::ObjectId::new();
    let line_count = i32::try_from(lines.len() - 1).expect("lines");
    let wd = doc! {
        "_id": id, "root": id, "v": "1.0", "exp": false, "rdate": 0, "userDeleted": false,
        "idate": bson::DateTime::from_millis(1_700_000_000_000),
        "hdate": bson::DateTime::from_millis(1_700_000_000_000),
        "flags": ["\\Seen"], "size": 0, "meta": {}, "filters": [],
        "user": user, "mailbox": mailbox, "uid": 1, "modseq": 5,
        "headers": [ { "key": "subject", "value": "hi" } ],
        "mimeTree": {
            "childNodes": [
                {
                    "header": ["Content-Type: text/plain"],
                    "parsedHeader": { "content-type": { "value": "text/plain", "type": "text", "subtype": "plain", "params": {} } },
                    "body": bin(b"hello\r\nworld"), "multipart": false, "boundary": false,
                    "lineCount": 1, "size": 12,
                },
                {
                    "header": ["Content-Type: application/octet-stream", "Content-Transfer-Encoding: base64"],
                    "parsedHeader": { "content-type": { "value": "application/octet-stream", "type": "application", "subtype": "octet-stream", "params": {} }, "content-transfer-encoding": "base64" },
                    "body": false, "multipart": false, "boundary": false,
                    "lineCount": line_count, "size": i32::try_from(encoded.len()).expect("len"),
                    "attachmentId": "ATT00001",
                },
            ],
            "header": ["From: a@example.com", "Subject: hi", "Content-Type: multipart/mixed; boundary=\"b1\""],
            "parsedHeader": {
                "from": [ { "address": "a@example.com", "name": "" } ], "subject": "hi",
                "content-type": { "value": "multipart/mixed", "type": "multipart", "subtype": "mixed", "params": { "boundary": "b1" }, "hasParams": true },
            },
            "body": bin(b""), "multipart": "mixed", "boundary": "b1", "lineCount": 0, "size": 0,
            "attachmentMap": { "ATT00001": bin(&hash) },
        },
        "envelope": [Bson::Null, bin(b"hi"), [[bin(b""), Bson::Null, bin(b"a"), bin(b"example.com")]],
            [[bin(b""), Bson::Null, bin(b"a"), bin(b"example.com")]], [[bin(b""), Bson::Null, bin(b"a"), bin(b"example.com")]],
            Bson::Null, Bson::Null, Bson::Null, Bson::Null, Bson::Null],
        "bodystructure": [
            ["TEXT", "PLAIN", Bson::Null, Bson::Null, Bson::Null, "7BIT", 12, 1, Bson::Null, Bson::Null, Bson::Null, Bson::Null],
            ["APPLICATION", "OCTET-STREAM", Bson::Null, Bson::Null, Bson::Null, "BASE64", i32::try_from(encoded.len()).expect("len"), Bson::Null, ["ATTACHMENT", ["FILENAME", bin(b"a.bin")]], Bson::Null, Bson::Null],
            "MIXED", ["BOUNDARY", bin(b"b1")], Bson::Null, Bson::Null, Bson::Null,
        ],
        "msgid": "<x@wildduck.email>", "subject": "hi", "text": "hello\nworld", "intro": "hello world",
        "attachments": [ { "id": "ATT00001", "filename": "a.bin", "contentType": "application/octet-stream",
            "disposition": false, "transferEncoding": "base64", "cid": Bson::Null, "related": false, "sizeKb": 1, "size": 200 } ],
        "ha": true, "magic": 77, "unseen": false, "flagged": false, "undeleted": true, "draft": false,
        "copied": false,
    };
    db.collection::<Document>("messages")
        .insert_one(wd)
        .await
        .expect("insert");

    let loaded = b
        .messages
        .load_messages(
            MailboxId(wildduck_core::model::ObjectId::from_bytes(mailbox.bytes())),
            &UidSet::all(),
        )
        .await
        .expect("load");
    let (meta, msg) = loaded.first().expect("one message");
    let mut want = b"From: a@example.com\r\nSubject: hi\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n\
--b1\r\nContent-Type: text/plain\r\n\r\nhello\r\nworld\r\n\
--b1\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        .to_vec();
    want.extend_from_slice(&encoded);
    want.extend_from_slice(b"\r\n--b1--\r\n");
    assert_eq!(
        String::from_utf8_lossy(&rebuild_loaded(&store, msg).await),
        String::from_utf8_lossy(&want)
    );
    assert_eq!(msg.size, want.len() as u64);
    assert_eq!(meta.uid, Uid(1));
    assert_eq!(meta.blobs, vec![hex(&hash)]);
    // The stored arrays are read, not recomputed.
    match &msg.body_structure {
        wildduck_core::message::bodystructure::BodyStructure::Multipart(m) => {
            assert_eq!(m.parts.len(), 2);
            assert_eq!(m.subtype, b"MIXED");
        }
        other => panic!("not a multipart: {other:?}"),
    }
    assert_eq!(msg.envelope.subject.as_deref(), Some(&b"hi"[..]));
    assert_eq!(
        msg.data.attachments.first().map(|a| a.filename.as_str()),
        Some("a.bin")
    );
    assert_eq!(
        msg.data
            .attachments
            .first()
            .and_then(|a| a.disposition.clone()),
        None
    );
    assert!(msg.data.has_attachments);
}

/// 30 MiB attachment: the blob is in GridFS, the document stays small.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_mib_attachment_round_trips() {
    let store = store().await;
    let b = store.backend();
    let raw = corpus::large_attachment_message(30 * 1024 * 1024);
    let ing = ingest(&raw).expect("ingest");
    put(&store, &ing.blobs, 9).await;
    let mailbox = MailboxId(wildduck_core::model::ObjectId::new());
    let meta = meta_for(
        &ing.message,
        UserId(wildduck_core::model::ObjectId::new()),
        mailbox,
        1,
    );
    let d = to_document(&meta, &ing.message);
    assert!(
        bson_len(&d) < 64 * 1024,
        "document is {} bytes",
        bson_len(&d)
    );
    b.messages
        .insert_messages(&[NewMessage {
            meta_data: None,
            meta,
            content: Arc::new(ing.message),
        }])
        .await
        .expect("insert");
    let loaded = b
        .messages
        .load_messages(mailbox, &UidSet::all())
        .await
        .expect("load");
    let (_, msg) = loaded.first().expect("one");
    let got = rebuild_loaded(&store, msg).await;
    assert_eq!(got.len(), raw.len());
    assert!(got == raw, "30 MiB message differs after the round trip");
}

/// WildDuck's `Indexer.rebuild` (imap-core/lib/indexer/indexer.js) re-stated over a stored
/// `mimeTree`, for the IMAP `BODY[]` path: `emit` writes a CRLF before everything but the first
/// piece, then the pending body, then the data.
struct WdRebuild<'a> {
    out: Vec<u8>,
    first: bool,
    remainder: Option<Vec<u8>>,
    attachment: &'a dyn Fn(&str) -> Vec<u8>,
}

impl WdRebuild<'_> {
    fn emit(&mut self, data: Option<&[u8]>, force: bool) {
        let data = data.filter(|d| !d.is_empty());
        if self.remainder.is_some() || data.is_some() || force {
            if self.first {
                self.first = false;
            } else {
                self.out.extend_from_slice(b"\r\n");
            }
            if let Some(r) = self.remainder.take() {
                self.out.extend_from_slice(&r);
            }
            if let Some(d) = data {
                self.out.extend_from_slice(d);
            }
        }
        self.remainder = None;
    }

    fn walk(&mut self, node: &Document) {
        let lines: Vec<Vec<u8>> = node
            .get_array("header")
            .expect("header")
            .iter()
            .map(|l| {
                l.as_str()
                    .expect("line")
                    .chars()
                    .map(|c| u8::try_from(u32::from(c)).expect("binary string"))
                    .collect()
            })
            .collect();
        let mut h = lines.join(&b"\r\n"[..]);
        h.extend_from_slice(b"\r\n");
        self.emit(Some(&h), false);
        self.remainder = match node.get("body") {
            Some(Bson::Binary(b)) => Some(b.bytes.clone()),
            _ => None,
        };
        let boundary = node.get_str("boundary").ok().map(|b| {
            b.chars()
                .map(|c| u8::try_from(u32::from(c)).expect("binary string"))
                .collect::<Vec<u8>>()
        });
        let dash = boundary.as_ref().map(|b| [&b"--"[..], b].concat());
        if let Some(d) = &dash {
            self.emit(Some(d), false);
        } else if let Ok(id) = node.get_str("attachmentId") {
            self.emit(None, true);
            let bytes = (self.attachment)(id);
            self.out.extend_from_slice(&bytes);
        }
        if let Ok(children) = node.get_array("childNodes") {
            let n = children.len();
            for (i, c) in children.iter().enumerate() {
                self.walk(c.as_document().expect("child"));
                if i + 1 < n
                    && let Some(d) = &dash
                {
                    self.emit(Some(d), false);
                }
            }
        }
        if let Some(d) = &dash {
            let close = [&d[..], b"--\r\n"].concat();
            self.emit(Some(&close), false);
        }
        self.emit(None, false);
    }
}

/// Whether a node (or one below it) holds bytes WildDuck's fields cannot express.
fn irregular(node: &Document) -> bool {
    if node.contains_key("xHeader") || node.contains_key("xNoSep") {
        return true;
    }
    if let Ok(delims) = node.get_array("xDelims") {
        let b = node
            .get_str("boundary")
            .expect("boundary")
            .as_bytes()
            .to_vec();
        let pre = match node.get("xPreamble") {
            Some(Bson::Binary(p)) => p.bytes.clone(),
            _ => Vec::new(),
        };
        let std_delim = [&b"\r\n--"[..], &b, b"\r\n"].concat();
        let first_ok = |d: &[u8]| {
            if pre.is_empty() {
                d == &std_delim[2..]
            } else {
                d == std_delim.as_slice()
            }
        };
        for (i, d) in delims.iter().enumerate() {
            let Bson::Binary(d) = d else { return true };
            if (i == 0 && !first_ok(&d.bytes)) || (i > 0 && d.bytes != std_delim) {
                return true;
            }
        }
        let std_close = [&b"\r\n--"[..], &b, b"--\r\n"].concat();
        match node.get("xClose") {
            Some(Bson::Binary(c)) if c.bytes == std_close => {}
            _ => return true,
        }
        if matches!(node.get("xEpilogue"), Some(Bson::Binary(e)) if !e.bytes.is_empty()) {
            return true;
        }
    }
    node.get_array("childNodes")
        .map(|c| c.iter().filter_map(Bson::as_document).any(irregular))
        .unwrap_or(false)
}

/// What WildDuck's reader makes of our documents: for every corpus message whose bytes fit
/// WildDuck's tree, its rebuild (blobs as the Mongo store keeps them) equals ours byte for byte.
#[test]
fn wildduck_rebuild_of_our_documents_matches_for_regular_messages() {
    let user = UserId(wildduck_core::model::ObjectId::new());
    let mailbox = MailboxId(wildduck_core::model::ObjectId::new());
    let mut exact = 0;
    let mut regular = 0;
    let corpus = corpus_messages();
    for (i, (name, raw)) in corpus.iter().enumerate() {
        let ing = ingest(raw).expect("ingest");
        let meta = meta_for(
            &ing.message,
            user,
            mailbox,
            u32::try_from(i).expect("uid") + 1,
        );
        let d = to_document(&meta, &ing.message);
        let tree = d.get_document("mimeTree").expect("tree");
        let map = tree.get_document("attachmentMap").expect("map");
        let blobs = &ing.blobs;
        let attachment = |id: &str| -> Vec<u8> {
            let Some(Bson::Binary(key)) = map.get(id) else {
                panic!("{name}: {id} not in attachmentMap")
            };
            let blob = blobs
                .iter()
                .find(|b| b.hash == hex(&key.bytes))
                .expect("blob");
            match blob.encoding {
                // What the store keeps decoded WildDuck re-encodes without a final CRLF; the rest
                // is kept (or re-encoded to) the original bytes.
                StoredEncoding::Base64Decoded {
                    line_len,
                    trailing_crlf,
                } => wildduck_core::message::tree::encode_base64_lines(
                    &blob.data,
                    line_len,
                    trailing_crlf,
                ),
                StoredEncoding::Raw => blob.data.clone(),
            }
        };
        let mut wd = WdRebuild {
            out: Vec::new(),
            first: true,
            remainder: None,
            attachment: &attachment,
        };
        wd.walk(tree);
        let want = normalize_line_endings(raw);
        if wd.out == *want {
            exact += 1;
        }
        if irregular(tree) {
            eprintln!("irregular: {name}");
        }
        if !irregular(tree) {
            regular += 1;
            assert!(
                wd.out == *want,
                "{name}: WildDuck would rebuild {} bytes, we have {}",
                wd.out.len(),
                want.len()
            );
        }
    }
    eprintln!(
        "WildDuck rebuild of our documents: {exact}/{} byte-exact, {regular} regular",
        corpus.len()
    );
    assert!(regular >= 40, "only {regular} regular corpus messages");
}

/// Damaged documents (a field missing or of another type, at the top level and in the root node)
/// give an error or a message, never a panic.
#[test]
fn damaged_documents_never_panic() {
    let user = UserId(wildduck_core::model::ObjectId::new());
    let mailbox = MailboxId(wildduck_core::model::ObjectId::new());
    let mut tried = 0;
    for (name, raw) in corpus_messages().iter().take(30) {
        let ing = ingest(raw).expect("ingest");
        let d = to_document(&meta_for(&ing.message, user, mailbox, 1), &ing.message);
        let replacements = [
            None,
            Some(Bson::Null),
            Some(Bson::Int32(-1)),
            Some(Bson::String("x".into())),
        ];
        for key in d.keys().cloned().collect::<Vec<_>>() {
            for r in &replacements {
                let mut m = d.clone();
                match r {
                    None => {
                        m.remove(&key);
                    }
                    Some(v) => {
                        m.insert(key.clone(), v.clone());
                    }
                }
                let _ = from_document(&m);
                tried += 1;
            }
        }
        let tree = d.get_document("mimeTree").expect("tree").clone();
        for key in tree.keys().cloned().collect::<Vec<_>>() {
            for r in &replacements {
                let mut t = tree.clone();
                match r {
                    None => {
                        t.remove(&key);
                    }
                    Some(v) => {
                        t.insert(key.clone(), v.clone());
                    }
                }
                let mut m = d.clone();
                m.insert("mimeTree", t);
                let _ = from_document(&m);
                tried += 1;
            }
        }
        // A WildDuck-style reading of our document (extras marker removed) never panics either and
        // keeps the size consistent with the rebuilt tree.
        let mut t = tree.clone();
        t.remove("xExact");
        let mut m = d.clone();
        m.insert("mimeTree", t);
        let (_, msg) = from_document(&m).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            msg.size,
            wildduck_core::message::rebuild::size(&msg.tree),
            "{name}"
        );
    }
    assert!(tried > 1000, "{tried}");
}
