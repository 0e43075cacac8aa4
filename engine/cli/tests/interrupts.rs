//! Interrupts and hung endpoints, through the real binary: a hung AWS endpoint fails in
//! bounded time with an error naming the resource and the endpoint; SIGTERM behaves like
//! the first Ctrl-C (start nothing new, wait for calls in flight); a second interrupt stops
//! waiting at once and names the calls that were in flight.

mod common;

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{stack, Gig};

/// A loopback server that accepts connections and never answers, for `life`.
fn hung_endpoint(life: Duration) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    listener.set_nonblocking(true).expect("non-blocking");
    let port = listener.local_addr().expect("local address").port();
    std::thread::spawn(move || {
        let deadline = Instant::now() + life;
        let mut held = Vec::new();
        while Instant::now() < deadline {
            match listener.accept() {
                Ok((socket, _)) => held.push(socket),
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    });
    port
}

fn vpc_stack(port: u16, read_timeout: &str) -> tempfile::TempDir {
    stack(&[(
        "main.gig",
        &format!(
            r#"provider aws {{
  region            = "us-east-1"
  endpoint          = "http://127.0.0.1:{port}"
  read_timeout      = "{read_timeout}"
  operation_timeout = "{read_timeout}"
  max_attempts      = 1
}}

resource aws.vpc main {{
  cidr_block = "10.0.0.0/16"
}}
"#
        ),
    )])
}

fn gig() -> Gig {
    Gig::new()
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
}

#[test]
fn a_hung_endpoint_fails_in_bounded_time_naming_the_resource_and_the_endpoint() {
    let port = hung_endpoint(Duration::from_secs(120));
    let dir = vpc_stack(port, "1s");
    let started = Instant::now();
    let run = gig()
        .run_in(dir.path(), &["apply", ".", "--auto-approve"])
        .expect_code(1);
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(90),
        "gig gave up on the hung endpoint after {took:?}"
    );
    assert!(run.stderr.contains("gig::E0401"), "{}", run.stderr);
    assert!(run.stderr.contains("aws.vpc.main"), "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!("127.0.0.1:{port}")),
        "names the endpoint: {}",
        run.stderr
    );
}

/// Sends `signal` to the process `pid`.
fn send(pid: u32, signal: libc::c_int) {
    let pid = libc::pid_t::try_from(pid).expect("pid fits");
    // SAFETY: kill(2) on a child this test started; no memory is shared.
    #[allow(unsafe_code)]
    let rc = unsafe { libc::kill(pid, signal) };
    assert_eq!(rc, 0, "kill({pid}, {signal})");
}

#[test]
fn sigterm_waits_for_calls_in_flight_and_a_second_interrupt_stops_at_once() {
    let port = hung_endpoint(Duration::from_secs(120));
    let dir = vpc_stack(port, "100s");
    let gig = gig();
    let mut child = gig
        .command(dir.path(), &["apply", ".", "--auto-approve"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start gig apply");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    let creating = lines
        .by_ref()
        .map_while(Result::ok)
        .any(|l| l.contains("aws.vpc.main: creating"));
    assert!(creating, "the create started");

    send(child.id(), libc::SIGTERM);
    std::thread::sleep(Duration::from_millis(1500));
    if let Some(status) = child.try_wait().expect("try_wait") {
        let mut stderr = String::new();
        let _ =
            std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut stderr);
        panic!(
            "after SIGTERM gig waits for the call in flight, but it exited ({status}): {stderr}"
        );
    }

    let interrupted = Instant::now();
    send(child.id(), libc::SIGINT);
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "gig did not stop after a second interrupt"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let stopped_after = interrupted.elapsed();
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut stderr)
        .expect("read stderr");
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(
        stopped_after < Duration::from_secs(5),
        "stopped {stopped_after:?} after the second interrupt"
    );
    assert!(stderr.contains("SIGTERM received"), "{stderr}");
    assert!(
        stderr.contains("received again") && stderr.contains("aws.vpc.main"),
        "names the call in flight: {stderr}"
    );
    // The create that never answered is on record as an interrupted create, for the
    // next plan to look up.
    let list = gig
        .run_in(dir.path(), &["state", "list", "."])
        .expect_code(0);
    assert!(
        list.stdout
            .lines()
            .any(|l| l.starts_with("aws.vpc.main\t(id not known)\tinterrupted create")),
        "{}",
        list.stdout
    );
}
