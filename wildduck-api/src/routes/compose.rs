//! A message built from WildDuck's structured fields (`from`, `replyTo`, `to`, `cc`, `bcc`,
//! `subject`, `text`, `html`, `headers`, `attachments`, `date`) with `mail-builder`, for the
//! upload route when no `raw` message is given. The result is ingested like a raw upload.

use base64::Engine as _;
use mail_builder::MessageBuilder;
use mail_builder::headers::address::Address;
use mail_builder::headers::raw::Raw;
use mail_builder::mime::{BodyPart, MimePart};
use serde_json::Value;
use wildduck_core::model::{ObjectId, Timestamp, User};

use crate::params::{Params, Validator};

/// Standard base64 that takes content with or without padding (as Node's `Buffer` does).
const LENIENT: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
);

/// Fields the structured form reads (the upload route accepts them).
pub const FIELDS: &[&str] = &[
    "from",
    "replyTo",
    "to",
    "cc",
    "bcc",
    "subject",
    "text",
    "html",
    "headers",
    "attachments",
];

/// Whether the request uses the structured form at all.
pub fn requested(p: &Params) -> bool {
    FIELDS.iter().any(|f| p.map.contains_key(*f))
}

/// A validated `{name, address}`.
#[derive(Debug, Clone, PartialEq)]
struct Mailbox {
    name: Option<String>,
    address: String,
}

/// Joi's `email({tlds: false})`, in short: one `@`, a non-empty local part, a dotted domain,
/// no spaces or control characters.
fn valid_email(s: &str) -> bool {
    let Some((local, domain)) = s.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && local.len() <= 64
        && domain.len() <= 255
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && s.chars().all(|c| !c.is_whitespace() && !c.is_control())
        && !local.contains('@')
        && domain
            .chars()
            .all(|c| c.is_alphanumeric() || c == '-' || c == '.')
}

fn no_breaks(s: &str) -> String {
    s.chars()
        .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
        .collect()
}

fn mailbox(v: &mut Validator<'_>, field: &str, value: &Value) -> Option<Mailbox> {
    let Some(o) = value.as_object() else {
        v.reject(field, &format!("\"{field}\" must be of type object"));
        return None;
    };
    let name = match o.get("name") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) if s.chars().count() <= 255 => Some(no_breaks(s)),
        Some(Value::String(_)) => {
            v.reject(
                &format!("{field}.name"),
                &format!(
                    "\"{field}.name\" length must be less than or equal to 255 characters long"
                ),
            );
            return None;
        }
        Some(_) => {
            v.reject(
                &format!("{field}.name"),
                &format!("\"{field}.name\" must be a string"),
            );
            return None;
        }
    };
    match o.get("address").and_then(Value::as_str) {
        Some(a) if valid_email(a.trim()) => Some(Mailbox {
            name,
            address: a.trim().to_string(),
        }),
        Some(_) => {
            v.reject(
                &format!("{field}.address"),
                &format!("\"{field}.address\" must be a valid email"),
            );
            None
        }
        None => {
            v.reject(
                &format!("{field}.address"),
                &format!("\"{field}.address\" is required"),
            );
            None
        }
    }
}

fn mailbox_list(v: &mut Validator<'_>, p: &Params, field: &'static str) -> Vec<Mailbox> {
    match p.map.get(field) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| {
                // WildDuck drops `to` entries whose address failed over to ''.
                if item.get("address").and_then(Value::as_str) == Some("") {
                    return None;
                }
                mailbox(v, &format!("{field}[{i}]"), item)
            })
            .collect(),
        Some(_) => {
            v.reject(field, &format!("\"{field}\" must be an array"));
            Vec::new()
        }
    }
}

fn string(
    v: &mut Validator<'_>,
    o: &serde_json::Map<String, Value>,
    field: &str,
    max: usize,
) -> Option<String> {
    match o.get(field) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) if s.chars().count() <= max => Some(s.clone()),
        Some(Value::String(_)) => {
            v.reject(
                field,
                &format!("\"{field}\" length must be less than or equal to {max} characters long"),
            );
            None
        }
        Some(_) => {
            v.reject(field, &format!("\"{field}\" must be a string"));
            None
        }
    }
}

#[derive(Debug)]
struct Attachment {
    filename: Option<String>,
    content_type: String,
    content: Vec<u8>,
    cid: Option<String>,
    inline: bool,
}

fn attachments(v: &mut Validator<'_>, p: &Params) -> Vec<Attachment> {
    let items = match p.map.get("attachments") {
        None | Some(Value::Null) => return Vec::new(),
        Some(Value::Array(items)) => items,
        Some(_) => {
            v.reject("attachments", "\"attachments\" must be an array");
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let at = format!("attachments[{i}]");
        let Some(o) = item.as_object() else {
            v.reject(&at, &format!("\"{at}\" must be of type object"));
            continue;
        };
        let filename = string(v, o, "filename", 255).map(|s| no_breaks(&s));
        let content_type = string(v, o, "contentType", 255).map(|s| no_breaks(&s));
        let encoding = string(v, o, "encoding", 64).unwrap_or_else(|| "base64".into());
        let cid = string(v, o, "cid", 255).map(|s| no_breaks(&s));
        let disposition = string(v, o, "contentDisposition", 32).map(|s| s.trim().to_lowercase());
        if let Some(d) = &disposition
            && d != "inline"
            && d != "attachment"
        {
            v.reject(
                &format!("{at}.contentDisposition"),
                &format!("\"{at}.contentDisposition\" must be one of [inline, attachment]"),
            );
        }
        let Some(content) = o.get("content").and_then(Value::as_str) else {
            v.reject(
                &format!("{at}.content"),
                &format!("\"{at}.content\" is required"),
            );
            continue;
        };
        let content = if encoding.eq_ignore_ascii_case("base64") {
            let compact: String = content.chars().filter(|c| !c.is_whitespace()).collect();
            match LENIENT.decode(compact) {
                Ok(b) => b,
                Err(_) => {
                    v.reject(
                        &format!("{at}.content"),
                        &format!("\"{at}.content\" must be valid base64"),
                    );
                    continue;
                }
            }
        } else {
            content.as_bytes().to_vec()
        };
        let content_type = content_type
            .unwrap_or_else(|| guess_type(filename.as_deref().unwrap_or("")).to_string());
        out.push(Attachment {
            inline: disposition.as_deref() == Some("inline")
                || (disposition.is_none() && cid.is_some()),
            filename,
            content_type,
            content,
            cid,
        });
    }
    out
}

/// A content type from a file name's extension, for attachments sent without one.
fn guess_type(name: &str) -> &'static str {
    let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    match ext.as_deref() {
        Some("txt") => "text/plain",
        Some("html" | "htm") => "text/html",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("pdf") => "application/pdf",
        Some("zip") => "application/zip",
        Some("json") => "application/json",
        Some("csv") => "text/csv",
        Some("ics") => "text/calendar",
        _ => "application/octet-stream",
    }
}

/// A readable plain text of an HTML body: tags dropped (`script`/`style` with their content),
/// line breaks for `br`, `p`, `div`, `li`, `tr` and headings, the common entities decoded, runs
/// of blank lines collapsed.
pub fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    let mut skip_until: Option<&str> = None;
    while let Some(lt) = rest.find('<') {
        if skip_until.is_none() {
            out.push_str(&decode_entities(rest.get(..lt).unwrap_or("")));
        }
        let after = rest.get(lt + 1..).unwrap_or("");
        let Some(gt) = after.find('>') else {
            rest = "";
            break;
        };
        let tag = after.get(..gt).unwrap_or("").trim().to_ascii_lowercase();
        rest = after.get(gt + 1..).unwrap_or("");
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        if let Some(end) = skip_until {
            if tag.starts_with('/') && name == end {
                skip_until = None;
            }
            continue;
        }
        match name.as_str() {
            "script" if !tag.starts_with('/') => skip_until = Some("script"),
            "style" if !tag.starts_with('/') => skip_until = Some("style"),
            "br" | "p" | "div" | "li" | "tr" | "h1" | "h2" | "h3" | "h4" | "h5" | "h6"
            | "blockquote" | "table" => out.push('\n'),
            _ => {}
        }
    }
    if skip_until.is_none() {
        out.push_str(&decode_entities(rest));
    }
    let mut text = String::new();
    let mut blank = 0;
    for line in out.lines().map(str::trim) {
        if line.is_empty() {
            blank += 1;
            if blank > 1 || text.is_empty() {
                continue;
            }
        } else {
            blank = 0;
        }
        text.push_str(line);
        text.push('\n');
    }
    text.trim_end().to_string()
}

fn decode_entities(s: &str) -> String {
    s.replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// Header names this builder writes itself; a custom `headers` entry cannot replace them.
const OWN_HEADERS: &[&str] = &[
    "content-type",
    "content-transfer-encoding",
    "mime-version",
    "content-disposition",
];

/// The validated structured message, ready to build.
#[derive(Debug)]
pub struct Composed {
    from: Option<Mailbox>,
    reply_to: Option<Mailbox>,
    to: Vec<Mailbox>,
    cc: Vec<Mailbox>,
    bcc: Vec<Mailbox>,
    subject: Option<String>,
    text: Option<String>,
    html: Option<String>,
    headers: Vec<(String, String)>,
    attachments: Vec<Attachment>,
}

/// Reads and validates the structured fields (failures go to `v`).
pub fn read(v: &mut Validator<'_>, p: &Params) -> Composed {
    v.accept(FIELDS);
    let single = |v: &mut Validator<'_>, field: &'static str| match p.map.get(field) {
        None | Some(Value::Null) => None,
        Some(val) => mailbox(v, field, val),
    };
    let from = single(v, "from");
    let reply_to = single(v, "replyTo");
    let to = mailbox_list(v, p, "to");
    let cc = mailbox_list(v, p, "cc");
    let bcc = mailbox_list(v, p, "bcc");
    let subject = v.opt_str("subject", 2 * 1024).map(|s| no_breaks(&s));
    let text = v.opt_str("text", 1024 * 1024);
    let html = v.opt_str("html", 1024 * 1024);
    let mut headers = Vec::new();
    match p.map.get("headers") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                let at = format!("headers[{i}]");
                let key = item.get("key").and_then(Value::as_str).unwrap_or("").trim();
                let value = item.get("value").and_then(Value::as_str).unwrap_or("");
                let key_ok = !key.is_empty()
                    && key.len() <= 255
                    && key.bytes().all(|b| b.is_ascii_graphic() && b != b':');
                if !key_ok {
                    v.reject(
                        &format!("{at}.key"),
                        &format!("\"{at}.key\" must be a header name"),
                    );
                    continue;
                }
                if value.len() > 100 * 1024 {
                    v.reject(
                        &format!("{at}.value"),
                        &format!("\"{at}.value\" length must be less than or equal to 102400 characters long"),
                    );
                    continue;
                }
                if !OWN_HEADERS.contains(&key.to_ascii_lowercase().as_str()) {
                    headers.push((key.to_string(), no_breaks(value)));
                }
            }
        }
        Some(_) => v.reject("headers", "\"headers\" must be an array"),
    }
    let attachments = attachments(v, p);
    Composed {
        from,
        reply_to,
        to,
        cc,
        bcc,
        subject,
        text,
        html,
        headers,
        attachments,
    }
}

fn addr(m: &Mailbox) -> Address<'static> {
    Address::new_address(m.name.clone(), m.address.clone())
}

fn addr_list(list: &[Mailbox]) -> Address<'static> {
    if let [one] = list {
        addr(one)
    } else {
        Address::new_list(list.iter().map(addr).collect())
    }
}

impl Composed {
    /// The RFC 5322 bytes. `From` defaults to the user's name and main address (as WildDuck's);
    /// `date` is the `Date:` header (now when absent).
    pub fn build(self, user: &User, date: Option<Timestamp>) -> std::io::Result<Vec<u8>> {
        let from = self.from.clone().or_else(|| {
            user.address.as_ref().map(|a| Mailbox {
                name: (!user.name.is_empty()).then(|| user.name.clone()),
                address: a.clone(),
            })
        });
        let domain = from
            .as_ref()
            .and_then(|f| f.address.rsplit_once('@').map(|(_, d)| d.to_string()))
            .unwrap_or_else(|| "localhost".into());
        let secs = date.unwrap_or_else(Timestamp::now).0.div_euclid(1000);
        let mut b = MessageBuilder::new();
        if let Some(f) = &from {
            b = b.from(addr(f));
        }
        if !self.to.is_empty() {
            b = b.to(addr_list(&self.to));
        }
        if !self.cc.is_empty() {
            b = b.cc(addr_list(&self.cc));
        }
        // Kept in the stored copy, as WildDuck's `keepBcc` does for uploads.
        if !self.bcc.is_empty() {
            b = b.bcc(addr_list(&self.bcc));
        }
        if let Some(r) = &self.reply_to {
            b = b.reply_to(addr(r));
        }
        if let Some(s) = self.subject {
            b = b.subject(s);
        }
        b = b
            .date(secs)
            .message_id(format!("{}@{domain}", ObjectId::new()));
        for (k, val) in self.headers {
            b = b.header(k, Raw::new(val));
        }
        // A plain-text alternative for HTML-only messages, as WildDuck derives one.
        let text = self.text.or_else(|| {
            self.html
                .as_deref()
                .map(html_to_text)
                .filter(|t| !t.is_empty())
        });
        if let Some(t) = text {
            b = b.text_body(t);
        }
        if let Some(h) = self.html {
            b = b.html_body(h);
        }
        for a in self.attachments {
            let part = MimePart::new(a.content_type, BodyPart::Binary(a.content.into()));
            let part = if a.inline {
                let p = part.inline();
                match a.cid {
                    Some(c) => p.cid(c),
                    None => p,
                }
            } else {
                let p = part.attachment(a.filename.clone().unwrap_or_else(|| "attachment".into()));
                match a.cid {
                    Some(c) => p.cid(c),
                    None => p,
                }
            };
            b.attachments.get_or_insert_with(Vec::new).push(part);
        }
        if b.text_body.is_none() && b.html_body.is_none() && b.attachments.is_none() {
            // An empty body still makes a valid message.
            b = b.text_body(String::new());
        }
        b.write_to_vec()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn html_to_text_keeps_the_words() {
        assert_eq!(
            super::html_to_text(
                "<html><head><style>p{color:red}</style></head><body><p>Hello <b>there</b></p>\
                 <p>a &amp; b&nbsp;&lt;c&gt;</p><script>x()</script><br>end</body></html>"
            ),
            "Hello there\n\na & b <c>\n\nend"
        );
        assert_eq!(super::html_to_text("no tags"), "no tags");
        assert_eq!(super::html_to_text("<unclosed"), "");
        assert_eq!(super::html_to_text(""), "");
    }
}
