//! Request parameters as WildDuck sees them: path, query and body merged into one map (path wins
//! over query, query over body, as restify's `mapParams` with `overrideParams: false`), then
//! validated field by field. Every failure is collected, so one 400 `InputValidationError` lists
//! all bad fields in `details`, like Joi with `abortEarly: false`.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{StatusCode, header};
use serde_json::{Map, Value};
use wildduck_core::model::ObjectId;

use crate::ApiState;
use crate::error::ApiError;
use crate::openapi::Kind;

/// JavaScript's `Number.MAX_SAFE_INTEGER`, the largest count WildDuck's Joi schemas take.
pub const MAX_SAFE_INTEGER: i64 = 9_007_199_254_740_991;

/// Merged parameters of one request, plus the raw body for `message/rfc822` uploads.
#[derive(Debug, Default, Clone)]
pub struct Params {
    /// Merged fields.
    pub map: Map<String, Value>,
    /// The body when it was not a JSON or form object (e.g. `Content-Type: message/rfc822`).
    pub raw_body: Option<Vec<u8>>,
    /// The body's own fields before the merge, for the few routes whose body field has the
    /// name of a path parameter (a new `address` in `PUT /users/:user/addresses/:address`).
    pub body: Map<String, Value>,
    /// The operation id of the matched route in [`crate::openapi::ROUTES`] (`None` for nested
    /// objects read as their own parameters), so reads can be checked against its document.
    pub route: Option<&'static str>,
}

impl Params {
    /// A string field of the body itself (not of the path or query), trimmed; `None` when
    /// absent, empty or not a string.
    pub fn body_field(&self, name: &str) -> Option<String> {
        self.body
            .get(name)
            .and_then(Value::as_str)
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    }
}

impl FromRequest<ApiState> for Params {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &ApiState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let path = axum::extract::RawPathParams::from_request_parts(&mut parts, state)
            .await
            .map_err(|_| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "InputValidationError",
                    "Invalid path",
                )
            })?;
        let mut map = Map::new();
        let limit = state.config.body_limit;
        let bytes = axum::body::to_bytes(body, limit).await.map_err(|_| {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "PayloadTooLarge",
                format!("Request body is larger than {limit} bytes"),
            )
        })?;
        let ctype = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        let mut raw_body = None;
        if !bytes.is_empty() {
            match ctype.as_str() {
                "application/json" | ""
                    if looks_like_json(&bytes) || ctype == "application/json" =>
                {
                    match serde_json::from_slice::<Value>(&bytes) {
                        Ok(Value::Object(obj)) => map = obj,
                        Ok(_) => {
                            return Err(ApiError::new(
                                StatusCode::BAD_REQUEST,
                                "InvalidContent",
                                "Request body must be a JSON object",
                            ));
                        }
                        Err(e) => {
                            return Err(ApiError::new(
                                StatusCode::BAD_REQUEST,
                                "InvalidContent",
                                format!("Invalid JSON: {e}"),
                            ));
                        }
                    }
                }
                "application/x-www-form-urlencoded" => {
                    for (k, v) in form_pairs(&bytes) {
                        map.insert(k, Value::String(v));
                    }
                }
                _ => raw_body = Some(bytes.to_vec()),
            }
        }
        let mut body = map.clone();
        if let Some(q) = parts.uri.query() {
            for (k, v) in form_pairs(q.as_bytes()) {
                map.insert(k, Value::String(v));
            }
        }
        for (k, v) in path.iter() {
            map.insert(k.to_string(), Value::String(v.to_string()));
        }
        // The access token is authentication, not a parameter (WildDuck deletes it too).
        map.remove("accessToken");
        // Attributes the caller's role may not set are dropped, as WildDuck's
        // `permission.filter` does.
        if let Some(denied) = parts.extensions.get::<crate::auth::DeniedFields>() {
            for f in &denied.0 {
                map.remove(*f);
                body.remove(*f);
            }
        }
        // `me` as `:user` is the user of the request's user token.
        if map.get("user").and_then(Value::as_str) == Some("me")
            && let Some(id) = parts
                .extensions
                .get::<crate::auth::Identity>()
                .and_then(crate::auth::Identity::user_id)
        {
            map.insert("user".into(), Value::String(id.to_string()));
        }
        let route = parts
            .extensions
            .get::<axum::extract::MatchedPath>()
            .and_then(|m| crate::openapi::operation_id(&parts.method, m.as_str()));
        Ok(Params {
            map,
            raw_body,
            body,
            route,
        })
    }
}

fn looks_like_json(b: &[u8]) -> bool {
    b.iter()
        .find(|c| !c.is_ascii_whitespace())
        .is_some_and(|c| *c == b'{' || *c == b'[')
}

/// Decodes `a=b&c=d` (percent and `+` decoding).
fn form_pairs(b: &[u8]) -> Vec<(String, String)> {
    b.split(|c| *c == b'&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut it = p.splitn(2, |c| *c == b'=');
            let k = percent_decode(it.next().unwrap_or_default());
            let v = percent_decode(it.next().unwrap_or_default());
            (k, v)
        })
        .collect()
}

fn percent_decode(s: &[u8]) -> String {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while let Some(&c) = s.get(i) {
        match c {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = s
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok());
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            _ => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Reads typed fields out of [`Params`], collecting Joi-style messages for every bad one.
#[derive(Debug)]
pub struct Validator<'a> {
    params: &'a Params,
    errors: Vec<(String, String)>,
    known: Vec<&'static str>,
}

impl<'a> Validator<'a> {
    /// A validator over `params`.
    pub fn new(params: &'a Params) -> Self {
        if let Some(route) = params.route {
            audit::hit(route);
        }
        Self {
            params,
            errors: Vec::new(),
            known: vec!["sess", "ip"],
        }
    }

    fn fail(&mut self, field: &str, msg: String) {
        self.errors.push((field.to_string(), msg));
    }

    /// Notes that the handler read `field` as `kind` (for [`audit`]).
    fn note(&self, field: &'static str, kind: Kind, required: bool) {
        if let Some(route) = self.params.route {
            audit::record(route, field, kind, required);
        }
    }

    fn get(&mut self, field: &'static str) -> Option<&'a Value> {
        self.known.push(field);
        // `null` and `""` count as absent (Joi `.empty('')` on WildDuck's optional fields).
        match self.params.map.get(field) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.is_empty() => None,
            Some(v) => Some(v),
        }
    }

    /// A required 24-hex ObjectId.
    pub fn object_id(&mut self, field: &'static str) -> Option<ObjectId> {
        self.note(field, Kind::Id, true);
        match self.get(field) {
            None => {
                self.fail(field, format!("\"{field}\" is required"));
                None
            }
            Some(v) => self.parse_object_id(field, v),
        }
    }

    /// An optional 24-hex ObjectId.
    pub fn opt_object_id(&mut self, field: &'static str) -> Option<ObjectId> {
        self.note(field, Kind::Id, false);
        let v = self.get(field)?;
        self.parse_object_id(field, v)
    }

    fn parse_object_id(&mut self, field: &str, v: &Value) -> Option<ObjectId> {
        let Some(s) = v.as_str() else {
            self.fail(field, format!("\"{field}\" must be a string"));
            return None;
        };
        if !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            self.fail(
                field,
                format!("\"{field}\" must only contain hexadecimal characters"),
            );
            return None;
        }
        if s.len() != 24 {
            self.fail(
                field,
                format!("\"{field}\" length must be 24 characters long"),
            );
            return None;
        }
        match s.to_ascii_lowercase().parse::<ObjectId>() {
            Ok(id) => Some(id),
            Err(_) => {
                self.fail(field, format!("\"{field}\" must be a valid ObjectId"));
                None
            }
        }
    }

    /// An optional string of at most `max` characters (trimmed).
    pub fn opt_str(&mut self, field: &'static str, max: usize) -> Option<String> {
        self.note(field, Kind::Str(max), false);
        self.read_str(field, max)
    }

    fn read_str(&mut self, field: &'static str, max: usize) -> Option<String> {
        let v = self.get(field)?;
        let Some(s) = v.as_str() else {
            self.fail(field, format!("\"{field}\" must be a string"));
            return None;
        };
        if s.chars().count() > max {
            self.fail(
                field,
                format!("\"{field}\" length must be less than or equal to {max} characters long"),
            );
            return None;
        }
        Some(s.to_string())
    }

    /// A required string of at most `max` characters.
    pub fn str(&mut self, field: &'static str, max: usize) -> Option<String> {
        self.note(field, Kind::Str(max), true);
        let present = self.params.map.get(field).is_some_and(|v| !v.is_null());
        let r = self.read_str(field, max);
        if r.is_none() && !self.errors.iter().any(|(f, _)| f == field) {
            let msg = if present {
                format!("\"{field}\" is not allowed to be empty")
            } else {
                format!("\"{field}\" is required")
            };
            self.fail(field, msg);
        }
        r
    }

    /// An optional boolean with WildDuck's coercion (`true/yes/y/on/1`, `false/no/n/off/0`).
    pub fn opt_bool(&mut self, field: &'static str) -> Option<bool> {
        self.note(field, Kind::Bool, false);
        let v = self.get(field)?;
        let parsed = match v {
            Value::Bool(b) => Some(*b),
            Value::Number(n) => match n.as_i64() {
                Some(1) => Some(true),
                Some(0) => Some(false),
                _ => None,
            },
            Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "yes" | "y" | "on" | "1" => Some(true),
                "false" | "no" | "n" | "off" | "0" => Some(false),
                _ => None,
            },
            _ => None,
        };
        if parsed.is_none() {
            self.fail(field, format!("\"{field}\" must be a boolean"));
        }
        parsed
    }

    /// An optional number in `min..=max` (strings holding numbers are converted, as Joi does).
    pub fn opt_num(&mut self, field: &'static str, min: f64, max: f64) -> Option<f64> {
        self.note(field, Kind::Num(min, max), false);
        self.read_num(field, min, max)
    }

    fn read_num(&mut self, field: &'static str, min: f64, max: f64) -> Option<f64> {
        let v = self.get(field)?;
        let n = match v {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse::<f64>().ok().filter(|n| n.is_finite()),
            _ => None,
        };
        let Some(n) = n else {
            self.fail(field, format!("\"{field}\" must be a number"));
            return None;
        };
        if n < min {
            self.fail(
                field,
                format!("\"{field}\" must be greater than or equal to {min}"),
            );
            return None;
        }
        if n > max {
            self.fail(
                field,
                format!("\"{field}\" must be less than or equal to {max}"),
            );
            return None;
        }
        Some(n)
    }

    /// An optional integer in `min..=max` (strings holding numbers are converted).
    pub fn opt_int(&mut self, field: &'static str, min: i64, max: i64) -> Option<i64> {
        self.note(field, Kind::Int(min, max), false);
        let n = self.read_num(field, min as f64, max as f64)?;
        if n.fract() != 0.0 {
            self.fail(field, format!("\"{field}\" must be an integer"));
            return None;
        }
        Some(n as i64)
    }

    /// An optional non-negative integer (bytes, ms, counts) up to JavaScript's largest safe
    /// integer.
    pub fn opt_u64(&mut self, field: &'static str) -> Option<u64> {
        self.opt_int(field, 0, MAX_SAFE_INTEGER)
            .and_then(|n| u64::try_from(n).ok())
    }

    /// An optional list of strings (a JSON array, or a comma separated string), each at most
    /// `max` characters.
    pub fn opt_str_list(&mut self, field: &'static str, max: usize) -> Option<Vec<String>> {
        self.note(field, Kind::StrList(max), false);
        let v = self.get(field)?;
        let items: Option<Vec<String>> = match v {
            Value::Array(a) => a
                .iter()
                .map(|x| x.as_str().map(|s| s.trim().to_string()))
                .collect(),
            Value::String(s) => Some(
                s.split(',')
                    .map(|t| t.trim().to_string())
                    .filter(|t| !t.is_empty())
                    .collect(),
            ),
            _ => None,
        };
        let Some(items) = items else {
            self.fail(field, format!("\"{field}\" must be an array of strings"));
            return None;
        };
        if items.iter().any(|s| s.chars().count() > max) {
            self.fail(
                field,
                format!("\"{field}\" items must be at most {max} characters long"),
            );
            return None;
        }
        Some(items)
    }

    /// Records a failure for `field` found by the caller.
    pub fn reject(&mut self, field: &str, message: &str) {
        self.fail(field, message.to_string());
    }

    /// Marks fields as accepted without reading them (WildDuck accepts but this port ignores).
    pub fn accept(&mut self, fields: &[&'static str]) {
        for f in fields {
            self.note(f, Kind::Any, false);
        }
        self.known.extend_from_slice(fields);
    }

    /// Ends validation: `Err` with every collected message. With `strict`, fields the route did
    /// not read are refused as Joi does without `allowUnknown`.
    pub fn finish(mut self, strict: bool) -> Result<(), ApiError> {
        if let Some(route) = self.params.route {
            audit::finished(route, strict);
        }
        if strict {
            let unknown: Vec<String> = self
                .params
                .map
                .keys()
                .filter(|k| !self.known.contains(&k.as_str()))
                .cloned()
                .collect();
            for k in unknown {
                let msg = format!("\"{k}\" is not allowed");
                self.fail(&k, msg);
            }
        }
        if self.errors.is_empty() {
            return Ok(());
        }
        let mut details = Map::new();
        for (f, m) in &self.errors {
            details
                .entry(f.clone())
                .or_insert_with(|| Value::String(m.clone()));
        }
        let message = self
            .errors
            .iter()
            .map(|(_, m)| m.as_str())
            .collect::<Vec<_>>()
            .join(". ");
        Err(ApiError {
            status: StatusCode::BAD_REQUEST,
            error: message,
            code: "InputValidationError",
            details: Some(details),
        })
    }
}

/// What handlers read, recorded while switched on, so a test can prove that the OpenAPI
/// document ([`crate::openapi::ROUTES`]) lists exactly the fields each handler validates, with
/// the same types and limits ([`crate::openapi::disagreements`]). Off by default: a server pays
/// one atomic load per read.
pub mod audit {
    use std::collections::BTreeMap;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicBool, Ordering};

    use crate::openapi::Kind;

    /// What the handlers read, per operation id.
    #[derive(Debug, Clone, Default, PartialEq)]
    pub struct Reads {
        /// Each field read, every distinct way it was read, and whether it was read as required.
        pub fields: BTreeMap<&'static str, BTreeMap<&'static str, (Vec<Kind>, bool)>>,
        /// Whether the validation refused unknown fields (`Validator::finish(true)`), each
        /// value seen.
        pub strict: BTreeMap<&'static str, Vec<bool>>,
    }

    static ON: AtomicBool = AtomicBool::new(false);
    static READS: Mutex<Reads> = Mutex::new(Reads {
        fields: BTreeMap::new(),
        strict: BTreeMap::new(),
    });

    fn with<T>(f: impl FnOnce(&mut Reads) -> T) -> T {
        // A poisoned lock still holds usable data (a panic elsewhere cannot corrupt a map insert).
        let mut guard = READS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut guard)
    }

    /// Starts recording (for the whole process).
    pub fn start() {
        ON.store(true, Ordering::SeqCst);
    }

    /// What was recorded so far.
    pub fn reads() -> Reads {
        with(|r| r.clone())
    }

    pub(crate) fn finished(route: &'static str, strict: bool) {
        if ON.load(Ordering::Relaxed) {
            with(|r| {
                let seen = r.strict.entry(route).or_default();
                if !seen.contains(&strict) {
                    seen.push(strict);
                }
            });
        }
    }

    pub(crate) fn hit(route: &'static str) {
        if ON.load(Ordering::Relaxed) {
            with(|r| {
                r.fields.entry(route).or_default();
            });
        }
    }

    /// Every distinct typed read is kept; a plain [`super::Validator::accept`] of the same
    /// field ([`Kind::Any`]) only while there is none (the handler then checks it by hand, or
    /// only in some requests).
    pub(crate) fn record(route: &'static str, field: &'static str, kind: Kind, required: bool) {
        if !ON.load(Ordering::Relaxed) {
            return;
        }
        with(|r| {
            let (kinds, req) = r.fields.entry(route).or_default().entry(field).or_default();
            *req |= required;
            if kinds.contains(&kind) || (kind == Kind::Any && !kinds.is_empty()) {
                return;
            }
            kinds.retain(|k| *k != Kind::Any);
            kinds.push(kind);
        });
    }
}
