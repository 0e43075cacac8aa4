//! Running the real `gig` binary from tests: a stack directory, a state directory and an
//! environment, and the exit code and output of each command.

#![allow(dead_code)]

pub mod proxy;
pub mod trials;

use std::path::{Path, PathBuf};
use std::process::Command;

/// A stack whose generated password ends up in state and saved plans: what the
/// encryption tests search the stored bytes for.
pub const PASSWORD_STACK: &str = r#"resource random.password db {
  length = 40
}

output pw = random.password.db.result
"#;

/// [`PASSWORD_STACK`] with a second password, so that an apply writes something.
pub const PASSWORD_STACK_GROWN: &str = r#"resource random.password db {
  length = 40
}

resource random.password cache {
  length = 24
}

output pw = random.password.db.result
"#;

/// The state passphrase of the encryption tests.
pub const PASSPHRASE: &str = "amber-lantern-ferry-42";
/// A second passphrase: the wrong one, or the next one in a rotation.
pub const OTHER_PASSPHRASE: &str = "quartz-meadow-violin-7";

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repo root")
}

/// What one gig command did.
#[derive(Debug)]
pub struct Run {
    /// Exit code (-1 when killed by a signal).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Run {
    /// stdout and stderr together, for searching.
    pub fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }

    /// Panics with the whole output unless the exit code is `code`.
    #[track_caller]
    pub fn expect_code(self, code: i32) -> Run {
        assert_eq!(
            self.code, code,
            "unexpected exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

/// A gig invocation context: environment variables, and a state root shared by its runs.
pub struct Gig {
    env: Vec<(String, String)>,
    unset: Vec<String>,
    /// Root of the states (GIG_STATE_DIR).
    pub state_root: tempfile::TempDir,
    /// The user cache directory of its runs (XDG_CACHE_HOME).
    pub cache_root: tempfile::TempDir,
}

impl Gig {
    /// A context with no AWS endpoint and a fresh state root.
    pub fn new() -> Gig {
        Gig {
            env: vec![("NO_COLOR".into(), "1".into())],
            unset: Vec::new(),
            state_root: tempfile::tempdir().expect("temp dir"),
            cache_root: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// Points the AWS provider at an emulator with static test credentials.
    pub fn with_endpoint(mut self, endpoint: &str) -> Gig {
        self.env.push(("AWS_ENDPOINT_URL".into(), endpoint.into()));
        self.env
            .push(("AWS_ACCESS_KEY_ID".into(), "testing".into()));
        self.env
            .push(("AWS_SECRET_ACCESS_KEY".into(), "testing".into()));
        self.env
            .push(("AWS_EC2_METADATA_DISABLED".into(), "true".into()));
        self
    }

    /// Sets an environment variable for every run.
    pub fn env(mut self, key: &str, value: &str) -> Gig {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Removes an environment variable for every run (also one set before).
    pub fn unset(mut self, key: &str) -> Gig {
        self.env.retain(|(k, _)| k != key);
        self.unset.push(key.into());
        self
    }

    /// The state directory of `env` of the one stack that has states under this
    /// context's state root (states there are kept by the stack's place, whose name
    /// holds a hash).
    pub fn only_state_dir(&self, env: &str) -> PathBuf {
        let stacks: Vec<PathBuf> = std::fs::read_dir(self.state_root.path())
            .expect("state root")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.is_dir())
            .collect();
        assert_eq!(stacks.len(), 1, "one stack's states: {stacks:?}");
        stacks[0].join(env)
    }

    /// Runs `gig ARGS…` in `cwd`.
    pub fn run_in(&self, cwd: &Path, args: &[&str]) -> Run {
        self.run_in_with(cwd, args, &[])
    }

    /// Runs `gig ARGS…` in `cwd` with `extra` environment variables for this run only.
    pub fn run_in_with(&self, cwd: &Path, args: &[&str], extra: &[(&str, &str)]) -> Run {
        let mut cmd = self.command(cwd, args);
        cmd.envs(extra.iter().copied());
        let out = cmd.output().expect("running gig");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// The `gig ARGS…` command in `cwd` with this context's state root and environment
    /// (and none of the caller's AWS or logging settings).
    pub fn command(&self, cwd: &Path, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_gig"));
        cmd.args(args)
            .current_dir(cwd)
            .env("GIG_STATE_DIR", self.state_root.path())
            .env("XDG_CACHE_HOME", self.cache_root.path());
        for k in [
            "AWS_ENDPOINT_URL",
            "AWS_PROFILE",
            "AWS_REGION",
            "AWS_DEFAULT_REGION",
            "GIG_LOG",
            "GIG_STATE_PASSPHRASE",
            "GIG_STATE_PASSPHRASE_FALLBACK",
            "GIG_STATE_KMS_KEY_ID",
        ] {
            cmd.env_remove(k);
        }
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        for k in &self.unset {
            cmd.env_remove(k);
        }
        cmd
    }

    /// Runs `gig ARGS…` in the repository root.
    pub fn run(&self, args: &[&str]) -> Run {
        self.run_in(&repo(), args)
    }
}

/// Writes `files` (name, text) into a new temporary stack directory.
pub fn stack(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("stack")
        .tempdir()
        .expect("temp dir");
    for (name, text) in files {
        let path = dir.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("stack subdir");
        }
        std::fs::write(path, text).expect("writing stack file");
    }
    dir
}

/// One HTTP request to the emulator on `endpoint` (`http://127.0.0.1:PORT`). JSON-protocol
/// AWS calls pass `target` (X-Amz-Target); the emulator accepts any signature. Returns the
/// response body.
pub fn emulator_request(
    endpoint: &str,
    path: &str,
    service: &str,
    target: Option<&str>,
    body: &str,
) -> String {
    emulator_request_in(endpoint, "us-east-1", path, service, target, body)
}

/// [`emulator_request`] signed for `region` (the emulator keeps one world per region).
pub fn emulator_request_in(
    endpoint: &str,
    region: &str,
    path: &str,
    service: &str,
    target: Option<&str>,
    body: &str,
) -> String {
    use std::io::{Read, Write};
    let port: u16 = endpoint
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port");
    let target = target
        .map(|t| format!("X-Amz-Target: {t}\r\n"))
        .unwrap_or_default();
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{target}Content-Type: application/x-amz-json-1.1\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=testing/20260101/{region}/{service}/aws4_request, SignedHeaders=host, Signature=0\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect to the emulator");
    s.write_all(req.as_bytes()).expect("send");
    let mut resp = String::new();
    s.read_to_string(&mut resp).expect("read");
    let (head, body) = resp.split_once("\r\n\r\n").expect("HTTP response");
    assert!(
        head.split_whitespace()
            .nth(1)
            .is_some_and(|c| c.starts_with('2')),
        "{path}: {head}"
    );
    body.to_string()
}

impl Gig {
    /// Runs `gig ARGS…` in the repository root with every log at debug level, and
    /// returns stdout and stderr (logs included) together.
    pub fn run_logged(&self, args: &[&str]) -> String {
        let run = self
            .command(&repo(), args)
            .env("GIG_LOG", "debug")
            .output()
            .expect("running gig");
        format!(
            "{}\n{}",
            String::from_utf8_lossy(&run.stdout),
            String::from_utf8_lossy(&run.stderr)
        )
    }
}

/// Every object the emulator holds in `region` whose tags match `filters` (a
/// `TagFilters` JSON array), as (ARN, gig:address) pairs. The answer comes in pages of at
/// most 100; every page is read.
pub fn tagged_objects(endpoint: &str, region: &str, filters: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut token = String::new();
    loop {
        let body = format!(
            r#"{{"TagFilters":{filters},"ResourcesPerPage":100,"PaginationToken":{}}}"#,
            serde_json::Value::String(token.clone())
        );
        let text = emulator_request_in(
            endpoint,
            region,
            "/",
            "tagging",
            Some("ResourceGroupsTaggingAPI_20170126.GetResources"),
            &body,
        );
        let v: serde_json::Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
        out.extend(
            v["ResourceTagMappingList"]
                .as_array()
                .expect("mappings")
                .iter()
                .filter_map(|m| {
                    let arn = m["ResourceARN"].as_str()?.to_string();
                    let address = m["Tags"]
                        .as_array()?
                        .iter()
                        .find(|t| t["Key"] == "gig:address")?["Value"]
                        .as_str()?
                        .to_string();
                    Some((arn, address))
                }),
        );
        match v["PaginationToken"].as_str() {
            Some(next) if !next.is_empty() => token = next.to_string(),
            _ => return out,
        }
    }
}
