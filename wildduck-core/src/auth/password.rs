//! Password hashes: bcrypt for new passwords; verification of every scheme found in WildDuck
//! databases (bcrypt `$2a/$2b/$2y$`, PBKDF2 in PHC form `$pbkdf2-sha1/sha256/sha512$`, Argon2
//! `$argon2d/i/id$`, and the legacy crypt(3) schemes `$1$` MD5, `$5$` SHA-256, `$6$` SHA-512,
//! verify-only). Traditional 13-character DES crypt is recognised and refused (no maintained crate).

use base64::Engine as _;
use md5::{Digest as _, Md5};

use crate::{Error, Result};

/// WildDuck's bcrypt cost (`BCRYPT_ROUNDS`).
pub const DEFAULT_BCRYPT_COST: u32 = 11;

/// The scheme of a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// bcrypt `$2a$`, `$2b$`, `$2y$`.
    Bcrypt,
    /// PBKDF2 in PHC string form.
    Pbkdf2,
    /// Argon2d/i/id in PHC string form.
    Argon2,
    /// MD5-crypt `$1$`.
    Md5Crypt,
    /// SHA-256-crypt `$5$`.
    Sha256Crypt,
    /// SHA-512-crypt `$6$`.
    Sha512Crypt,
    /// Traditional DES crypt (13 characters).
    Des,
}

/// Recognises the scheme of `hash`, `None` for anything unknown (including the empty string, which
/// means "no password login").
pub fn scheme(hash: &str) -> Option<Scheme> {
    if hash.len() == 13
        && hash
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'/')
    {
        return Some(Scheme::Des);
    }
    let id = hash.strip_prefix('$')?.split('$').next()?;
    Some(match id.to_ascii_lowercase().as_str() {
        "2a" | "2b" | "2y" => Scheme::Bcrypt,
        "pbkdf2-sha1" | "pbkdf2-sha256" | "pbkdf2-sha512" => Scheme::Pbkdf2,
        "argon2d" | "argon2i" | "argon2id" => Scheme::Argon2,
        "1" => Scheme::Md5Crypt,
        "5" => Scheme::Sha256Crypt,
        "6" => Scheme::Sha512Crypt,
        _ => return None,
    })
}

/// Hashes a new password with bcrypt at `cost` (4..=31).
pub fn hash(password: &str, cost: u32) -> Result<String> {
    bcrypt::hash(password, cost).map_err(|e| Error::invalid(format!("cannot hash password: {e}")))
}

/// Whether `password` matches `hash`. Unknown or malformed hashes never match.
pub fn verify(password: &str, hash: &str) -> bool {
    match scheme(hash) {
        Some(Scheme::Bcrypt) => bcrypt::verify(password, hash).unwrap_or(false),
        Some(Scheme::Pbkdf2) => verify_pbkdf2(password, hash).unwrap_or(false),
        Some(Scheme::Argon2) => verify_argon2(password, hash),
        Some(Scheme::Md5Crypt) => md5_crypt_verify(password, hash),
        Some(Scheme::Sha256Crypt) => sha_crypt::sha256_check(password, hash).is_ok(),
        Some(Scheme::Sha512Crypt) => sha_crypt::sha512_check(password, hash).is_ok(),
        Some(Scheme::Des) | None => false,
    }
}

/// Whether a hash should be replaced after a successful login (anything that is not bcrypt).
pub fn needs_rehash(hash: &str) -> bool {
    scheme(hash) != Some(Scheme::Bcrypt)
}

fn verify_argon2(password: &str, hash: &str) -> bool {
    use argon2::PasswordVerifier as _;
    match argon2::PasswordHash::new(hash) {
        Ok(parsed) => argon2::Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// `$pbkdf2-<digest>$i=<iterations>$<salt b64>$<hash b64>` (the `@phc/pbkdf2` layout).
fn verify_pbkdf2(password: &str, hash: &str) -> Option<bool> {
    let mut parts = hash.strip_prefix('$')?.split('$');
    let id = parts.next()?;
    let params = parts.next()?;
    let salt = b64(parts.next()?)?;
    let expected = b64(parts.next()?)?;
    let iterations: u32 = params
        .split(',')
        .find_map(|p| p.strip_prefix("i="))?
        .parse()
        .ok()?;
    if iterations == 0 || iterations > 10_000_000 || expected.is_empty() || expected.len() > 128 {
        return Some(false);
    }
    let mut out = vec![0u8; expected.len()];
    let pw = password.as_bytes();
    match id {
        "pbkdf2-sha1" => pbkdf2::pbkdf2_hmac::<sha1::Sha1>(pw, &salt, iterations, &mut out),
        "pbkdf2-sha256" => pbkdf2::pbkdf2_hmac::<sha2::Sha256>(pw, &salt, iterations, &mut out),
        "pbkdf2-sha512" => pbkdf2::pbkdf2_hmac::<sha2::Sha512>(pw, &salt, iterations, &mut out),
        _ => return Some(false),
    }
    Some(constant_time_eq(&out, &expected))
}

fn b64(s: &str) -> Option<Vec<u8>> {
    let trimmed = s.trim_end_matches('=');
    base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(trimmed)
        .ok()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

const ITOA64: &[u8; 64] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// MD5-crypt as in FreeBSD's `crypt(3)` with magic `$1$`.
fn md5_crypt(password: &[u8], salt: &[u8]) -> String {
    let magic = b"$1$";
    let salt = &salt[..salt.len().min(8)];
    let mut alt = Md5::new();
    alt.update(password);
    alt.update(salt);
    alt.update(password);
    let alt = alt.finalize();

    let mut ctx = Md5::new();
    ctx.update(password);
    ctx.update(magic);
    ctx.update(salt);
    let mut left = password.len();
    while left > 0 {
        let n = left.min(16);
        ctx.update(&alt[..n]);
        left -= n;
    }
    let mut i = password.len();
    while i > 0 {
        if i & 1 == 1 {
            ctx.update([0u8]);
        } else {
            ctx.update(&password[..password.len().min(1)]);
        }
        i >>= 1;
    }
    let mut fin = ctx.finalize();
    for round in 0..1000 {
        let mut c = Md5::new();
        if round & 1 == 1 {
            c.update(password);
        } else {
            c.update(fin);
        }
        if round % 3 != 0 {
            c.update(salt);
        }
        if round % 7 != 0 {
            c.update(password);
        }
        if round & 1 == 1 {
            c.update(fin);
        } else {
            c.update(password);
        }
        fin = c.finalize();
    }
    let f: [u8; 16] = fin.into();
    let mut out = String::from("$1$");
    out.push_str(&String::from_utf8_lossy(salt));
    out.push('$');
    let groups = [(0, 6, 12), (1, 7, 13), (2, 8, 14), (3, 9, 15), (4, 10, 5)];
    for (a, b, c) in groups {
        let v = u32::from(f[a]) << 16 | u32::from(f[b]) << 8 | u32::from(f[c]);
        to64(&mut out, v, 4);
    }
    to64(&mut out, u32::from(f[11]), 2);
    out
}

fn to64(out: &mut String, mut v: u32, n: usize) {
    for _ in 0..n {
        out.push(char::from(ITOA64[(v & 0x3f) as usize]));
        v >>= 6;
    }
}

fn md5_crypt_verify(password: &str, hash: &str) -> bool {
    let Some(rest) = hash.strip_prefix("$1$") else {
        return false;
    };
    let salt = rest.split('$').next().unwrap_or("");
    constant_time_eq(
        md5_crypt(password.as_bytes(), salt.as_bytes()).as_bytes(),
        hash.as_bytes(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_crypt_vectors_from_openssl() {
        assert!(verify("hunter2", "$1$saltsalt$ZliGyAN3DciDHEkDboonh/"));
        assert!(!verify("hunter3", "$1$saltsalt$ZliGyAN3DciDHEkDboonh/"));
        assert!(verify("", "$1$ab$rn6aQS/o7141mj179E/zA."));
        assert!(verify(
            "hunter2",
            "$5$saltsalt$OIdfjX.u4Y3SJ4I2bX8w5BMf1VAUhHABNUirScDzZi3"
        ));
        let six = "$6$saltsalt$8iYtNHxjWRl.NF6oNZ5tF.iKFlQREaXBLlSmZKP6dy9l5z3vsooWNW0/GZ6Nej73/TFug6pIPSqbJoCT6dfnj.";
        assert!(verify("hunter2", six));
        assert!(!verify("Hunter2", six));
    }

    #[test]
    fn pbkdf2_phc_vectors_from_python() {
        let s256 = "$pbkdf2-sha256$i=1000$MDEyMzQ1Njc4OWFiY2RlZg$pj4T35D2v4tYmC1sTJ1y5tcMADOdtnQGvuHmyYDQh2g";
        let s512 = "$pbkdf2-sha512$i=1000$MDEyMzQ1Njc4OWFiY2RlZg$Xp/4UtI3VYuUskUJvg/ElBho/1QUob2t4wOqDH2dRs5/P6kzj5+E8oi97sPcw7P4ZvydZ2rKx3aQeetuxYWOOg";
        let s1 = "$pbkdf2-sha1$i=1000$MDEyMzQ1Njc4OWFiY2RlZg$EXf/SoHQ/PUuLqi74PYEPFhhLxQ";
        for h in [s256, s512, s1] {
            assert!(verify("hunter2", h), "{h}");
            assert!(!verify("hunter", h), "{h}");
        }
        assert!(!verify("hunter2", "$pbkdf2-sha256$i=0$AA$AA"));
        assert!(!verify("hunter2", "$pbkdf2-sha256$garbage"));
    }

    #[test]
    fn bcrypt_and_argon2_round_trip() {
        let h = hash("secret", 4).unwrap_or_default();
        assert!(h.starts_with("$2b$04$"));
        assert!(verify("secret", &h));
        assert!(!verify("Secret", &h));
        assert!(!needs_rehash(&h));
        use argon2::PasswordHasher as _;
        let salt = argon2::password_hash::SaltString::from_b64("c2FsdHNhbHRzYWx0").ok();
        let a = salt
            .and_then(|s| {
                argon2::Argon2::default()
                    .hash_password(b"secret", &s)
                    .ok()
                    .map(|h| h.to_string())
            })
            .unwrap_or_default();
        assert!(a.starts_with("$argon2id$"));
        assert!(verify("secret", &a));
        assert!(!verify("secreT", &a));
        assert!(needs_rehash(&a));
    }

    #[test]
    fn unknown_and_empty_never_match() {
        assert!(!verify("", ""));
        assert!(!verify("x", "plain"));
        assert_eq!(scheme("abcdefghijklm"), Some(Scheme::Des));
        assert!(!verify("x", "abcdefghijklm"));
    }
}
