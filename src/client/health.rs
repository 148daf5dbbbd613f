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
}

/// GETs `url` (`http://` or `https://`): the status code and the body. HTTP/1.0, so the
/// body is never chunked.
pub fn fetch(url: &str, trust: Trust<'_>, timeout: Duration) -> Result<(u16, String), String> {
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
    let addr = hostport
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
    let mut response = Vec::new();
    if tls {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?;
        let config = match trust {
            Trust::Any => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyServer(provider)))
                .with_no_client_auth(),
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
                builder.with_root_certificates(roots).with_no_client_auth()
            }
        };
        let host = hostport
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
        if let Err(e) = stream.read_to_end(&mut response) {
            // A peer that closes without close_notify has still sent its answer.
            if response.is_empty() {
                return Err(e.to_string());
            }
        }
    } else {
        tcp.write_all(request.as_bytes())
            .map_err(|e| e.to_string())?;
        let _ = tcp.read_to_end(&mut response);
    }
    let text = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("{url}: no HTTP answer"))?;
    Ok((code, body.to_string()))
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
    let start = Instant::now();
    let mut last = String::from("no answer yet");
    let mut next_report = Duration::from_secs(10);
    while start.elapsed() < timeout {
        match get_status(url, Duration::from_secs(2)) {
            Ok(200) => return Ok(start.elapsed()),
            Ok(code) => last = format!("HTTP status {code}"),
            Err(e) => last = e,
        }
        if start.elapsed() >= next_report {
            progress(start.elapsed(), &last);
            next_report += Duration::from_secs(10);
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    Err(last)
}
