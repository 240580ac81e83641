//! HAProxy PROXY protocol version 1 (the text form): `PROXY TCP4|TCP6 <src> <dst> <sport> <dport>\r\n`
//! or `PROXY UNKNOWN ...\r\n`, at most 107 bytes, sent by the load balancer before any client byte.

use std::net::{IpAddr, SocketAddr};

use tokio::io::{AsyncRead, AsyncReadExt as _};

/// The longest v1 header including CRLF (from the specification).
pub const MAX_V1_LEN: usize = 107;

/// What a v1 header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyHeader {
    /// The original client and the address it connected to.
    Tcp {
        /// The client.
        source: SocketAddr,
        /// The address the client connected to (on the balancer).
        destination: SocketAddr,
    },
    /// `PROXY UNKNOWN`: the balancer does not know (health checks); use the socket's own peer.
    Unknown,
}

/// Why a header was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad PROXY header: {0}")]
pub struct ProxyError(pub &'static str);

/// Parses one header line (with or without its CRLF).
pub fn parse_v1(line: &[u8]) -> Result<ProxyHeader, ProxyError> {
    let line = line
        .strip_suffix(b"\r\n")
        .or_else(|| line.strip_suffix(b"\n"))
        .unwrap_or(line);
    let text = std::str::from_utf8(line).map_err(|_| ProxyError("not ASCII"))?;
    let mut parts = text.split(' ');
    if parts.next() != Some("PROXY") {
        return Err(ProxyError("missing PROXY signature"));
    }
    let family = parts.next().ok_or(ProxyError("missing protocol"))?;
    if family == "UNKNOWN" {
        return Ok(ProxyHeader::Unknown);
    }
    let want_v6 = match family {
        "TCP4" => false,
        "TCP6" => true,
        _ => return Err(ProxyError("unknown protocol")),
    };
    let mut ip = || -> Result<IpAddr, ProxyError> {
        let ip: IpAddr = parts
            .next()
            .ok_or(ProxyError("missing address"))?
            .parse()
            .map_err(|_| ProxyError("bad address"))?;
        if ip.is_ipv6() != want_v6 {
            return Err(ProxyError("address does not match protocol"));
        }
        Ok(ip)
    };
    let (src, dst) = (ip()?, ip()?);
    let mut port = || -> Result<u16, ProxyError> {
        let p = parts.next().ok_or(ProxyError("missing port"))?;
        // The specification forbids leading zeros and signs.
        if p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ProxyError("bad port"));
        }
        if p.len() > 1 && p.starts_with('0') {
            return Err(ProxyError("bad port"));
        }
        p.parse().map_err(|_| ProxyError("bad port"))
    };
    let (sport, dport) = (port()?, port()?);
    if parts.next().is_some() {
        return Err(ProxyError("trailing data"));
    }
    Ok(ProxyHeader::Tcp {
        source: SocketAddr::new(src, sport),
        destination: SocketAddr::new(dst, dport),
    })
}

/// Reads exactly one header line from `stream` (byte by byte, so no client byte after it is
/// consumed) and parses it.
pub async fn read_v1<R: AsyncRead + Unpin>(stream: &mut R) -> Result<ProxyHeader, ProxyError> {
    let mut line = Vec::with_capacity(MAX_V1_LEN);
    loop {
        let b = stream
            .read_u8()
            .await
            .map_err(|_| ProxyError("connection closed"))?;
        line.push(b);
        if b == b'\n' {
            if !line.ends_with(b"\r\n") {
                return Err(ProxyError("line must end with CRLF"));
            }
            return parse_v1(&line);
        }
        if line.len() >= MAX_V1_LEN {
            return Err(ProxyError("header too long"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_specification_examples() {
        assert_eq!(
            parse_v1(b"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n"),
            Ok(ProxyHeader::Tcp {
                source: "192.168.0.1:56324".parse().unwrap(),
                destination: "192.168.0.11:443".parse().unwrap(),
            })
        );
        assert_eq!(
            parse_v1(b"PROXY TCP6 ::1 2001:db8::1 1 65535\r\n"),
            Ok(ProxyHeader::Tcp {
                source: "[::1]:1".parse().unwrap(),
                destination: "[2001:db8::1]:65535".parse().unwrap(),
            })
        );
        assert_eq!(
            parse_v1(b"PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n"),
            Ok(ProxyHeader::Unknown)
        );
    }

    #[test]
    fn refuses_malformed_headers() {
        for bad in [
            &b"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n"[..],
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n",
            b"PROXY TCP4 ::1 ::1 1 2\r\n",
            b"PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n",
            b"PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n",
            b"proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n",
            b"USER bob\r\n",
            b"PROXY\r\n",
            b"\xff\xfe",
        ] {
            assert!(parse_v1(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[tokio::test]
    async fn read_stops_at_the_header() {
        let mut input: &[u8] = b"PROXY TCP4 10.0.0.1 10.0.0.2 1000 110\r\nCAPA\r\n";
        let h = read_v1(&mut input).await.expect("header");
        assert!(matches!(h, ProxyHeader::Tcp { .. }));
        assert_eq!(input, b"CAPA\r\n");
        let mut long = vec![b'P'; 200];
        long.extend_from_slice(b"\r\n");
        assert!(read_v1(&mut long.as_slice()).await.is_err());
        assert!(read_v1(&mut &b"PROXY UNKNOWN\n"[..]).await.is_err());
        assert!(read_v1(&mut &b"PROXY"[..]).await.is_err());
    }
}
