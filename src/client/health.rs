//! Health endpoints of the kubelet and the control-plane components, probed as their
//! static Pods' probes do: an HTTP(S) GET whose status must be 200. The components serve
//! self-signed certificates at first, so the TLS peer is not verified (the request carries
//! no credentials).

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Accepts any server certificate: health probes only, nothing secret is sent.
#[derive(Debug)]
struct AnyServer(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyServer {
    fn verify_server_cert(
        &self,
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &[rustls::pki_types::CertificateDer<'_>],
        _: &rustls::pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// How an HTTPS peer is trusted.
#[derive(Debug, Clone, Copy)]
pub enum Trust<'a> {
    /// Not at all: health probes, and discovery's first, unauthenticated fetch whose
    /// answer is verified by other means.
    Any,
    /// Only certificates chaining to these CA certificates (PEM).
    Ca(&'a [u8]),
    /// Certificates chaining to the machine's own CA store (`/etc/ssl/certs`, or
    /// `SSL_CERT_FILE`/`SSL_CERT_DIR`), as Go's default HTTP client trusts: public
    /// servers such as upstream's release bucket.
    System,
    /// Certificates chaining to a CA store read as a bundle (PEM; entries that are not
    /// usable certificates are skipped, as Go's `AppendCertsFromPEM` skips them): under
    /// `--rootfs`, the root's own store, as upstream reads it after changing root.
    Bundle(&'a [u8]),
}

/// The most [`fetch`] reads of an answer: health answers and `cluster-info` are a few
/// kilobytes; anything far larger is refused rather than buffered.
pub const MAX_ANSWER_BYTES: usize = 4 << 20;

/// Reads to the end of `r`, refusing more than `limit` bytes or going past `deadline`
/// (a peer that drips bytes slowly cannot hold the read open forever). What was read
/// before the peer closed, reset, or timed out is kept when it is not empty.
fn read_bounded(
    r: &mut impl Read,
    limit: usize,
    deadline: Instant,
    url: &str,
) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        if Instant::now() > deadline {
            return Err(format!("{url}: the answer did not end in time"));
        }
        match r.read(&mut buf) {
            Ok(0) => return Ok(out),
            Ok(n) => {
                if out.len() + n > limit {
                    return Err(format!(
                        "{url}: the answer is larger than {} MiB; refusing it",
                        limit >> 20
                    ));
                }
                out.extend_from_slice(&buf[..n]);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            // A peer that closes without close_notify has still sent its answer.
            Err(e) => {
                return if out.is_empty() {
                    Err(e.to_string())
                } else {
                    Ok(out)
                }
            }
        }
    }
}

/// GETs `url` (`http://` or `https://`): the status code and the body. HTTP/1.0, so the
/// body is never chunked. The answer is bounded: at most [`MAX_ANSWER_BYTES`], within
/// twice `timeout` from the start.
pub fn fetch_answer(url: &str, trust: Trust<'_>, timeout: Duration) -> Result<Answer, String> {
    fetch_answer_as(url, trust, None, timeout)
}

/// A client certificate and its key (PEM) presented to an HTTPS peer that asks for one,
/// such as an etcd server with client-certificate authentication.
#[derive(Debug, Clone, Copy)]
pub struct ClientIdentity<'a> {
    /// The certificate chain, leaf first.
    pub cert_pem: &'a [u8],
    /// The private key.
    pub key_pem: &'a [u8],
}

/// As [`fetch_answer`], presenting `identity` to an `https://` peer when one is given.
pub fn fetch_answer_as(
    url: &str,
    trust: Trust<'_>,
    identity: Option<ClientIdentity<'_>>,
    timeout: Duration,
) -> Result<Answer, String> {
    let deadline = Instant::now() + timeout * 2;
    let (tls, rest) = if let Some(r) = url.strip_prefix("https://") {
        (true, r)
    } else if let Some(r) = url.strip_prefix("http://") {
        (false, r)
    } else {
        return Err(format!("{url}: not an http(s) URL"));
    };
    let (hostport, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    // A URL may leave out the port: the scheme's own.
    let has_port = match hostport.strip_prefix('[') {
        Some(v6) => v6.contains("]:"),
        None => hostport.contains(':'),
    };
    let hostport_full = if has_port {
        hostport.to_string()
    } else {
        format!("{hostport}:{}", if tls { 443 } else { 80 })
    };
    let addr = hostport_full
        .to_socket_addrs()
        .map_err(|e| format!("{hostport}: {e}"))?
        .next()
        .ok_or_else(|| format!("{hostport}: no address"))?;
    let mut tcp = TcpStream::connect_timeout(&addr, timeout).map_err(|e| e.to_string())?;
    tcp.set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    tcp.set_write_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    let request = format!(
        "GET {path} HTTP/1.0\r\nHost: {hostport}\r\nUser-Agent: kubeadm\r\nAccept: application/json\r\n\r\n"
    );
    let response = if tls {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?;
        let client_auth = |b: rustls::ConfigBuilder<
            rustls::ClientConfig,
            rustls::client::WantsClientCert,
        >|
         -> Result<rustls::ClientConfig, String> {
            match identity {
                None => Ok(b.with_no_client_auth()),
                Some(id) => {
                    let chain = ::pem::parse_many(id.cert_pem)
                        .map_err(|e| format!("the client certificate is not PEM: {e}"))?
                        .into_iter()
                        .filter(|b| b.tag() == "CERTIFICATE")
                        .map(|b| rustls::pki_types::CertificateDer::from(b.into_contents()))
                        .collect::<Vec<_>>();
                    if chain.is_empty() {
                        return Err("the client certificate file holds no certificate".into());
                    }
                    // The key's text is never part of an error.
                    let key = ::pem::parse_many(id.key_pem)
                        .ok()
                        .and_then(|blocks| {
                            blocks
                                .into_iter()
                                .find(|b| b.tag().ends_with("PRIVATE KEY"))
                        })
                        .map(|b| match b.tag() {
                            "RSA PRIVATE KEY" => {
                                rustls::pki_types::PrivateKeyDer::Pkcs1(b.into_contents().into())
                            }
                            "EC PRIVATE KEY" => {
                                rustls::pki_types::PrivateKeyDer::Sec1(b.into_contents().into())
                            }
                            _ => rustls::pki_types::PrivateKeyDer::Pkcs8(b.into_contents().into()),
                        })
                        .ok_or("the client key file holds no PEM private key")?;
                    b.with_client_auth_cert(chain, key)
                        .map_err(|e| format!("the client certificate and key do not fit: {e}"))
                }
            }
        };
        let config = match trust {
            Trust::Any => client_auth(
                builder
                    .dangerous()
                    .with_custom_certificate_verifier(Arc::new(AnyServer(provider))),
            )?,
            Trust::Ca(pem_bytes) => {
                let mut roots = rustls::RootCertStore::empty();
                for block in
                    ::pem::parse_many(pem_bytes).map_err(|e| format!("the CA is not PEM: {e}"))?
                {
                    roots
                        .add(rustls::pki_types::CertificateDer::from(
                            block.into_contents(),
                        ))
                        .map_err(|e| format!("the CA certificate is not usable: {e}"))?;
                }
                client_auth(builder.with_root_certificates(roots))?
            }
            Trust::Bundle(pem_bytes) => {
                let mut roots = rustls::RootCertStore::empty();
                let blocks = ::pem::parse_many(pem_bytes)
                    .map_err(|e| format!("the CA store is not PEM: {e}"))?;
                roots.add_parsable_certificates(
                    blocks
                        .into_iter()
                        .filter(|b| b.tag() == "CERTIFICATE")
                        .map(|b| rustls::pki_types::CertificateDer::from(b.into_contents())),
                );
                if roots.is_empty() {
                    return Err("no usable CA certificate in the root's CA store".into());
                }
                client_auth(builder.with_root_certificates(roots))?
            }
            Trust::System => {
                let found = rustls_native_certs::load_native_certs();
                let mut roots = rustls::RootCertStore::empty();
                let (_, unusable) = roots.add_parsable_certificates(found.certs);
                if roots.is_empty() {
                    let why = found
                        .errors
                        .first()
                        .map(|e| e.to_string())
                        .unwrap_or_else(|| format!("{unusable} unusable certificates"));
                    return Err(format!(
                        "no CA certificates of this machine to trust: {why}"
                    ));
                }
                client_auth(builder.with_root_certificates(roots))?
            }
        };
        let host = hostport_full
            .rsplit_once(':')
            .map(|(h, _)| h.trim_matches(['[', ']']))
            .unwrap_or(hostport)
            .to_string();
        let name = rustls::pki_types::ServerName::try_from(host).map_err(|e| e.to_string())?;
        let conn =
            rustls::ClientConnection::new(Arc::new(config), name).map_err(|e| e.to_string())?;
        let mut stream = rustls::StreamOwned::new(conn, tcp);
        stream
            .write_all(request.as_bytes())
            .map_err(|e| e.to_string())?;
        read_bounded(&mut stream, MAX_ANSWER_BYTES, deadline, url)?
    } else {
        tcp.write_all(request.as_bytes())
            .map_err(|e| e.to_string())?;
        read_bounded(&mut tcp, MAX_ANSWER_BYTES, deadline, url)?
    };
    let text = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("{url}: no HTTP answer"))?;
    let header = |name: &str| {
        head.lines().find_map(|l| {
            l.split_once(':')
                .filter(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.trim().to_string())
        })
    };
    Ok(Answer {
        code,
        body: body.to_string(),
        date: header("date"),
        location: header("location"),
    })
}

/// An HTTP answer as [`fetch_answer`] reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The status code.
    pub code: u16,
    /// The body.
    pub body: String,
    /// The `Date` header: the peer's clock.
    pub date: Option<String>,
    /// The `Location` header: where a redirect points.
    pub location: Option<String>,
}

/// GETs `url`: the status code and the body (see [`fetch_answer`]).
pub fn fetch(url: &str, trust: Trust<'_>, timeout: Duration) -> Result<(u16, String), String> {
    fetch_answer(url, trust, timeout).map(|a| (a.code, a.body))
}

/// An HTTP date (`Sun, 06 Nov 1994 08:49:37 GMT`, RFC 9110's IMF-fixdate) as seconds
/// since the epoch.
pub fn parse_http_date(s: &str) -> Option<i64> {
    let mut p = s.split_whitespace();
    let _weekday = p.next()?;
    let day: u8 = p.next()?.parse().ok()?;
    let month = match p.next()? {
        "Jan" => time::Month::January,
        "Feb" => time::Month::February,
        "Mar" => time::Month::March,
        "Apr" => time::Month::April,
        "May" => time::Month::May,
        "Jun" => time::Month::June,
        "Jul" => time::Month::July,
        "Aug" => time::Month::August,
        "Sep" => time::Month::September,
        "Oct" => time::Month::October,
        "Nov" => time::Month::November,
        "Dec" => time::Month::December,
        _ => return None,
    };
    let year: i32 = p.next()?.parse().ok()?;
    let mut hms = p.next()?.split(':').map(|x| x.parse::<u8>().ok());
    let (h, m, sec) = (hms.next()??, hms.next()??, hms.next()??);
    if p.next()? != "GMT" {
        return None;
    }
    let date = time::Date::from_calendar_date(year, month, day).ok()?;
    let t = time::Time::from_hms(h, m, sec).ok()?;
    Some(
        time::PrimitiveDateTime::new(date, t)
            .assume_utc()
            .unix_timestamp(),
    )
}

/// GETs `url` without verifying its certificate and returns the status code.
pub fn get_status(url: &str, timeout: Duration) -> Result<u16, String> {
    fetch(url, Trust::Any, timeout).map(|(code, _)| code)
}

/// Polls `url` until it answers 200 or `timeout` passes; returns how long it took. Every
/// ten seconds of waiting, `progress` hears how long it has been and the last answer.
pub fn wait_healthy(
    url: &str,
    timeout: Duration,
    progress: &dyn Fn(Duration, &str),
) -> Result<Duration, String> {
    wait_healthy_until(url, timeout, progress, &|| None)
}

/// [`wait_healthy`] that also ends, with the reason `stop` gives, as soon as `stop` gives
/// one (another check has found why the endpoint will not come up).
pub fn wait_healthy_until(
    url: &str,
    timeout: Duration,
    progress: &dyn Fn(Duration, &str),
    stop: &(dyn Fn() -> Option<String> + Sync),
) -> Result<Duration, String> {
    let start = Instant::now();
    let mut last = String::from("no answer yet");
    let mut next_report = Duration::from_secs(10);
    let mut poll = crate::interrupt::Poll::new();
    while start.elapsed() < timeout {
        if let Some(reason) = stop() {
            return Err(reason);
        }
        match get_status(url, Duration::from_secs(2)) {
            Ok(200) => return Ok(start.elapsed()),
            Ok(code) => last = format!("HTTP status {code}"),
            Err(e) => last = e,
        }
        if start.elapsed() >= next_report {
            progress(start.elapsed(), &last);
            next_report += Duration::from_secs(10);
        }
        poll.pause()?;
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    /// A server on a loopback port that answers one connection with `send`.
    fn serve(send: impl FnOnce(TcpStream) + Send + 'static) -> String {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        std::thread::spawn(move || {
            if let Ok((mut s, _)) = l.accept() {
                let mut req = [0u8; 1024];
                let _ = s.read(&mut req);
                send(s);
            }
        });
        format!("http://{addr}/api/v1/namespaces/kube-public/configmaps/cluster-info")
    }

    #[test]
    fn an_endless_answer_is_cut_off_not_buffered() {
        let url = serve(|mut s| {
            let _ = s.write_all(b"HTTP/1.0 200 OK\r\n\r\n");
            let chunk = vec![b'a'; 64 * 1024];
            // 200 MiB, unless the client hangs up first.
            for _ in 0..3200 {
                if s.write_all(&chunk).is_err() {
                    return;
                }
            }
        });
        let err = fetch(&url, Trust::Any, Duration::from_secs(10)).unwrap_err();
        assert!(err.contains("larger than 4 MiB"), "{err}");
    }

    #[test]
    fn a_dripping_answer_ends_at_the_deadline() {
        let url = serve(|mut s| {
            let _ = s.write_all(b"HTTP/1.0 200 OK\r\n\r\n");
            for _ in 0..100 {
                if s.write_all(b"x").is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        // Without the deadline the drip would end after 5 s with a whole answer.
        let err = fetch(&url, Trust::Any, Duration::from_millis(300)).unwrap_err();
        assert!(err.contains("did not end in time"), "{err}");
    }

    #[test]
    fn a_normal_answer_is_read_whole() {
        let url = serve(|mut s| {
            let _ = s.write_all(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nok");
        });
        assert_eq!(
            fetch(&url, Trust::Any, Duration::from_secs(5)).unwrap(),
            (200, "ok".to_string())
        );
    }
}
