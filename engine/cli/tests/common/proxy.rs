//! A fault-injecting loopback HTTP proxy in front of the AWS API emulator.
//!
//! gig's AWS provider is pointed at the proxy (`AWS_ENDPOINT_URL`), which forwards each
//! request to the emulator on a connection of its own and injects faults as a real
//! network and a real AWS would:
//!
//! - **throttling** with the shape each protocol uses, answered without forwarding: EC2
//!   query `RequestLimitExceeded` (503, XML), other query services (RDS, ElastiCache,
//!   ELBv2, Auto Scaling) `Throttling` (400, XML), JSON protocols `ThrottlingException`
//!   (400), S3 `SlowDown` (503);
//! - **latency** added before forwarding;
//! - **connection resets** before the request is forwarded;
//! - **answers dropped after the request was processed**: the request is forwarded, the
//!   emulator acts on it, and the connection is reset instead of answering (optionally
//!   for create calls only: the create happened and the client never hears);
//! - **hang**: forward the request (the emulator acts on it) and never answer, keeping
//!   the connection open — a path that went dead after the request got through.
//!
//! The protocol is read from the request: `X-Amz-Target` means a JSON protocol, an
//! `Action=` form body a query protocol (the service from the signature's credential
//! scope), anything else S3's REST protocol. Faults are drawn from a seeded generator,
//! so a run is repeatable up to thread timing. Each connection serves one request and is
//! then closed (`Connection: close`), so every request is one decision.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the proxy does to requests; rates are fractions of all requests (0.0–1.0).
#[derive(Clone, Debug, Default)]
pub struct Faults {
    /// Requests answered with a throttling error (not forwarded).
    pub throttle: f64,
    /// Requests whose connection is reset before forwarding.
    pub reset: f64,
    /// Requests forwarded and processed whose answer is dropped (connection reset).
    pub drop_answer: f64,
    /// Drop answers of create calls only (`Create*`, `Run*`, `Allocate*`).
    pub drop_creates_only: bool,
    /// Added to every forwarded request.
    pub latency: Duration,
    /// Start hung: forward each request (the emulator acts on it) and never answer.
    /// [`Proxy::set_hang`] switches it on and off while gig runs.
    pub hang: bool,
    /// Seed of the fault generator.
    pub seed: u64,
}

/// How many requests met each fault, for a test's report.
#[derive(Debug, Default)]
pub struct Counts {
    /// Requests seen.
    pub requests: AtomicU64,
    /// Throttled.
    pub throttled: AtomicU64,
    /// Reset before forwarding.
    pub reset: AtomicU64,
    /// Processed with the answer dropped.
    pub dropped: AtomicU64,
}

/// A running proxy; stops accepting when dropped.
pub struct Proxy {
    /// `http://127.0.0.1:PORT`, to give gig as its endpoint.
    pub endpoint: String,
    /// What happened so far.
    pub counts: Arc<Counts>,
    stop: Arc<AtomicBool>,
    hang: Arc<AtomicBool>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

impl Proxy {
    /// Starts a proxy to the emulator at `upstream` (`http://127.0.0.1:PORT`).
    pub fn start(upstream: &str, faults: Faults) -> Proxy {
        let upstream_port: u16 = upstream
            .rsplit(':')
            .next()
            .and_then(|p| p.trim_end_matches('/').parse().ok())
            .expect("the upstream's port");
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        listener.set_nonblocking(true).expect("non-blocking");
        let port = listener.local_addr().expect("local address").port();
        let stop = Arc::new(AtomicBool::new(false));
        let hang = Arc::new(AtomicBool::new(faults.hang));
        let counts = Arc::new(Counts::default());
        let rng = Arc::new(Mutex::new(Rng(faults.seed.wrapping_mul(2) | 1)));
        let (stop2, counts2, hang2) = (stop.clone(), counts.clone(), hang.clone());
        std::thread::spawn(move || {
            while !stop2.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((client, _)) => {
                        let _ = client.set_nonblocking(false);
                        let (faults, counts, rng) = (faults.clone(), counts2.clone(), rng.clone());
                        let hang = hang2.clone();
                        std::thread::spawn(move || {
                            serve(client, upstream_port, &faults, &counts, &rng, &hang);
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Proxy {
            endpoint: format!("http://127.0.0.1:{port}"),
            counts,
            stop,
            hang,
        }
    }

    /// Hangs (forwards and never answers) from now on, or stops hanging.
    pub fn set_hang(&self, hang: bool) {
        self.hang.store(hang, Ordering::SeqCst);
    }

    /// A one-line summary of the faults injected so far.
    pub fn summary(&self) -> String {
        let c = &self.counts;
        format!(
            "{} requests: {} throttled, {} reset, {} answers dropped",
            c.requests.load(Ordering::SeqCst),
            c.throttled.load(Ordering::SeqCst),
            c.reset.load(Ordering::SeqCst),
            c.dropped.load(Ordering::SeqCst)
        )
    }
}

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn unit(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// One request as read from the client: its raw bytes and what the proxy needs of them.
struct Request {
    raw: Vec<u8>,
    head: String,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    /// The operation's name: the query `Action=` or the JSON target's last part.
    fn operation(&self) -> Option<String> {
        if let Some(target) = self.header("X-Amz-Target") {
            return target.rsplit('.').next().map(str::to_string);
        }
        let body = String::from_utf8_lossy(&self.body);
        body.split('&')
            .find_map(|kv| kv.strip_prefix("Action="))
            .map(str::to_string)
    }

    fn protocol(&self) -> Protocol {
        if self.header("X-Amz-Target").is_some() {
            return Protocol::Json;
        }
        if self.operation().is_some() {
            let service = self
                .header("Authorization")
                .and_then(|a| a.split("Credential=").nth(1))
                .and_then(|c| c.split('/').nth(3))
                .unwrap_or_default();
            return if service == "ec2" {
                Protocol::Ec2Query
            } else {
                Protocol::Query
            };
        }
        Protocol::S3
    }
}

enum Protocol {
    Ec2Query,
    Query,
    Json,
    S3,
}

/// The throttling answer of `protocol`.
fn throttling(protocol: &Protocol) -> Vec<u8> {
    let (status, content_type, body) = match protocol {
        Protocol::Ec2Query => (
            "503 Service Unavailable",
            "text/xml",
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message></Error></Errors><RequestID>gig-proxy</RequestID></Response>",
        ),
        Protocol::Query => (
            "400 Bad Request",
            "text/xml",
            "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>gig-proxy</RequestId></ErrorResponse>",
        ),
        Protocol::Json => (
            "400 Bad Request",
            "application/x-amz-json-1.1",
            "{\"__type\":\"ThrottlingException\",\"message\":\"Rate exceeded\"}",
        ),
        Protocol::S3 => (
            "503 Slow Down",
            "application/xml",
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message><RequestId>gig-proxy</RequestId></Error>",
        ),
    };
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nx-amzn-RequestId: gig-proxy\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn serve(
    mut client: TcpStream,
    upstream: u16,
    faults: &Faults,
    counts: &Counts,
    rng: &Mutex<Rng>,
    hang: &AtomicBool,
) {
    let Some(request) = read_request(&mut client) else {
        return;
    };
    counts.requests.fetch_add(1, Ordering::SeqCst);
    if hang.load(Ordering::SeqCst) {
        // The emulator acts on the request; the client waits for an answer that never
        // comes, on a connection that stays open.
        let _ = forward(&request, upstream);
        std::thread::sleep(Duration::from_secs(600));
        return;
    }
    let draw = rng.lock().map(|mut r| r.unit()).unwrap_or(1.0);
    if draw < faults.throttle {
        counts.throttled.fetch_add(1, Ordering::SeqCst);
        let _ = client.write_all(&throttling(&request.protocol()));
        return;
    }
    if draw < faults.throttle + faults.reset {
        counts.reset.fetch_add(1, Ordering::SeqCst);
        reset(client);
        return;
    }
    let is_create = request.operation().is_some_and(|op| {
        ["Create", "Run", "Allocate"]
            .iter()
            .any(|p| op.starts_with(p))
    });
    let drop_answer = draw < faults.throttle + faults.reset + faults.drop_answer
        && (is_create || !faults.drop_creates_only);
    std::thread::sleep(faults.latency);
    let Some(answer) = forward(&request, upstream) else {
        reset(client);
        return;
    };
    if drop_answer {
        counts.dropped.fetch_add(1, Ordering::SeqCst);
        reset(client);
        return;
    }
    let _ = client.write_all(&answer);
    let _ = client.shutdown(Shutdown::Write);
}

/// Closes `client` with a TCP reset (linger 0), as a broken path does.
fn reset(client: TcpStream) {
    use std::os::fd::AsRawFd;
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: setsockopt(2) on a socket this proxy owns, with a correctly sized value.
    #[allow(unsafe_code)]
    let _ = unsafe {
        libc::setsockopt(
            client.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            std::ptr::from_ref(&linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    drop(client);
}

/// Reads one request: the head, then a `Content-Length` body or a chunked body (kept
/// raw, chunk framing and all, to forward as it came).
fn read_request(client: &mut TcpStream) -> Option<Request> {
    let _ = client.set_read_timeout(Some(Duration::from_secs(30)));
    let mut raw = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    let head_end = loop {
        if let Some(i) = find(&raw, b"\r\n\r\n") {
            break i + 4;
        }
        let n = client.read(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        raw.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&raw[..head_end]).into_owned();
    let length = head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case("content-length")
            .then(|| v.trim().parse::<usize>().ok())?
    });
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    loop {
        let have = raw.len() - head_end;
        let complete = match length {
            Some(n) => have >= n,
            None if chunked => find(&raw[head_end..], b"0\r\n\r\n").is_some(),
            None => true,
        };
        if complete {
            break;
        }
        let n = client.read(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        raw.extend_from_slice(&buf[..n]);
    }
    let body = raw[head_end..].to_vec();
    Some(Request { raw, head, body })
}

/// Sends `request` to the emulator on a new connection (asking it to close after the
/// answer) and returns the whole answer.
fn forward(request: &Request, upstream: u16) -> Option<Vec<u8>> {
    let mut head = String::new();
    for (i, line) in request.head.trim_end().lines().enumerate() {
        let name = line.split(':').next().unwrap_or_default().trim();
        if i > 0 && name.eq_ignore_ascii_case("connection") {
            continue;
        }
        head.push_str(line);
        head.push_str("\r\n");
    }
    head.push_str("Connection: close\r\n\r\n");
    let body_start = request.raw.len() - request.body.len();
    let mut upstream = TcpStream::connect(("127.0.0.1", upstream)).ok()?;
    upstream.write_all(head.as_bytes()).ok()?;
    upstream.write_all(&request.raw[body_start..]).ok()?;
    let mut answer = Vec::new();
    upstream.read_to_end(&mut answer).ok()?;
    // The client is told the connection closes after this answer, as it does.
    let end = find(&answer, b"\r\n\r\n")? + 4;
    let head = String::from_utf8_lossy(&answer[..end]).into_owned();
    let mut out = String::new();
    for line in head.trim_end().lines() {
        let name = line.split(':').next().unwrap_or_default().trim();
        if !name.eq_ignore_ascii_case("connection") {
            out.push_str(line);
            out.push_str("\r\n");
        }
    }
    out.push_str("Connection: close\r\n\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(&answer[end..]);
    Some(bytes)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
