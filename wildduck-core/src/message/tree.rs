//! The MIME tree of a stored message. Every byte of the (CRLF-normalised) message belongs to exactly one
//! field of one node, so a rebuild is a plain concatenation in document order.

/// One MIME entity: a header section and a body.
///
/// Bytes of the entity, in order: `header`, then `b"\r\n"` if `has_separator`, then the body
/// (see [`NodeBody`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MimeNode {
    /// The raw header section exactly as received: every header line with its CRLF, folded continuation
    /// lines included, malformed lines included. Excludes the empty line that ends the section.
    pub header: Vec<u8>,
    /// Whether an empty line ended the header section. False for a header-only message (or part) that
    /// ends without one; the body is then empty.
    pub has_separator: bool,
    /// Lower-cased `type/subtype` from Content-Type, with the RFC 2045 default applied
    /// (`text/plain`, or `message/rfc822` inside `multipart/digest`).
    pub content_type: String,
    /// Lower-cased Content-Transfer-Encoding value, `None` when the header is absent.
    pub transfer_encoding: Option<String>,
    /// The body.
    pub body: NodeBody,
}

/// The body of a [`MimeNode`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeBody {
    /// A single-part body (text, attachment, or anything not split further).
    Leaf(LeafBody),
    /// A `multipart/*` body with a usable boundary. Always has at least one part: a multipart whose
    /// boundary never opens a part is parsed as a [`NodeBody::Leaf`].
    Multipart(Multipart),
    /// A `message/rfc822` (or `message/global`) body with an identity transfer encoding, parsed as a
    /// nested message. Its bytes are exactly the nested node's bytes.
    Message(Box<MimeNode>),
}

/// A leaf body: still transfer-encoded, as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeafBody {
    /// Where the bytes are.
    pub content: BodyContent,
    /// Length in bytes of the encoded body as it appears in the message.
    pub size: u64,
    /// Number of lines (CRLF count; a last line without CRLF does not count), as IMAP BODYSTRUCTURE wants.
    pub lines: u64,
}

/// Where a leaf body's bytes are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyContent {
    /// Kept inside the message document.
    Inline(Vec<u8>),
    /// Split out to the de-duplicated attachment store.
    Stored(StoredRef),
}

/// A reference from a message to a de-duplicated attachment blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRef {
    /// Message-local id, `ATT00001`, `ATT00002`, … in document order (WildDuck's `attachmentId`).
    pub attachment_id: String,
    /// SHA-256 of the still-encoded body, lower-case hex: the blob's key in the attachment store.
    pub hash: String,
    /// How the blob holds the body.
    pub encoding: StoredEncoding,
}

/// How a blob in the attachment store holds a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoredEncoding {
    /// The encoded bytes as they were.
    Raw,
    /// Base64 bodies with a consistent line length are stored decoded (about 25 % smaller) and
    /// re-encoded on read; only chosen when re-encoding reproduces the original bytes exactly.
    Base64Decoded {
        /// Characters per line of the original encoding (the last line may be shorter).
        line_len: usize,
        /// Whether the original's last line ended with CRLF.
        trailing_crlf: bool,
    },
}

/// A `multipart/*` body: `preamble`, then each part's `delimiter` and node, then `close` and `epilogue`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Multipart {
    /// The boundary parameter, as bytes.
    pub boundary: Vec<u8>,
    /// Bytes before the first delimiter line (empty when the body starts with it).
    pub preamble: Vec<u8>,
    /// The body parts in order.
    pub parts: Vec<Part>,
    /// The close delimiter, from the CRLF that precedes `--boundary--` through the end of its line
    /// (transport padding and CRLF included; the CRLF is absent when the line directly follows the
    /// previous delimiter line, and the line may end at the end of input). `None` when the message never
    /// closes the multipart.
    pub close: Option<Vec<u8>>,
    /// Bytes after the close delimiter.
    pub epilogue: Vec<u8>,
}

/// One part of a multipart: the delimiter line that opens it, then the part itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// The delimiter, from the CRLF that precedes `--boundary` through the CRLF that ends the line,
    /// transport padding included. The leading CRLF is absent when the line starts the multipart body
    /// (empty preamble) or directly follows the previous delimiter line (empty part); the final CRLF is
    /// absent when the line ends the input.
    pub delimiter: Vec<u8>,
    /// The part. Its bytes end before the CRLF that belongs to the next delimiter.
    pub node: MimeNode,
}

/// Gives the blobs of the attachment store to the model (rebuild, sections, text extraction). The
/// service loads the blobs a message needs and hands them over through this trait.
pub trait BodySource {
    /// The blob stored under `hash` exactly as the store holds it (decoded for
    /// [`StoredEncoding::Base64Decoded`]), or `None` when it is missing.
    fn stored(&self, hash: &str) -> Option<std::borrow::Cow<'_, [u8]>>;
}

/// A source with no blobs, for trees whose bodies are all inline.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoBlobs;

impl BodySource for NoBlobs {
    fn stored(&self, _hash: &str) -> Option<std::borrow::Cow<'_, [u8]>> {
        None
    }
}

impl<S: std::hash::BuildHasher> BodySource for std::collections::HashMap<String, Vec<u8>, S> {
    fn stored(&self, hash: &str) -> Option<std::borrow::Cow<'_, [u8]>> {
        self.get(hash)
            .map(|v| std::borrow::Cow::Borrowed(v.as_slice()))
    }
}

impl LeafBody {
    /// The body's bytes as they appear in the message (still transfer-encoded), re-encoding a blob that
    /// the store keeps decoded.
    pub fn encoded<'a>(
        &'a self,
        src: &'a dyn BodySource,
    ) -> crate::Result<std::borrow::Cow<'a, [u8]>> {
        match &self.content {
            BodyContent::Inline(bytes) => Ok(std::borrow::Cow::Borrowed(bytes)),
            BodyContent::Stored(r) => {
                let blob = src.stored(&r.hash).ok_or_else(|| {
                    crate::Error::new(
                        crate::ErrorKind::Backend,
                        format!("attachment blob {} is missing", r.hash),
                    )
                })?;
                Ok(match r.encoding {
                    StoredEncoding::Raw => blob,
                    StoredEncoding::Base64Decoded {
                        line_len,
                        trailing_crlf,
                    } => {
                        std::borrow::Cow::Owned(encode_base64_lines(&blob, line_len, trailing_crlf))
                    }
                })
            }
        }
    }
}

/// Base64-encodes `data` in lines of `line_len` characters joined by CRLF; the last line gets a CRLF
/// only when `trailing_crlf`. This is the inverse of storing a base64 body decoded.
pub fn encode_base64_lines(data: &[u8], line_len: usize, trailing_crlf: bool) -> Vec<u8> {
    use base64::Engine as _;
    let text = base64::engine::general_purpose::STANDARD.encode(data);
    let line_len = line_len.max(1);
    let mut out = Vec::with_capacity(text.len() + 2 * (text.len() / line_len + 1));
    let mut lines = text.as_bytes().chunks(line_len).peekable();
    while let Some(line) = lines.next() {
        out.extend_from_slice(line);
        if lines.peek().is_some() || trailing_crlf {
            out.extend_from_slice(b"\r\n");
        }
    }
    out
}
