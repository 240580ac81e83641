//! ENVELOPE, computed once at ingestion as a protocol-neutral value.
//!
//! The fields follow RFC 3501 §7.4.2, but hold bytes rather than IMAP syntax: header values are kept as
//! they appear in the source (unfolded, encoded-words not decoded, 8-bit bytes untouched), so the writer
//! of each protocol decides how to send them. Only the first occurrence of a header counts.

use super::header;

/// The ENVELOPE of a message (RFC 3501 §7.4.2). `None` means NIL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Envelope {
    /// The `Date` header value as written, unfolded; `None` when missing or empty.
    pub date: Option<Vec<u8>>,
    /// The `Subject` header value as written, unfolded; `None` when missing (an empty header is
    /// `Some` of an empty value).
    pub subject: Option<Vec<u8>>,
    /// `From` addresses.
    pub from: Option<Vec<EnvelopeAddress>>,
    /// `Sender` addresses, or `from` when the header is missing or holds no address.
    pub sender: Option<Vec<EnvelopeAddress>>,
    /// `Reply-To` addresses, or `from` when the header is missing or holds no address.
    pub reply_to: Option<Vec<EnvelopeAddress>>,
    /// `To` addresses.
    pub to: Option<Vec<EnvelopeAddress>>,
    /// `Cc` addresses.
    pub cc: Option<Vec<EnvelopeAddress>>,
    /// `Bcc` addresses.
    pub bcc: Option<Vec<EnvelopeAddress>>,
    /// The `In-Reply-To` header value as written, unfolded; `None` when missing or empty.
    pub in_reply_to: Option<Vec<u8>>,
    /// The `Message-ID` header value as written, unfolded; `None` when missing or empty.
    pub message_id: Option<Vec<u8>>,
}

/// One address of an ENVELOPE address list (RFC 3501 `address`).
///
/// Groups use RFC 3501's markers: a start marker has `mailbox` = the group name and `host` = `None`;
/// an end marker has all four fields `None`. An ordinary address always has a `host`; an address
/// written without a domain gets an empty host, because a NIL host would make IMAP clients read it
/// as the start of a group.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvelopeAddress {
    /// The display name (phrase) as written: quotes and backslash escapes removed, words joined by one
    /// space, encoded-words kept. Falls back to a comment (`user@host (Name)`) when there is no phrase.
    pub name: Option<Vec<u8>>,
    /// The obsolete source route (`@a,@b`), when present.
    pub adl: Option<Vec<u8>>,
    /// The local part with quoting removed, or the group name of a group start marker.
    pub mailbox: Option<Vec<u8>>,
    /// The domain; `None` only for group markers.
    pub host: Option<Vec<u8>>,
}

impl EnvelopeAddress {
    /// Whether this is a group start or end marker rather than an address.
    pub fn is_group_marker(&self) -> bool {
        self.host.is_none()
    }
}

/// Computes the ENVELOPE of a message (or of a `message/rfc822` part) from its raw header section.
///
/// Never fails: malformed headers give the best reading available, and unusable values give NIL.
pub fn envelope(header_section: &[u8]) -> Envelope {
    let value = |name: &str| header::first(header_section, name).map(|f| f.unfolded());
    let non_empty = |v: Option<Vec<u8>>| v.filter(|v| !v.is_empty());
    let addresses = |name: &str| value(name).and_then(|v| non_empty_list(parse_address_list(&v)));

    let from = addresses("from");
    let sender = addresses("sender").or_else(|| from.clone());
    let reply_to = addresses("reply-to").or_else(|| from.clone());
    Envelope {
        date: non_empty(value("date")),
        subject: value("subject"),
        from,
        sender,
        reply_to,
        to: addresses("to"),
        cc: addresses("cc"),
        bcc: addresses("bcc"),
        in_reply_to: non_empty(value("in-reply-to")),
        message_id: non_empty(value("message-id")),
    }
}

fn non_empty_list(list: Vec<EnvelopeAddress>) -> Option<Vec<EnvelopeAddress>> {
    (!list.is_empty()).then_some(list)
}

/// A lexical token of an address header (RFC 5322 §3.2).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    /// An atom, dot-atom or domain literal, as written.
    Word(Vec<u8>),
    /// A quoted string, quotes and escapes removed.
    Quoted(Vec<u8>),
    /// The text of a comment (outer parentheses removed, nested ones kept).
    Comment(Vec<u8>),
    /// One of `< > @ , : ;`.
    Special(u8),
}

fn tokenize(input: &[u8]) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut i = 0;
    while let Some(&b) = input.get(i) {
        match b {
            b' ' | b'\t' | b'\r' | b'\n' => i += 1,
            b'<' | b'>' | b'@' | b',' | b':' | b';' => {
                tokens.push(Token::Special(b));
                i += 1;
            }
            b'"' => {
                let mut text = Vec::new();
                i += 1;
                while let Some(&c) = input.get(i) {
                    i += 1;
                    match c {
                        b'"' => break,
                        b'\\' => {
                            if let Some(&next) = input.get(i) {
                                text.push(next);
                                i += 1;
                            }
                        }
                        _ => text.push(c),
                    }
                }
                tokens.push(Token::Quoted(text));
            }
            b'(' => {
                let mut text = Vec::new();
                let mut depth = 1usize;
                i += 1;
                while let Some(&c) = input.get(i) {
                    i += 1;
                    match c {
                        b'(' => depth += 1,
                        b')' => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        b'\\' => {
                            if let Some(&next) = input.get(i) {
                                text.push(next);
                                i += 1;
                            }
                            continue;
                        }
                        _ => {}
                    }
                    text.push(c);
                }
                tokens.push(Token::Comment(trim(&text).to_vec()));
            }
            b'[' => {
                // A domain literal runs to the closing bracket, whatever it holds.
                let end = input[i..]
                    .iter()
                    .position(|&c| c == b']')
                    .map_or(input.len(), |p| i + p + 1);
                tokens.push(Token::Word(input[i..end].to_vec()));
                i = end;
            }
            _ => {
                let start = i;
                while let Some(&c) = input.get(i) {
                    if matches!(
                        c,
                        b' ' | b'\t'
                            | b'\r'
                            | b'\n'
                            | b'<'
                            | b'>'
                            | b'@'
                            | b','
                            | b':'
                            | b';'
                            | b'"'
                            | b'('
                            | b'['
                    ) {
                        break;
                    }
                    i += 1;
                }
                tokens.push(Token::Word(input[start..i].to_vec()));
            }
        }
    }
    tokens
}

fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |i| i + 1);
    bytes.get(start..end).unwrap_or_default()
}

/// Parses an (unfolded) address-list header value into ENVELOPE addresses, groups expanded into
/// start marker, members, end marker.
pub fn parse_address_list(value: &[u8]) -> Vec<EnvelopeAddress> {
    let tokens = tokenize(value);
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < tokens.len() {
        parse_item(&tokens, &mut pos, false, &mut out);
    }
    out
}

/// Parses one address or group starting at `*pos`, leaving `*pos` past the separator that ends it.
/// Inside a group, `;` ends the item and is not consumed.
fn parse_item(tokens: &[Token], pos: &mut usize, in_group: bool, out: &mut Vec<EnvelopeAddress>) {
    // The phrase: words and quoted strings up to the first special.
    let mut phrase: Vec<&[u8]> = Vec::new();
    let mut comments: Vec<&[u8]> = Vec::new();
    let start = *pos;
    while let Some(tok) = tokens.get(*pos) {
        match tok {
            Token::Word(w) | Token::Quoted(w) => phrase.push(w),
            Token::Comment(c) => comments.push(c),
            Token::Special(_) => break,
        }
        *pos += 1;
    }
    match tokens.get(*pos) {
        Some(Token::Special(b':')) if !in_group => {
            *pos += 1;
            out.push(EnvelopeAddress {
                mailbox: Some(join_words(&phrase)),
                ..EnvelopeAddress::default()
            });
            while let Some(tok) = tokens.get(*pos) {
                if *tok == Token::Special(b';') {
                    *pos += 1;
                    break;
                }
                parse_item(tokens, pos, true, out);
            }
            out.push(EnvelopeAddress::default());
            // A comma may follow the group; a missing one is forgiven.
            if tokens.get(*pos) == Some(&Token::Special(b',')) {
                *pos += 1;
            }
        }
        Some(Token::Special(b'<')) => {
            *pos += 1;
            let (adl, mailbox, host, inner_comments) = parse_angle(tokens, pos);
            // Comments after the angle address may hold the name in odd mailers; keep them as fallback.
            let trailing = collect_comments_to_separator(tokens, pos, in_group);
            comments.extend(inner_comments);
            comments.extend(trailing);
            let name = if phrase.is_empty() {
                comments.last().map(|c| c.to_vec())
            } else {
                Some(join_words(&phrase))
            };
            out.push(EnvelopeAddress {
                name: name.filter(|n| !n.is_empty()),
                adl,
                mailbox: Some(mailbox),
                host: Some(host),
            });
        }
        _ => {
            // A bare addr-spec: the "phrase" so far is the local part.
            let mut local: Vec<u8> = Vec::new();
            for tok in tokens.get(start..*pos).unwrap_or_default() {
                if let Token::Word(w) | Token::Quoted(w) = tok {
                    local.extend_from_slice(w);
                }
            }
            let mut host = Vec::new();
            if tokens.get(*pos) == Some(&Token::Special(b'@')) {
                *pos += 1;
                while let Some(tok) = tokens.get(*pos) {
                    match tok {
                        Token::Word(w) | Token::Quoted(w) => host.extend_from_slice(w),
                        Token::Comment(c) => comments.push(c),
                        Token::Special(_) => break,
                    }
                    *pos += 1;
                }
            }
            comments.extend(collect_comments_to_separator(tokens, pos, in_group));
            if local.is_empty() && host.is_empty() {
                return;
            }
            out.push(EnvelopeAddress {
                name: comments
                    .last()
                    .map(|c| c.to_vec())
                    .filter(|n| !n.is_empty()),
                adl: None,
                mailbox: Some(local),
                host: Some(host),
            });
        }
    }
}

/// Route, local part, domain and comments of an angle address.
type AngleAddr<'a> = (Option<Vec<u8>>, Vec<u8>, Vec<u8>, Vec<&'a [u8]>);

/// Parses the inside of `<...>` (after the `<`), through the `>` when present.
fn parse_angle<'a>(tokens: &'a [Token], pos: &mut usize) -> AngleAddr<'a> {
    let mut comments = Vec::new();
    let mut adl: Option<Vec<u8>> = None;
    // An obsolete route: `@a,@b:` before the addr-spec.
    if tokens.get(*pos) == Some(&Token::Special(b'@')) {
        let colon = tokens[*pos..]
            .iter()
            .position(|t| matches!(t, Token::Special(b':' | b'>')))
            .map(|p| *pos + p);
        if let Some(colon) = colon.filter(|&c| tokens.get(c) == Some(&Token::Special(b':'))) {
            let mut route = Vec::new();
            for tok in tokens.get(*pos..colon).unwrap_or_default() {
                match tok {
                    Token::Word(w) | Token::Quoted(w) => route.extend_from_slice(w),
                    Token::Special(s) => route.push(*s),
                    Token::Comment(_) => {}
                }
            }
            adl = Some(route);
            *pos = colon + 1;
        }
    }
    let mut mailbox = Vec::new();
    let mut host = Vec::new();
    let mut after_at = false;
    while let Some(tok) = tokens.get(*pos) {
        *pos += 1;
        match tok {
            Token::Special(b'>') => break,
            Token::Special(b'@') if !after_at => after_at = true,
            // An unclosed `<` must not swallow the rest of the list.
            Token::Special(b',' | b';') => {
                *pos -= 1;
                break;
            }
            Token::Special(s) => {
                if after_at {
                    host.push(*s);
                } else {
                    mailbox.push(*s);
                }
            }
            Token::Word(w) | Token::Quoted(w) => {
                if after_at {
                    host.extend_from_slice(w);
                } else {
                    mailbox.extend_from_slice(w);
                }
            }
            Token::Comment(c) => comments.push(c.as_slice()),
        }
    }
    (adl, mailbox, host, comments)
}

/// Skips to and over the next `,` (or to a `;` inside a group), returning the comments seen.
fn collect_comments_to_separator<'a>(
    tokens: &'a [Token],
    pos: &mut usize,
    in_group: bool,
) -> Vec<&'a [u8]> {
    let mut comments = Vec::new();
    while let Some(tok) = tokens.get(*pos) {
        match tok {
            Token::Special(b',') => {
                *pos += 1;
                break;
            }
            Token::Special(b';') if in_group => break,
            Token::Comment(c) => comments.push(c.as_slice()),
            _ => {}
        }
        *pos += 1;
    }
    comments
}

fn join_words(words: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, w) in words.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        out.extend_from_slice(w);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(name: Option<&str>, mailbox: &str, host: &str) -> EnvelopeAddress {
        EnvelopeAddress {
            name: name.map(|n| n.as_bytes().to_vec()),
            adl: None,
            mailbox: Some(mailbox.as_bytes().to_vec()),
            host: Some(host.as_bytes().to_vec()),
        }
    }

    fn group_start(name: &str) -> EnvelopeAddress {
        EnvelopeAddress {
            mailbox: Some(name.as_bytes().to_vec()),
            ..EnvelopeAddress::default()
        }
    }

    #[test]
    fn reference_message_two() {
        let h = b"From: =?UTF-8?Q?J=C3=BCrgen_M=C3=BCller?= <jurgen@example.org>\r\n\
Reply-To: replies@example.org\r\n\
To: Test User <testuser@example.com>, \"Second, Person\" <second@example.com>\r\n\
Subject: =?UTF-8?B?UmVwb3J0IHdpdGggYXR0YWNobWVudCDinJQ=?=\r\n\
Date: Tue, 03 Jun 2025 12:34:56 +0200\r\n\
Message-ID: <multi-att-1@example.org>\r\n\
In-Reply-To: <api-simple-1@example.com>\r\n";
        let e = envelope(h);
        let jurgen = addr(
            Some("=?UTF-8?Q?J=C3=BCrgen_M=C3=BCller?="),
            "jurgen",
            "example.org",
        );
        assert_eq!(e.from, Some(vec![jurgen.clone()]));
        assert_eq!(e.sender, Some(vec![jurgen]));
        assert_eq!(e.reply_to, Some(vec![addr(None, "replies", "example.org")]));
        assert_eq!(
            e.to,
            Some(vec![
                addr(Some("Test User"), "testuser", "example.com"),
                addr(Some("Second, Person"), "second", "example.com"),
            ])
        );
        assert_eq!(
            e.subject.as_deref(),
            Some(&b"=?UTF-8?B?UmVwb3J0IHdpdGggYXR0YWNobWVudCDinJQ=?="[..])
        );
        assert_eq!(
            e.date.as_deref(),
            Some(&b"Tue, 03 Jun 2025 12:34:56 +0200"[..])
        );
        assert_eq!(
            e.in_reply_to.as_deref(),
            Some(&b"<api-simple-1@example.com>"[..])
        );
        assert_eq!(
            e.message_id.as_deref(),
            Some(&b"<multi-att-1@example.org>"[..])
        );
        assert_eq!(e.cc, None);
        assert_eq!(e.bcc, None);
    }

    #[test]
    fn reference_message_three_group_and_sender() {
        let h = b"From: \"Dave, Jr.\" <dave@example.com>\r\nSender: secretary@example.com\r\n\
To: undisclosed-recipients:;\r\nBcc: hidden@example.com\r\nSubject: Third: html only\r\n";
        let e = envelope(h);
        assert_eq!(e.sender, Some(vec![addr(None, "secretary", "example.com")]));
        assert_eq!(
            e.reply_to,
            Some(vec![addr(Some("Dave, Jr."), "dave", "example.com")])
        );
        assert_eq!(
            e.to,
            Some(vec![
                group_start("undisclosed-recipients"),
                EnvelopeAddress::default()
            ])
        );
        assert_eq!(e.subject.as_deref(), Some(&b"Third: html only"[..]));
        assert_eq!(e.date, None);
        assert_eq!(e.message_id, None);
    }

    #[test]
    fn groups_with_members_and_following_addresses() {
        let list = parse_address_list(
            b"Team: a@x.org, \"B b\" <b@y.org>; c@z.org, Empty: ; (just a comment)",
        );
        assert_eq!(
            list,
            vec![
                group_start("Team"),
                addr(None, "a", "x.org"),
                addr(Some("B b"), "b", "y.org"),
                EnvelopeAddress::default(),
                addr(None, "c", "z.org"),
                group_start("Empty"),
                EnvelopeAddress::default(),
            ]
        );
    }

    #[test]
    fn comments_folding_and_odd_forms() {
        let list = parse_address_list(
            b"john.doe@example.com (John Doe), <bare@example.com>, Smith (jr) <js@ex.com> (work), \
\"quoted\\\"name\" <q@x>, \"john doe\"@example.net, nodomain, , <@r1,@r2:routed@h>",
        );
        assert_eq!(
            list,
            vec![
                addr(Some("John Doe"), "john.doe", "example.com"),
                addr(None, "bare", "example.com"),
                addr(Some("Smith"), "js", "ex.com"),
                addr(Some("quoted\"name"), "q", "x"),
                addr(None, "john doe", "example.net"),
                addr(None, "nodomain", ""),
                EnvelopeAddress {
                    name: None,
                    adl: Some(b"@r1,@r2".to_vec()),
                    mailbox: Some(b"routed".to_vec()),
                    host: Some(b"h".to_vec()),
                },
            ]
        );
    }

    #[test]
    fn missing_and_empty_headers_are_nil() {
        let e = envelope(b"From:\r\nTo:   \r\nCc: (nobody)\r\nSubject:\r\nDate: \r\n");
        assert_eq!(e.from, None);
        assert_eq!(e.sender, None);
        assert_eq!(e.reply_to, None);
        assert_eq!(e.to, None);
        assert_eq!(e.cc, None);
        assert_eq!(e.date, None);
        assert_eq!(e.subject.as_deref(), Some(&b""[..]));
        assert_eq!(envelope(b""), Envelope::default());
    }

    #[test]
    fn first_duplicate_header_wins_and_folding_is_removed() {
        let e = envelope(
            b"Subject: first\r\n  folded\r\nSubject: second\r\nFrom: a@x\r\nFrom: b@y\r\n\
Message-ID: <1@x>\r\nMessage-ID: <2@x>\r\n",
        );
        assert_eq!(e.subject.as_deref(), Some(&b"first  folded"[..]));
        assert_eq!(e.from, Some(vec![addr(None, "a", "x")]));
        assert_eq!(e.message_id.as_deref(), Some(&b"<1@x>"[..]));
    }

    #[test]
    fn eight_bit_bytes_are_kept() {
        let utf8 = "Grüße aus Köln".as_bytes();
        let sjis: &[u8] = &[0x93, 0xfa, 0x96, 0x7b, 0x8c, 0xea];
        let mut h = b"Subject: ".to_vec();
        h.extend_from_slice(utf8);
        h.extend_from_slice(b"\r\nFrom: ");
        h.extend_from_slice(sjis);
        h.extend_from_slice(b" <jp@example.jp>\r\n");
        let e = envelope(&h);
        assert_eq!(e.subject.as_deref(), Some(utf8));
        assert_eq!(
            e.from
                .and_then(|f| f.into_iter().next())
                .and_then(|a| a.name),
            Some(sjis.to_vec())
        );
    }

    #[test]
    fn garbage_does_not_panic() {
        for input in [
            &b"<"[..],
            b">",
            b"@",
            b":",
            b";",
            b"\"unterminated",
            b"(unterminated",
            b"a:b:c;;;,,<<>>@@",
            b"[1.2.3.4",
            b"x@[1.2.3.4] (c",
            b"\\",
        ] {
            let _ = parse_address_list(input);
        }
        assert_eq!(
            parse_address_list(b"a <b@c"),
            vec![addr(Some("a"), "b", "c")]
        );
    }
}
