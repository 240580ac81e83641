//! LOGIN, AUTHENTICATE (with SASL-IR) and the SASL PLAIN payload.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::{ArgResult, Parser};
use crate::proto::command::CommandBody;

/// `LOGIN userid password`
pub(super) fn parse_login(p: &mut Parser<'_>) -> ArgResult<CommandBody> {
    p.sp()?;
    let username = p.r.astring_utf8()?;
    p.sp()?;
    let password = p.r.astring_utf8()?;
    p.r.end()?;
    Ok(CommandBody::Login { username, password })
}

/// `AUTHENTICATE mechanism [SP initial-response]` (RFC 4959: `=` is an empty response).
pub(super) fn parse_authenticate(p: &mut Parser<'_>) -> ArgResult<CommandBody> {
    p.sp()?;
    let mechanism = p.r.atom_upper()?;
    let mut initial_response = None;
    if p.r.more()? {
        let rest = p.r.rest();
        if rest.contains(&b' ') {
            return Err("Unexpected arguments".into());
        }
        initial_response = Some(decode_sasl_base64(rest)?);
    }
    Ok(CommandBody::Authenticate {
        mechanism,
        initial_response,
    })
}

/// Decodes a BASE64 SASL response (`=` is empty). Used for the initial response and for the
/// continuation line the session reads after `+ ` (where `*` means the client cancels: check for
/// it before calling this).
pub(super) fn decode_sasl_base64(data: &[u8]) -> Result<Vec<u8>, String> {
    let data = data.trim_ascii();
    if data == b"=" {
        return Ok(Vec::new());
    }
    STANDARD
        .decode(data)
        .map_err(|_| "Invalid BASE64 response".to_string())
}

/// The fields of a SASL PLAIN message (RFC 4616), or WildDuck's PLAIN-CLIENTTOKEN with a fourth
/// field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaslPlain {
    /// Authorisation identity (ignored by WildDuck).
    pub authzid: String,
    /// Authentication identity: the user name.
    pub username: String,
    /// The password.
    pub password: String,
    /// The client token of `PLAIN-CLIENTTOKEN`.
    pub client_token: Option<String>,
}

/// Splits a decoded SASL PLAIN message. `client_token`: the mechanism is `PLAIN-CLIENTTOKEN`, which
/// needs exactly four NUL-separated fields (PLAIN: exactly three), as WildDuck requires.
/// `data` may also be the undecoded BASE64 continuation line: pass `base64: true`.
pub fn decode_sasl_plain(
    data: &[u8],
    base64: bool,
    client_token: bool,
) -> Result<SaslPlain, String> {
    let decoded;
    let data = if base64 {
        decoded = decode_sasl_base64(data)?;
        &decoded[..]
    } else {
        data
    };
    let fields: Vec<&[u8]> = data.split(|&b| b == 0).collect();
    let want = if client_token { 4 } else { 3 };
    if fields.len() != want {
        return Err("Invalid SASL PLAIN response".into());
    }
    let text = |i: usize| -> Result<String, String> {
        let f = fields.get(i).copied().unwrap_or_default();
        String::from_utf8(f.to_vec()).map_err(|_| "Invalid UTF-8 in SASL response".to_string())
    };
    let username = text(1)?;
    if username.is_empty() {
        return Err("Missing username".into());
    }
    Ok(SaslPlain {
        authzid: text(0)?,
        username,
        password: text(2)?,
        client_token: if client_token { Some(text(3)?) } else { None },
    })
}
