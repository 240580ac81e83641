//! Session ids as WildDuck makes them: 10 random bytes in lower-case base32 (16 characters).

use rand::RngCore as _;

const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// A new random session id: 16 characters of `[a-z2-7]`, as WildDuck's
/// `base32.encode(crypto.randomBytes(10)).toLowerCase()`.
pub fn session_id() -> String {
    let mut bytes = [0u8; 10];
    rand::rng().fill_bytes(&mut bytes);
    encode(&bytes)
}

/// RFC 4648 base32 without padding, lower case.
fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    for &b in bytes {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((acc >> bits) & 31) as usize]));
        }
        acc &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((acc << (5 - bits)) & 31) as usize]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base32_matches_rfc4648() {
        assert_eq!(encode(b"foobar"), "mzxw6ytboi");
        assert_eq!(encode(b""), "");
        assert_eq!(encode(&[0xff; 10]), "7777777777777777");
    }

    #[test]
    fn ids_are_16_chars_and_differ() {
        let a = session_id();
        let b = session_id();
        assert_eq!(a.len(), 16);
        assert!(a.bytes().all(|c| ALPHABET.contains(&c)));
        assert_ne!(a, b);
    }
}
