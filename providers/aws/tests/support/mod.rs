//! The AWS emulator harness shared by every AWS provider test (`mod support;`).
//!
//! One moto server runs per test binary, started on first use on a free loopback port
//! and stopped when the binary exits. It is started through a small `sh` wrapper whose
//! standard input is a pipe held by this process: when the test binary exits (normally,
//! by panic or by SIGKILL) the kernel closes the pipe, the wrapper's `cat` sees end of
//! file and the wrapper kills the server — no server outlives its tests.
//!
//! **Isolation:** tests in one binary run on parallel threads, but moto is one shared,
//! non-thread-safe state. [`Emu::start`] therefore takes a process-wide async lock and
//! resets the emulator (`POST /moto-api/reset`, about 0.2 s) before handing it over; the
//! lock is held until the [`Emu`] is dropped. Tests in one binary so run one after the
//! other against a fresh emulator, and concurrency *within* a test (the retry tests) is
//! still real. Different test binaries have different servers.
//!
//! The server is found at `$GIG_MOTO_SERVER`, else at `<repo>/.venv/bin/moto_server`
//! (installed by `scripts/moto-setup`). A missing server fails the test with a message
//! saying so; nothing is skipped.
//!
//! Credentials are static test keys given through [`AwsSettings::static_credentials`],
//! so the process environment is never changed.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use gig_core::value::Value;
use gig_provider::{
    AttrType, OpContext, Provider, ProviderFactory, ReadRequest, ResourceSchema, UpdateRequest,
};
use gig_provider_aws::{
    AwsFactory, AwsProvider, AwsSettings, CallRecorder, Clients, StaticCredentials, Timeouts,
};

/// The region every test uses.
pub const REGION: &str = "us-east-1";

/// A moto server process for this test binary.
struct Server {
    endpoint: String,
    port: u16,
    log: PathBuf,
    // Held only so the pipe stays open while the process lives; see the module docs.
    _stdin: Mutex<ChildStdin>,
    _child: Mutex<Child>,
}

static SERVER: OnceLock<Server> = OnceLock::new();
static LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn moto_path() -> PathBuf {
    match std::env::var_os("GIG_MOTO_SERVER") {
        Some(p) => PathBuf::from(p),
        None => repo_root().join(".venv/bin/moto_server"),
    }
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("binding a free loopback port");
    listener
        .local_addr()
        .expect("local address of the probe socket")
        .port()
}

fn server() -> &'static Server {
    SERVER.get_or_init(|| {
        let moto = moto_path();
        assert!(
            moto.exists(),
            "moto_server not found at {} — run scripts/moto-setup (or set GIG_MOTO_SERVER) \
             to install the AWS emulator the AWS provider tests need",
            moto.display()
        );
        let port = free_port();
        let log = std::env::temp_dir().join(format!("gig-moto-{}-{port}.log", std::process::id()));
        let script = r#"moto="$1"; port="$2"; log="$3"
"$moto" -H 127.0.0.1 -p "$port" >"$log" 2>&1 </dev/null &
pid=$!
cat >/dev/null
kill "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
exit 0"#;
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg("gig-moto")
            .arg(&moto)
            .arg(port.to_string())
            .arg(&log)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting the moto wrapper shell");
        let stdin = child.stdin.take().expect("wrapper stdin is piped");
        let started = Instant::now();
        loop {
            if http_post(port, "/moto-api/reset").is_ok() {
                break;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("moto_server exited early ({status}); see {}", log.display());
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "moto_server did not answer on port {port} within 60 s; see {}",
                log.display()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Server {
            endpoint: format!("http://127.0.0.1:{port}"),
            port,
            log,
            _stdin: Mutex::new(stdin),
            _child: Mutex::new(child),
        }
    })
}

/// A minimal HTTP/1.1 POST with an empty body; returns the status line on 2xx.
fn http_post(port: u16, path: &str) -> Result<String, String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    stream
        .write_all(req.as_bytes())
        .map_err(|e| e.to_string())?;
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .map_err(|e| e.to_string())?;
    let status = response.lines().next().unwrap_or_default().to_string();
    if status
        .split_whitespace()
        .nth(1)
        .is_some_and(|c| c.starts_with('2'))
    {
        Ok(status)
    } else {
        Err(status)
    }
}

/// Exclusive use of a freshly reset emulator for one test, with a provider bound to it.
pub struct Emu {
    _lock: tokio::sync::MutexGuard<'static, ()>,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    /// The region the provider uses.
    pub region: String,
    recorder: CallRecorder,
    provider: Arc<AwsProvider>,
}

impl Emu {
    /// Starts the server if needed, waits for exclusive use, resets it and builds a
    /// provider whose calls are recorded.
    pub async fn start() -> Emu {
        let server = server();
        let lock = LOCK.lock().await;
        let port = server.port;
        let reset = tokio::task::spawn_blocking(move || http_post(port, "/moto-api/reset"))
            .await
            .expect("reset task");
        if let Err(status) = reset {
            panic!(
                "resetting moto failed: {status}; see {}",
                server.log.display()
            );
        }
        let recorder = CallRecorder::new();
        let provider = Arc::new(
            AwsFactory::new().provider(Emu::settings_for(&server.endpoint, Some(recorder.clone()))),
        );
        Emu {
            _lock: lock,
            endpoint: server.endpoint.clone(),
            region: REGION.to_string(),
            recorder,
            provider,
        }
    }

    fn settings_for(endpoint: &str, recorder: Option<CallRecorder>) -> AwsSettings {
        AwsSettings {
            region: Some(REGION.to_string()),
            endpoint: Some(endpoint.to_string()),
            profile: None,
            max_attempts: 5,
            adaptive_retry: false,
            timeouts: Timeouts::default(),
            static_credentials: Some(StaticCredentials {
                access_key_id: "testing".to_string(),
                secret_access_key: "testing".to_string(),
            }),
            recorder,
        }
    }

    /// Settings pointing at the emulator, without a recorder.
    pub fn settings(&self) -> AwsSettings {
        Emu::settings_for(&self.endpoint, None)
    }

    /// The provider under test (its calls are recorded).
    pub fn provider(&self) -> Arc<dyn Provider> {
        self.provider.clone()
    }

    /// The provider as its concrete type.
    pub fn aws(&self) -> Arc<AwsProvider> {
        self.provider.clone()
    }

    /// The provider's call recorder.
    pub fn recorder(&self) -> &CallRecorder {
        &self.recorder
    }

    /// Raw SDK clients for out-of-band checks and setup; their calls are NOT recorded.
    pub async fn clients(&self) -> Clients {
        Clients::load(&self.settings()).await
    }

    /// A provider configured through the public factory path from a `provider aws { … }`
    /// settings value (endpoint, region), as the CLI would build it. Credentials then
    /// come from the environment chain, so only use it for calls that need none.
    pub async fn configured_from_value(settings: &Value) -> Arc<dyn Provider> {
        AwsFactory::new()
            .configure(settings)
            .await
            .expect("configure")
    }

    /// An operation context for `address`.
    pub fn ctx(&self, address: &str) -> OpContext {
        ctx(address)
    }

    /// Creates through the provider, panicking with the error on failure.
    pub async fn create(&self, rtype: &str, planned: &Value) -> Value {
        let ctx = ctx(&format!("{rtype}.test"));
        match self.provider.create(&ctx, rtype, planned).await {
            Ok(v) => v,
            Err(e) => panic!("create {rtype} failed: {e:?}"),
        }
    }

    /// Reads one object back (`None` when gone).
    pub async fn read(&self, rtype: &str, value: &Value) -> Option<Value> {
        let id = id(value);
        let req = ReadRequest {
            address: format!("{rtype}.test"),
            id,
            prior: value.clone(),
        };
        let mut out = self.provider.read(rtype, &[req]).await.expect("read");
        assert_eq!(out.len(), 1, "read answers one entry per request");
        out.pop().expect("one entry").expect("read entry")
    }

    /// Reads `id` as `gig import` does, with no Prior value (`None` when absent).
    pub async fn import(&self, rtype: &str, id: &str) -> Option<Value> {
        let req = ReadRequest {
            address: format!("{rtype}.imported"),
            id: id.to_string(),
            prior: Value::Null,
        };
        let mut out = self
            .provider
            .read(rtype, &[req])
            .await
            .expect("import read");
        out.pop().expect("one entry").expect("read entry")
    }

    /// Updates in place from `prior` to `planned` (changed attributes computed here).
    pub async fn update(&self, rtype: &str, prior: &Value, planned: &Value) -> Value {
        let changed = changed(prior, planned);
        let ctx = ctx(&format!("{rtype}.test"));
        let id = id(prior);
        let req = UpdateRequest {
            id: &id,
            prior,
            planned,
            changed: &changed,
        };
        match self.provider.update(&ctx, rtype, req).await {
            Ok(v) => v,
            Err(e) => panic!("update {rtype} ({changed:?}) failed: {e:?}"),
        }
    }

    /// Deletes through the provider, panicking on failure.
    pub async fn delete(&self, rtype: &str, value: &Value) {
        let ctx = ctx(&format!("{rtype}.test"));
        if let Err(e) = self.provider.delete(&ctx, rtype, &id(value), value).await {
            panic!("delete {rtype} failed: {e:?}");
        }
    }
}

/// An operation context for `address` in stack `test`, env `default`.
pub fn ctx(address: &str) -> OpContext {
    OpContext {
        address: address.to_string(),
        stack: "test".to_string(),
        env: "default".to_string(),
        ..OpContext::default()
    }
}

/// A value from JSON, e.g. `val(json!({"cidr_block": "10.0.0.0/16"}))`.
pub fn val(j: serde_json::Value) -> Value {
    Value::from_json(&j)
}

/// `v` with the top-level attributes of `changes` set (added or replaced).
pub fn with(v: &Value, changes: serde_json::Value) -> Value {
    let mut m = v.as_map().cloned().unwrap_or_default();
    m.extend(val(changes).as_map().cloned().unwrap_or_default());
    Value::Map(m)
}

/// Fails unless `docs/resources/<page>.md` is the page rendered from the schema, where
/// `page` is a resource type (`aws.vpc`) or `data.` and a data source (`data.aws.ami`);
/// `UPDATE_EXPECT=1` rewrites the file instead.
pub fn assert_doc_page_up_to_date(page: &str) {
    let file = format!("{page}.md");
    let pages = gig_provider::docs::pages(AwsFactory::new().schema());
    let Some(want) = pages.get(&file) else {
        panic!("no type of the AWS provider has a page {file}");
    };
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../docs/resources")
        .join(&file);
    expect_test::expect_file![path].assert_eq(want);
}

/// The Planned value of `rtype` for `desired` (schema defaults filled in) with the `id`
/// of the object already created, as the engine passes it to update.
pub fn planned_for(rtype: &str, desired: serde_json::Value, id: &Value) -> Value {
    let mut m = with_defaults(rtype, &val(desired))
        .as_map()
        .cloned()
        .unwrap_or_default();
    m.insert("id".into(), id.clone());
    Value::Map(m)
}

/// The rules AWS lists for security group `group`, read with the raw SDK client.
pub async fn group_rules(emu: &Emu, group: &str) -> Vec<aws_sdk_ec2::types::SecurityGroupRule> {
    let raw = emu.clients().await;
    let out = raw
        .ec2
        .describe_security_group_rules()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("group-id")
                .values(group)
                .build(),
        )
        .send()
        .await
        .expect("DescribeSecurityGroupRules");
    out.security_group_rules().to_vec()
}

/// Creates an `aws.vpc` with `cidr` and returns its New value.
pub async fn vpc(emu: &Emu, cidr: &str) -> Value {
    emu.create(
        "aws.vpc",
        &with_defaults("aws.vpc", &val(serde_json::json!({ "cidr_block": cidr }))),
    )
    .await
}

/// Read requests for the objects in `made` (address `x`) followed by one for an id that
/// does not exist (address `y`), as the engine sends them on refresh.
pub fn read_requests_with_one_gone(made: &[Value]) -> Vec<ReadRequest> {
    let mut requests: Vec<ReadRequest> = made
        .iter()
        .map(|v| ReadRequest {
            address: "x".into(),
            id: id(v),
            prior: v.clone(),
        })
        .collect();
    requests.push(ReadRequest {
        address: "y".into(),
        id: "gone".into(),
        prior: Value::Null,
    });
    requests
}

/// Creates a load balancer named `name` over every default subnet straight through the
/// SDK (not through gig) and returns its ARN.
pub async fn raw_load_balancer(emu: &Emu, name: &str) -> String {
    let raw = emu.clients().await;
    let subnets = raw.ec2.describe_subnets().send().await.unwrap();
    let ids: Vec<String> = subnets
        .subnets()
        .iter()
        .filter_map(|s| s.subnet_id().map(str::to_string))
        .collect();
    let lb = raw
        .elbv2
        .create_load_balancer()
        .name(name)
        .set_subnets(Some(ids))
        .send()
        .await
        .unwrap();
    lb.load_balancers()[0]
        .load_balancer_arn()
        .unwrap()
        .to_string()
}

/// The `id` of a value.
pub fn id(v: &Value) -> String {
    v.get("id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// A string attribute of a value (panics with the name when absent).
pub fn s(v: &Value, name: &str) -> String {
    match v.get(name).and_then(Value::as_str) {
        Some(x) => x.to_string(),
        None => panic!("attribute {name} is not a string in {}", v.display()),
    }
}

/// An attribute of a value (null when absent).
pub fn a(v: &Value, name: &str) -> Value {
    v.get(name).cloned().unwrap_or(Value::Null)
}

/// The top-level attributes whose values differ between two maps.
pub fn changed(prior: &Value, planned: &Value) -> Vec<String> {
    let empty = BTreeMap::new();
    let a = prior.as_map().unwrap_or(&empty);
    let b = planned.as_map().unwrap_or(&empty);
    let mut keys: Vec<String> = a.keys().chain(b.keys()).cloned().collect();
    keys.sort();
    keys.dedup();
    keys.into_iter().filter(|k| a.get(k) != b.get(k)).collect()
}

/// The schema of a resource type (`data == false`) or data source.
pub fn schema(rtype: &str, data: bool) -> ResourceSchema {
    let factory = AwsFactory::new();
    let s = factory.schema();
    let m = if data { &s.data_sources } else { &s.resources };
    m.get(rtype)
        .cloned()
        .unwrap_or_else(|| panic!("no schema for {rtype}"))
}

/// `desired` with the schema's defaults filled in for unset attributes — what the
/// engine plans for a fresh create.
pub fn with_defaults(rtype: &str, desired: &Value) -> Value {
    let schema = schema(rtype, false);
    let mut m = desired.as_map().cloned().unwrap_or_default();
    for (name, attr) in &schema.attributes {
        match m.get_mut(name) {
            Some(v) if !v.is_null() => fill_nested_defaults(v, &attr.ty),
            _ => {
                if let Some(d) = &attr.default {
                    m.insert(name.clone(), d.clone());
                }
            }
        }
    }
    Value::Map(m)
}

/// Fills schema defaults of unset attributes inside nested blocks, as the planner does.
pub fn fill_nested_defaults(value: &mut Value, ty: &AttrType) {
    match (value, ty) {
        (Value::List(xs), AttrType::List(inner) | AttrType::Set(inner)) => {
            xs.iter_mut().for_each(|x| fill_nested_defaults(x, inner));
        }
        (Value::Map(m), AttrType::Map(inner)) => {
            m.values_mut().for_each(|x| fill_nested_defaults(x, inner))
        }
        (Value::Map(m), AttrType::Object(attrs)) => {
            for (k, a) in attrs {
                match m.get_mut(k) {
                    Some(v) if !v.is_null() => fill_nested_defaults(v, &a.ty),
                    _ => {
                        if let Some(d) = &a.default {
                            m.insert(k.clone(), d.clone());
                        }
                    }
                }
            }
        }
        _ => {}
    }
}

/// Asserts that a fresh apply would plan clean: for every settable attribute, the value
/// read back equals the desired one, or the schema default when unset; unset attributes
/// without a default must read back as null (or empty) unless they are also computed.
/// Comparison follows [`same`]. Returns the attributes compared.
pub fn assert_plans_clean(rtype: &str, desired: &Value, read: &Value) -> Vec<String> {
    let schema = schema(rtype, false);
    let mut compared = Vec::new();
    for (name, attr) in &schema.attributes {
        if !attr.settable() {
            continue;
        }
        let want = match desired.get(name).filter(|v| !v.is_null()) {
            Some(v) => {
                let mut v = v.clone();
                fill_nested_defaults(&mut v, &attr.ty);
                v
            }
            None => match &attr.default {
                Some(d) => d.clone(),
                None if attr.computed => continue,
                None => Value::Null,
            },
        };
        let got = read.get(name).cloned().unwrap_or(Value::Null);
        assert!(
            same(&attr.ty, &got, &want),
            "{rtype}.{name}: desired {} but read back {}",
            want.display(),
            got.display()
        );
        compared.push(name.clone());
    }
    compared
}

/// Compares two values of type `ty` the way the planner does: null, absent and empty
/// collections are equal; sets (at any depth) compare without regard to order; a nested
/// computed attribute that `b` (the desired side) leaves unset never differs.
pub fn same(ty: &AttrType, a: &Value, b: &Value) -> bool {
    let absent = |v: &Value| match v.reveal() {
        Value::Null => true,
        Value::List(xs) => xs.is_empty(),
        Value::Map(m) => m.is_empty(),
        _ => false,
    };
    if absent(a) && absent(b) {
        return true;
    }
    match (ty, a.reveal(), b.reveal()) {
        (AttrType::Set(inner), Value::List(xs), Value::List(ys)) => {
            let mut used = vec![false; ys.len()];
            xs.len() == ys.len()
                && xs.iter().all(|x| {
                    match ys
                        .iter()
                        .enumerate()
                        .find(|(i, y)| !used[*i] && same(inner, x, y))
                    {
                        Some((i, _)) => {
                            used[i] = true;
                            true
                        }
                        None => false,
                    }
                })
        }
        (AttrType::List(inner), Value::List(xs), Value::List(ys)) => {
            xs.len() == ys.len() && xs.iter().zip(ys).all(|(x, y)| same(inner, x, y))
        }
        (AttrType::Object(attrs), Value::Map(x), Value::Map(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            keys.into_iter().all(|k| {
                let xv = x.get(k).unwrap_or(&Value::Null);
                let yv = y.get(k).unwrap_or(&Value::Null);
                match attrs.get(k) {
                    Some(a) if a.computed && yv.is_null() => true,
                    Some(a) => same(&a.ty, xv, yv),
                    None => xv == yv,
                }
            })
        }
        (AttrType::Map(inner), Value::Map(x), Value::Map(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            keys.into_iter().all(|k| {
                same(
                    inner,
                    x.get(k).unwrap_or(&Value::Null),
                    y.get(k).unwrap_or(&Value::Null),
                )
            })
        }
        (_, x, y) => x == y,
    }
}

/// Counts the calls of `operation` recorded since the recorder was last cleared.
pub fn calls(emu: &Emu, operation: &str) -> usize {
    emu.recorder().count(operation)
}
