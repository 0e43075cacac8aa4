//! The standard library: every function a `.gig` expression can call.
//!
//! Each function is described by a [`FnSpec`] in [`FUNCTIONS`] (name, arity, signature
//! and whether it looks inside partially known arguments). [`call`] applies the shared
//! rules before dispatching:
//!
//! * *Strict* functions (most of them) return [`Value::Unknown`] when any argument holds
//!   an unknown anywhere inside, and see their arguments with every secret wrapper
//!   removed; when any argument held a secret, the result is wrapped secret.
//! * *Structural* functions (`length`, `concat`, `merge`, `keys`, `values`, `lookup`,
//!   `element`, `coalesce`) only need their arguments' outer shape: they return unknown
//!   only when an argument itself is unknown, keep unknown or secret elements in place,
//!   and wrap the result secret only when an argument is secret as a whole.
//!
//! Errors are coded diagnostics: E0120 unknown function, E0121 wrong number of
//! arguments, E0122 wrong argument type, E0123 invalid argument value, E0124 `file()`
//! could not read its file. A detail never shows an argument's value when any argument
//! is secret.

// Diagnostics are large but only travel on the error path, which is rare and cold.
#![allow(clippy::result_large_err)]

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use ipnet::IpNet;

use gig_core::diag::{suggest, Code, Diagnostic};
use gig_core::span::Span;
use gig_core::value::Value;

/// The largest file `file()` reads.
pub const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// The longest list `range()` builds.
pub const MAX_RANGE_LEN: usize = 100_000;

/// What a function call may need from its surroundings.
#[derive(Clone, Copy, Debug, Default)]
pub struct CallContext<'a> {
    /// The directory `file()` paths are relative to (the declaring module's directory);
    /// `None` when there is none (in-memory sources), which makes `file()` an error.
    pub dir: Option<&'a Path>,
}

mod more;

type FnImpl = fn(&Args<'_>) -> Result<Value, Diagnostic>;

/// One standard-library function.
#[derive(Clone, Copy)]
pub struct FnSpec {
    /// The name it is called by.
    pub name: &'static str,
    /// Fewest arguments.
    pub min_args: usize,
    /// Most arguments; `None` for variadic functions.
    pub max_args: Option<usize>,
    /// Signature as shown in help and docs.
    pub signature: &'static str,
    /// Whether the function sees partially unknown / secret arguments (structural).
    pub structural: bool,
    imp: FnImpl,
}

impl std::fmt::Debug for FnSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FnSpec")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

const fn spec(
    name: &'static str,
    min_args: usize,
    max_args: Option<usize>,
    signature: &'static str,
    structural: bool,
    imp: FnImpl,
) -> FnSpec {
    FnSpec {
        name,
        min_args,
        max_args,
        signature,
        structural,
        imp,
    }
}

/// Every function, sorted by name.
pub const FUNCTIONS: &[FnSpec] = &[
    spec("abs", 1, Some(1), "abs(number)", false, f_abs),
    spec(
        "alltrue",
        1,
        Some(1),
        "alltrue(list)",
        false,
        more::f_alltrue,
    ),
    spec(
        "anytrue",
        1,
        Some(1),
        "anytrue(list)",
        false,
        more::f_anytrue,
    ),
    spec(
        "base64decode",
        1,
        Some(1),
        "base64decode(string)",
        false,
        f_base64decode,
    ),
    spec(
        "base64encode",
        1,
        Some(1),
        "base64encode(string)",
        false,
        f_base64encode,
    ),
    spec(
        "base64sha256",
        1,
        Some(1),
        "base64sha256(string)",
        false,
        more::f_base64sha256,
    ),
    spec("can", 1, Some(1), "can(expression)", true, more::f_can),
    spec("ceil", 1, Some(1), "ceil(number)", false, f_ceil),
    spec("chomp", 1, Some(1), "chomp(string)", false, more::f_chomp),
    spec(
        "chunklist",
        2,
        Some(2),
        "chunklist(list, size)",
        false,
        more::f_chunklist,
    ),
    spec(
        "cidrhost",
        2,
        Some(2),
        "cidrhost(prefix, hostnum)",
        false,
        f_cidrhost,
    ),
    spec(
        "cidrnetmask",
        1,
        Some(1),
        "cidrnetmask(prefix)",
        false,
        more::f_cidrnetmask,
    ),
    spec(
        "cidrsubnet",
        3,
        Some(3),
        "cidrsubnet(prefix, newbits, netnum)",
        false,
        f_cidrsubnet,
    ),
    spec(
        "cidrsubnets",
        2,
        None,
        "cidrsubnets(prefix, newbits, …)",
        false,
        more::f_cidrsubnets,
    ),
    spec("coalesce", 1, None, "coalesce(value, …)", true, f_coalesce),
    spec(
        "coalescelist",
        1,
        None,
        "coalescelist(list, …)",
        true,
        more::f_coalescelist,
    ),
    spec("compact", 1, Some(1), "compact(list)", false, f_compact),
    spec("concat", 1, None, "concat(list, …)", true, f_concat),
    spec(
        "contains",
        2,
        Some(2),
        "contains(list, value)",
        false,
        f_contains,
    ),
    spec("distinct", 1, Some(1), "distinct(list)", false, f_distinct),
    spec(
        "element",
        2,
        Some(2),
        "element(list, index)",
        true,
        f_element,
    ),
    spec(
        "endswith",
        2,
        Some(2),
        "endswith(string, suffix)",
        false,
        f_endswith,
    ),
    spec("file", 1, Some(1), "file(path)", false, f_file),
    spec("flatten", 1, Some(1), "flatten(list)", false, f_flatten),
    spec("floor", 1, Some(1), "floor(number)", false, f_floor),
    spec("format", 1, None, "format(spec, value, …)", false, f_format),
    spec(
        "formatlist",
        2,
        None,
        "formatlist(spec, value, …)",
        false,
        more::f_formatlist,
    ),
    spec(
        "indent",
        2,
        Some(2),
        "indent(spaces, string)",
        false,
        more::f_indent,
    ),
    spec(
        "index",
        2,
        Some(2),
        "index(list, value)",
        false,
        more::f_index,
    ),
    spec("join", 2, Some(2), "join(separator, list)", false, f_join),
    spec(
        "jsondecode",
        1,
        Some(1),
        "jsondecode(string)",
        false,
        f_jsondecode,
    ),
    spec(
        "jsonencode",
        1,
        Some(1),
        "jsonencode(value)",
        false,
        f_jsonencode,
    ),
    spec("keys", 1, Some(1), "keys(map)", true, f_keys),
    spec(
        "length",
        1,
        Some(1),
        "length(string | list | map)",
        true,
        f_length,
    ),
    spec("log", 2, Some(2), "log(number, base)", false, more::f_log),
    spec(
        "lookup",
        2,
        Some(3),
        "lookup(map, key[, default])",
        true,
        f_lookup,
    ),
    spec("lower", 1, Some(1), "lower(string)", false, f_lower),
    spec(
        "matchkeys",
        3,
        Some(3),
        "matchkeys(values, keys, search)",
        false,
        more::f_matchkeys,
    ),
    spec("max", 1, None, "max(number, …)", false, f_max),
    spec("md5", 1, Some(1), "md5(string)", false, more::f_md5),
    spec("merge", 1, None, "merge(map, …)", true, f_merge),
    spec("min", 1, None, "min(number, …)", false, f_min),
    spec("one", 1, Some(1), "one(list)", false, more::f_one),
    spec(
        "parseint",
        2,
        Some(2),
        "parseint(string, base)",
        false,
        more::f_parseint,
    ),
    spec("pow", 2, Some(2), "pow(number, power)", false, more::f_pow),
    spec(
        "range",
        1,
        Some(3),
        "range([start,] limit[, step])",
        false,
        f_range,
    ),
    spec(
        "regex",
        2,
        Some(2),
        "regex(pattern, string)",
        false,
        more::f_regex,
    ),
    spec(
        "regexall",
        2,
        Some(2),
        "regexall(pattern, string)",
        false,
        more::f_regexall,
    ),
    spec(
        "replace",
        3,
        Some(3),
        "replace(string, search, replacement)",
        false,
        f_replace,
    ),
    spec(
        "reverse",
        1,
        Some(1),
        "reverse(list)",
        false,
        more::f_reverse,
    ),
    spec(
        "setintersection",
        1,
        None,
        "setintersection(list, …)",
        false,
        more::f_setintersection,
    ),
    spec(
        "setproduct",
        1,
        None,
        "setproduct(list, …)",
        false,
        more::f_setproduct,
    ),
    spec(
        "setsubtract",
        2,
        Some(2),
        "setsubtract(list, list)",
        false,
        more::f_setsubtract,
    ),
    spec(
        "setunion",
        1,
        None,
        "setunion(list, …)",
        false,
        more::f_setunion,
    ),
    spec("sha1", 1, Some(1), "sha1(string)", false, more::f_sha1),
    spec("sha256", 1, Some(1), "sha256(string)", false, f_sha256),
    spec(
        "sha512",
        1,
        Some(1),
        "sha512(string)",
        false,
        more::f_sha512,
    ),
    spec(
        "signum",
        1,
        Some(1),
        "signum(number)",
        false,
        more::f_signum,
    ),
    spec(
        "slice",
        3,
        Some(3),
        "slice(list, start, end)",
        false,
        f_slice,
    ),
    spec("sort", 1, Some(1), "sort(list)", false, more::f_sort),
    spec(
        "split",
        2,
        Some(2),
        "split(separator, string)",
        false,
        f_split,
    ),
    spec(
        "startswith",
        2,
        Some(2),
        "startswith(string, prefix)",
        false,
        f_startswith,
    ),
    spec(
        "strcontains",
        2,
        Some(2),
        "strcontains(string, substring)",
        false,
        more::f_strcontains,
    ),
    spec(
        "strrev",
        1,
        Some(1),
        "strrev(string)",
        false,
        more::f_strrev,
    ),
    spec(
        "substr",
        3,
        Some(3),
        "substr(string, offset, length)",
        false,
        f_substr,
    ),
    spec("sum", 1, Some(1), "sum(list)", false, more::f_sum),
    spec(
        "templatefile",
        2,
        Some(2),
        "templatefile(path, vars)",
        false,
        f_templatefile,
    ),
    spec("title", 1, Some(1), "title(string)", false, more::f_title),
    spec("tobool", 1, Some(1), "tobool(value)", false, more::f_tobool),
    spec("tolist", 1, Some(1), "tolist(list)", false, f_tolist),
    spec("tomap", 1, Some(1), "tomap(map)", false, more::f_tomap),
    spec("tonumber", 1, Some(1), "tonumber(value)", false, f_tonumber),
    spec("toset", 1, Some(1), "toset(list)", false, f_toset),
    spec("tostring", 1, Some(1), "tostring(value)", false, f_tostring),
    spec(
        "transpose",
        1,
        Some(1),
        "transpose(map)",
        false,
        more::f_transpose,
    ),
    spec(
        "trim",
        2,
        Some(2),
        "trim(string, characters)",
        false,
        more::f_trim,
    ),
    spec(
        "trimprefix",
        2,
        Some(2),
        "trimprefix(string, prefix)",
        false,
        more::f_trimprefix,
    ),
    spec(
        "trimspace",
        1,
        Some(1),
        "trimspace(string)",
        false,
        f_trimspace,
    ),
    spec(
        "trimsuffix",
        2,
        Some(2),
        "trimsuffix(string, suffix)",
        false,
        more::f_trimsuffix,
    ),
    spec("try", 1, None, "try(expression, …)", true, f_try),
    spec("upper", 1, Some(1), "upper(string)", false, f_upper),
    spec(
        "urlencode",
        1,
        Some(1),
        "urlencode(string)",
        false,
        more::f_urlencode,
    ),
    spec("values", 1, Some(1), "values(map)", true, f_values),
    spec(
        "zipmap",
        2,
        Some(2),
        "zipmap(keys, values)",
        false,
        f_zipmap,
    ),
];

/// The function called `name`, if there is one.
pub fn lookup_fn(name: &str) -> Option<&'static FnSpec> {
    FUNCTIONS
        .binary_search_by(|f| f.name.cmp(name))
        .ok()
        .map(|i| &FUNCTIONS[i])
}

/// Checks that `name` exists and accepts `nargs` arguments (E0120, E0121).
/// `span` is the call's span, `name_span` the function name's.
pub fn check_call(name: &str, nargs: usize, span: Span, name_span: Span) -> Result<(), Diagnostic> {
    checked_fn(name, nargs, span, name_span).map(|_| ())
}

/// [`check_call`], returning the function.
fn checked_fn(
    name: &str,
    nargs: usize,
    span: Span,
    name_span: Span,
) -> Result<&'static FnSpec, Diagnostic> {
    let Some(f) = lookup_fn(name) else {
        let mut d = Diagnostic::error(Code::E0120, "unknown function", name_span)
            .with_detail(format!(
                "There is no function called `{name}` in gig's standard library."
            ))
            .with_label("not a known function");
        if let Some(s) = suggest(name, FUNCTIONS.iter().map(|f| f.name)) {
            d = d.with_help(format!("did you mean `{s}`?"));
        }
        return Err(d);
    };
    let too_few = nargs < f.min_args;
    let too_many = f.max_args.is_some_and(|m| nargs > m);
    if too_few || too_many {
        let expected = match f.max_args {
            Some(m) if m == f.min_args => format!("{m}"),
            Some(m) => format!("{} to {m}", f.min_args),
            None => format!("at least {}", f.min_args),
        };
        return Err(
            Diagnostic::error(Code::E0121, "wrong number of arguments", span)
                .with_detail(format!(
                    "`{name}` takes {expected} argument{}, but {nargs} {} given.",
                    if expected == "1" { "" } else { "s" },
                    if nargs == 1 { "was" } else { "were" }
                ))
                .with_label(format!("called with {nargs}"))
                .with_help(format!("the signature is `{}`", f.signature)),
        );
    }
    Ok(f)
}

/// Calls `name` with evaluated arguments. `spans` holds one span per argument (used to
/// point at a bad argument); `span` is the whole call.
pub fn call(
    name: &str,
    args: Vec<Value>,
    spans: &[Span],
    span: Span,
    ctx: &CallContext<'_>,
) -> Result<Value, Diagnostic> {
    let f = checked_fn(name, args.len(), span, span)?;
    let (vals, secret) = if f.structural {
        if args.iter().any(|a| matches!(a.reveal(), Value::Unknown)) {
            return Ok(wrap(
                Value::Unknown,
                args.iter().any(|a| matches!(a, Value::Secret(_))),
            ));
        }
        let secret = args.iter().any(|a| matches!(a, Value::Secret(_)));
        (args.into_iter().map(unwrap_top).collect::<Vec<_>>(), secret)
    } else {
        let secret = args.iter().any(Value::is_secret);
        if args.iter().any(Value::is_unknown) {
            return Ok(wrap(Value::Unknown, secret));
        }
        // Without a secret anywhere there is nothing to strip.
        let vals = if secret {
            args.iter().map(strip_secrets).collect::<Vec<_>>()
        } else {
            args
        };
        (vals, secret)
    };
    // `merge` of maps (and nulls) takes the entries over instead of copying them, which
    // matters for the common `merge(tags, { … })` on every resource; anything else
    // takes the general path, which reports what is wrong.
    if f.name == "merge"
        && vals
            .iter()
            .all(|v| matches!(v, Value::Map(_) | Value::Null))
    {
        let mut out = BTreeMap::new();
        for v in vals {
            if let Value::Map(m) = v {
                if out.is_empty() {
                    out = m;
                } else {
                    out.extend(m);
                }
            }
        }
        return Ok(wrap(Value::Map(out), secret));
    }
    let a = Args {
        name: f.name,
        vals: &vals,
        spans,
        call: span,
        ctx,
    };
    match (f.imp)(&a) {
        Ok(v) => Ok(wrap(v, secret)),
        Err(mut d) if secret => {
            d.detail = format!(
                "`{}` could not use its arguments; details are withheld because an argument is secret.",
                f.name
            );
            Err(d)
        }
        Err(d) => Err(d),
    }
}

/// Wraps `v` secret when `secret` holds.
pub fn wrap(v: Value, secret: bool) -> Value {
    if secret {
        v.into_secret()
    } else {
        v
    }
}

/// Removes the outer secret wrapper(s).
fn unwrap_top(v: Value) -> Value {
    match v {
        Value::Secret(inner) => unwrap_top(*inner),
        v => v,
    }
}

/// A copy of `v` with every secret wrapper removed, at any depth.
pub fn strip_secrets(v: &Value) -> Value {
    match v {
        Value::Secret(inner) => strip_secrets(inner),
        Value::List(xs) => Value::List(xs.iter().map(strip_secrets).collect()),
        Value::Map(m) => Value::Map(
            m.iter()
                .map(|(k, v)| (k.clone(), strip_secrets(v)))
                .collect(),
        ),
        v => v.clone(),
    }
}

/// Formats a number as gig prints it: whole numbers without a fraction.
pub fn number_to_string(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

/// The implicit conversion of a scalar to a value of `kind`, when it loses nothing: a
/// string holding a number (`"80"`) or a bool (`"true"`) to that number or bool, and a
/// number or bool to its literal text (`80` → `"80"`). `None` when `v` is not a scalar,
/// already has that kind, or would not convert losslessly (`"eighty"`, `" 80"`).
/// Secrets are converted inside and stay secret.
pub fn convert_scalar(v: &Value, kind: gig_core::value::ValueKind) -> Option<Value> {
    use gig_core::value::ValueKind;
    if let Value::Secret(inner) = v {
        return convert_scalar(inner, kind).map(Value::into_secret);
    }
    match (v, kind) {
        (Value::String(s), ValueKind::Number) => s
            .parse::<f64>()
            .ok()
            .filter(|n| n.is_finite() && !s.starts_with('+') && !s.ends_with('.'))
            .map(Value::Number),
        (Value::String(s), ValueKind::Bool) => match s.as_str() {
            "true" => Some(Value::Bool(true)),
            "false" => Some(Value::Bool(false)),
            _ => None,
        },
        (Value::Number(_) | Value::Bool(_), ValueKind::String) => {
            scalar_to_string(v).map(Value::String)
        }
        _ => None,
    }
}

/// Renders a scalar for string contexts (templates, `tostring`, `join`): strings as
/// they are, numbers and bools in their literal form. `None` for null, lists and maps.
pub fn scalar_to_string(v: &Value) -> Option<String> {
    match v.reveal() {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(number_to_string(*n)),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Arguments of one call with helpers that produce coded errors.
struct Args<'a> {
    name: &'static str,
    vals: &'a [Value],
    spans: &'a [Span],
    call: Span,
    ctx: &'a CallContext<'a>,
}

impl<'a> Args<'a> {
    fn span(&self, i: usize) -> Span {
        self.spans.get(i).copied().unwrap_or(self.call)
    }

    fn type_err(&self, i: usize, want: &str) -> Diagnostic {
        let got = self
            .vals
            .get(i)
            .map_or("nothing".to_string(), |v| v.kind().to_string());
        Diagnostic::error(Code::E0122, "wrong argument type", self.span(i))
            .with_detail(format!(
                "Argument {} of `{}` must be {want}, but it is a {got}.",
                i + 1,
                self.name
            ))
            .with_label(format!("this is a {got}"))
    }

    fn value_err(&self, i: usize, detail: impl Into<String>) -> Diagnostic {
        Diagnostic::error(Code::E0123, "invalid function argument", self.span(i))
            .with_detail(detail.into())
            .with_label(format!("invalid argument to `{}`", self.name))
    }

    fn get(&self, i: usize) -> &'a Value {
        static NULL: Value = Value::Null;
        self.vals.get(i).unwrap_or(&NULL)
    }

    fn str(&self, i: usize) -> Result<&'a str, Diagnostic> {
        match self.get(i) {
            Value::String(s) => Ok(s),
            _ => Err(self.type_err(i, "a string")),
        }
    }

    fn num(&self, i: usize) -> Result<f64, Diagnostic> {
        match self.get(i) {
            Value::Number(n) => Ok(*n),
            _ => Err(self.type_err(i, "a number")),
        }
    }

    fn int(&self, i: usize) -> Result<i64, Diagnostic> {
        let n = self.num(i)?;
        if n.fract() != 0.0 || n.abs() >= 9.0e15 {
            return Err(self.value_err(
                i,
                format!(
                    "Argument {} of `{}` must be a whole number.",
                    i + 1,
                    self.name
                ),
            ));
        }
        Ok(n as i64)
    }

    fn list(&self, i: usize) -> Result<&'a [Value], Diagnostic> {
        match self.get(i) {
            Value::List(xs) => Ok(xs),
            _ => Err(self.type_err(i, "a list")),
        }
    }

    fn map(&self, i: usize) -> Result<&'a BTreeMap<String, Value>, Diagnostic> {
        match self.get(i) {
            Value::Map(m) => Ok(m),
            _ => Err(self.type_err(i, "a map")),
        }
    }
}

fn f_base64encode(a: &Args<'_>) -> Result<Value, Diagnostic> {
    Ok(Value::String(
        base64::engine::general_purpose::STANDARD.encode(a.str(0)?),
    ))
}

fn parse_cidr(a: &Args<'_>, i: usize) -> Result<IpNet, Diagnostic> {
    let s = a.str(i)?;
    s.parse::<IpNet>().map_err(|_| {
        a.value_err(
            i,
            format!(
                "`{s}` is not a CIDR prefix; write an address and a prefix length such as `10.0.0.0/16`."
            ),
        )
    })
}

/// The network address of `net` as a 128-bit number and its maximum prefix length.
fn net_bits(net: &IpNet) -> (u128, u32) {
    match net {
        IpNet::V4(n) => (u32::from(n.network()) as u128, 32),
        IpNet::V6(n) => (u128::from(n.network()), 128),
    }
}

fn addr_from_bits(v4: bool, bits: u128) -> IpAddr {
    if v4 {
        IpAddr::V4(Ipv4Addr::from(bits as u32))
    } else {
        IpAddr::V6(Ipv6Addr::from(bits))
    }
}

/// 2^n as u128, `None` when it does not fit.
fn pow2(n: u32) -> Option<u128> {
    1u128.checked_shl(n).filter(|_| n < 128)
}

fn f_cidrsubnet(a: &Args<'_>) -> Result<Value, Diagnostic> {
    let net = parse_cidr(a, 0)?;
    let newbits = a.int(1)?;
    let netnum = a.int(2)?;
    let (base, max) = net_bits(&net);
    let plen = net.prefix_len() as i64;
    if newbits < 0 {
        return Err(a.value_err(1, "The number of new bits cannot be negative."));
    }
    let newlen = plen + newbits;
    if newlen > max as i64 {
        return Err(a.value_err(
            1,
            format!(
                "Adding {newbits} bits to the /{plen} prefix would make a /{newlen} prefix, longer than the /{max} an address allows."
            ),
        ));
    }
    let newbits = newbits as u32;
    let newlen = newlen as u32;
    let count = pow2(newbits);
    if netnum < 0 || count.is_some_and(|c| (netnum as u128) >= c) {
        let limit = count.map_or("2^128".to_string(), |c| (c - 1).to_string());
        return Err(a.value_err(
            2,
            format!(
                "Network number {netnum} does not fit in {newbits} new bits; it must lie between 0 and {limit}."
            ),
        ));
    }
    let shift = max - newlen;
    let offset = (netnum as u128)
        .checked_shl(shift)
        .filter(|_| shift < 128)
        .unwrap_or(0);
    let addr = addr_from_bits(max == 32, base | offset);
    let out = IpNet::new(addr, newlen as u8)
        .map_err(|_| a.value_err(1, "The resulting prefix length is out of range."))?;
    Ok(Value::String(out.to_string()))
}

fn f_cidrhost(a: &Args<'_>) -> Result<Value, Diagnostic> {
    let net = parse_cidr(a, 0)?;
    let hostnum = a.int(1)?;
    let (base, max) = net_bits(&net);
    let hostbits = max - net.prefix_len() as u32;
    let count = pow2(hostbits);
    let offset: Option<u128> = if hostnum >= 0 {
        Some(hostnum as u128).filter(|h| count.is_none_or(|c| *h < c))
    } else {
        let back = hostnum.unsigned_abs() as u128;
        match count {
            Some(c) if back <= c => Some(c - back),
            Some(_) => None,
            None => Some(u128::MAX - back + 1),
        }
    };
    let Some(offset) = offset else {
        let range = count.map_or("any number".to_string(), |c| {
            format!("{} to {}", -(c as i128), c - 1)
        });
        return Err(a.value_err(
            1,
            format!(
                "Host number {hostnum} does not fit in the /{} prefix, which has {hostbits} host bits; use {range}.",
                net.prefix_len()
            ),
        ));
    };
    Ok(Value::String(
        addr_from_bits(max == 32, base | offset).to_string(),
    ))
}

fn f_coalesce(a: &Args<'_>) -> Result<Value, Diagnostic> {
    for v in a.vals {
        match v.reveal() {
            Value::Null => continue,
            Value::String(s) if s.is_empty() => continue,
            _ => return Ok(v.clone()),
        }
    }
    Err(a.value_err(
        0,
        "Every argument of `coalesce` is null or an empty string.",
    ))
}

fn f_concat(a: &Args<'_>) -> Result<Value, Diagnostic> {
    let mut out = Vec::new();
    for i in 0..a.vals.len() {
        out.extend(a.list(i)?.iter().cloned());
    }
    Ok(Value::List(out))
}

fn f_contains(a: &Args<'_>) -> Result<Value, Diagnostic> {
    let xs = a.list(0)?;
    Ok(Value::Bool(xs.iter().any(|x| x == a.get(1))))
}

fn f_distinct(a: &Args<'_>) -> Result<Value, Diagnostic> {
    let mut out: Vec<Value> = Vec::new();
    for x in a.list(0)? {
        if !out.contains(x) {
            out.push(x.clone());
        }
    }
    Ok(Value::List(out))
}

fn f_element(a: &Args<'_>) -> Result<Value, Diagnostic> {
    let xs = a.list(0)?;
    let i = match a.get(1).reveal() {
        Value::Unknown => return Ok(Value::Unknown),
        _ => a.int(1)?,
    };
    if xs.is_empty() {
        return Err(a.value_err(0, "`element` cannot pick from an empty list."));
    }
    if i < 0 {
        return Err(a.value_err(1, "The index of `element` cannot be negative."));
    }
    Ok(xs[(i as usize) % xs.len()].clone())
}

fn f_file(a: &Args<'_>) -> Result<Value, Diagnostic> {
    read_text(a, 0).map(Value::String)
}

/// Reads the file named by argument `i`, relative to the calling module's directory: at
/// most [`MAX_FILE_BYTES`] of UTF-8 text (E0124 otherwise).
fn read_text(a: &Args<'_>, i: usize) -> Result<String, Diagnostic> {
    let rel = a.str(i)?;
    let Some(dir) = a.ctx.dir else {
        return Err(
            Diagnostic::error(Code::E0124, "cannot read file", a.span(i))
                .with_detail(format!(
                "`{}` reads paths relative to the stack directory, and these sources have none.",
                a.name
            ))
                .with_label("no directory to read from"),
        );
    };
    let path: PathBuf = dir.join(rel);
    let fail = |why: String| {
        Diagnostic::error(Code::E0124, "cannot read file", a.span(i))
            .with_detail(format!(
                "`{}` could not read `{}`: {why}.",
                a.name,
                path.display()
            ))
            .with_label("this file")
    };
    let meta = std::fs::metadata(&path).map_err(|e| fail(e.to_string()))?;
    if !meta.is_file() {
        return Err(fail("it is not a regular file".to_string()));
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(fail(format!("it is larger than {MAX_FILE_BYTES} bytes")));
    }
    let bytes = std::fs::read(&path).map_err(|e| fail(e.to_string()))?;
    String::from_utf8(bytes).map_err(|_| fail("it is not valid UTF-8 text".to_string()))
}

/// `templatefile(path, vars)`: the file's text with each `${name}` replaced by
/// `vars[name]` (a string, number or bool) and each `$${` by a literal `${`. Only names
/// are interpolated; an unknown name is E0125, pointing at the call.
fn f_templatefile(a: &Args<'_>) -> Result<Value, Diagnostic> {
    let vars = a.map(1)?;
    let text = read_text(a, 0)?;
    let path = a.str(0)?;
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        if let Some(after) = rest.strip_prefix("$${") {
            out.push_str("${");
            rest = after;
            continue;
        }
        let Some(after) = rest.strip_prefix("${") else {
            out.push('$');
            rest = &rest[1..];
            continue;
        };
        let Some(close) = after.find('}') else {
            return Err(a.value_err(
                0,
                format!("The template `{path}` has a `${{` that is never closed with `}}`."),
            ));
        };
        let name = after[..close].trim();
        let is_name = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !is_name {
            return Err(a.value_err(
                0,
                format!(
                    "The template `{path}` interpolates `${{{}}}`; templates interpolate names of `vars` only, such as `${{port}}`.",
                    &after[..close]
                ),
            ));
        }
        let Some(v) = vars.get(name) else {
            let mut d = Diagnostic::error(Code::E0125, "unknown template variable", a.call)
                .with_detail(format!(
                    "The template `{path}` uses `${{{name}}}`, but `vars` has no key `{name}`."
                ))
                .with_label("this call's vars lack a name the template uses");
            if let Some(s) = suggest(name, vars.keys().map(String::as_str)) {
                d = d.with_help(format!("did you mean `{s}`?"));
            } else {
                d = d.with_help(format!("add `{name} = …` to the vars map"));
            }
            return Err(d);
        };
        let Some(text) = scalar_to_string(v) else {
            return Err(a.value_err(
                1,
                format!(
                    "The template variable `{name}` is a {}; only strings, numbers and bools can be interpolated.",
                    v.kind()
                ),
            ));
        };
        out.push_str(&text);
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    Ok(Value::String(out))
}

/// `try` with every argument already evaluated without error: the first. (Evaluation
/// calls `try` lazily, see `crate::eval`; this is what folding constants reaches.)
fn f_try(a: &Args<'_>) -> Result<Value, Diagnostic> {
    Ok(a.get(0).clone())
}

/// Whether `try` recovers from this error: a failure of evaluating a value (types,
/// indexes, keys, attributes, function arguments), not a mistake in the configuration's
/// structure such as an undefined name or an unknown function.
pub fn try_recovers(d: &Diagnostic) -> bool {
    matches!(
        d.code,
        Code::E0101
            | Code::E0102
            | Code::E0103
            | Code::E0104
            | Code::E0105
            | Code::E0106
            | Code::E0107
            | Code::E0108
            | Code::E0109
            | Code::E0110
            | Code::E0122
            | Code::E0123
            | Code::E0124
            | Code::E0125
    )
}

fn f_abs(a: &Args<'_>) -> Result<Value, Diagnostic> {
    Ok(Value::Number(a.num(0)?.abs()))
}

fn f_ceil(a: &Args<'_>) -> Result<Value, Diagnostic> {
    Ok(Value::Number(a.num(0)?.ceil()))
}

fn f_floor(a: &Args<'_>) -> Result<Value, Diagnostic> {
    Ok(Value::Number(a.num(0)?.floor()))
}

fn f_base64decode(a: &Args<'_>) -> Result<Value, Diagnostic> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(a.str(0)?)
        .map_err(|_| a.value_err(0, "The argument of `base64decode` is not valid base64."))?;
    String::from_utf8(bytes).map(Value::String).map_err(|_| {
        a.value_err(
            0,
            "The decoded bytes of `base64decode` are not UTF-8 text; gig strings hold text only.",
        )
    })
}

fn f_sha256(a: &Args<'_>) -> Result<Value, Diagnostic> {
    use sha2::Digest as _;
    Ok(Value::String(hex::encode(sha2::Sha256::digest(
        a.str(0)?.as_bytes(),
    ))))
}

fn f_compact(a: &Args<'_>) -> Result<Value, Diagnostic> {
    Ok(Value::List(
        a.list(0)?
            .iter()
            .filter(|x| !matches!(x, Value::Null) && x.as_str() != Some(""))
            .cloned()
            .collect(),
    ))
}

fn f_startswith(a: &Args<'_>) -> Result<Value, Diagnostic> {
    Ok(Value::Bool(a.str(0)?.starts_with(a.str(1)?)))
}

fn f_endswith(a: &Args<'_>) -> Result<Value, Diagnostic> {
    Ok(Value::Bool(a.str(0)?.ends_with(a.str(1)?)))
}

fn f_trimspace(a: &Args<'_>) -> Result<Value, Diagnostic> {
    Ok(Value::String(a.str(0)?.trim().to_string()))
}

/// `substr(string, offset, length)` in characters; a negative offset counts from the
/// end, a length of -1 takes the rest; a range past the end is cut at the end.
fn f_substr(a: &Args<'_>) -> Result<Value, Diagnostic> {
    let text = a.str(0)?;
    let chars = text.chars().count() as i64;
    let mut offset = a.int(1)?;
    let length = a.int(2)?;
    if offset < 0 {
        offset += chars;
    }
    if offset < 0 || offset > chars {
        return Err(a.value_err(
            1,
            format!("The offset of `substr` must be within the string's {chars} characters."),
        ));
    }
    if length < -1 {
        return Err(a.value_err(
            2,
            "The length of `substr` must be -1 (the rest) or not negative.",
        ));
    }
    let take = if length == -1 {
        usize::MAX
    } else {
        length as usize
    };
    Ok(Value::String(
        text.chars().skip(offset as usize).take(take).collect(),
    ))
}

/// `slice(list, start, end)`: elements `start` up to but not including `end`.
fn f_slice(a: &Args<'_>) -> Result<Value, Diagnostic> {
    let xs = a.list(0)?;
    let start = a.int(1)?;
    let end = a.int(2)?;
    let len = xs.len() as i64;
    if start < 0 || start > len {
        return Err(a.value_err(
            1,
            format!("The start of `slice` must be from 0 to the list's length, {len}."),
        ));
    }
    if end < start || end > len {
        return Err(a.value_err(
            2,
            format!("The end of `slice` must be from the start to the list's length, {len}."),
        ));
    }
    Ok(Value::List(xs[start as usize..end as usize].to_vec()))
}

fn f_tolist(a: &Args<'_>) -> Result<Value, Diagnostic> {
    match a.get(0) {
        Value::Null => Ok(Value::Null),
        _ => Ok(Value::List(a.list(0)?.to_vec())),
    }
}

/// `toset(list)`: the distinct elements; strings and numbers sorted (as a set has no
/// order, this gives a deterministic one), other elements in first-occurrence order.
fn f_toset(a: &Args<'_>) -> Result<Value, Diagnostic> {
    let mut out: Vec<Value> = Vec::new();
    for x in a.list(0)? {
        if !out.contains(x) {
            out.push(x.clone());
        }
    }
    if out.iter().all(|x| matches!(x, Value::String(_))) {
        out.sort_by(|x, y| x.as_str().cmp(&y.as_str()));
    } else if out.iter().all(|x| matches!(x, Value::Number(_))) {
        out.sort_by(|x, y| {
            x.as_f64()
                .partial_cmp(&y.as_f64())
                .unwrap_or(std::cmp::Ordering::Equal)
        });
    }
    Ok(Value::List(out))
}

fn f_zipmap(a: &Args<'_>) -> Result<Value, Diagnostic> {
    let keys = a.list(0)?;
    let values = a.list(1)?;
    if keys.len() != values.len() {
        return Err(a.value_err(
            1,
            format!(
                "`zipmap` needs as many values as keys, but there are {} keys and {} values.",
                keys.len(),
                values.len()
            ),
        ));
    }
    let mut out = BTreeMap::new();
    for (k, v) in keys.iter().zip(values) {
        let Value::String(k) = k else {
            return Err(a.value_err(
                0,
                format!(
                    "The keys of `zipmap` must be strings, but one is a {}.",
                    k.kind()
                ),
            ));
        };
        out.insert(k.clone(), v.clone());
    }
    Ok(Value::Map(out))
}

fn f_jsondecode(a: &Args<'_>) -> Result<Value, Diagnostic> {
    fn convert(j: &serde_json::Value) -> Value {
        use serde_json::Value as J;
        match j {
            J::Null => Value::Null,
            J::Bool(b) => Value::Bool(*b),
            J::Number(n) => Value::Number(n.as_f64().unwrap_or(f64::NAN)),
            J::String(s) => Value::String(s.clone()),
            J::Array(xs) => Value::List(xs.iter().map(convert).collect()),
            J::Object(m) => Value::Map(m.iter().map(|(k, v)| (k.clone(), convert(v))).collect()),
        }
    }
    let parsed: serde_json::Value = serde_json::from_str(a.str(0)?).map_err(|e| {
        a.value_err(
            0,
            format!(
                "The argument of `jsondecode` is not valid JSON: {} at line {}, column {}.",
                match e.classify() {
                    serde_json::error::Category::Eof => "it ends too early",
                    serde_json::error::Category::Syntax => "a syntax error",
                    _ => "a value gig cannot hold",
                },
                e.line(),
                e.column()
            ),
        )
    })?;
    Ok(convert(&parsed))
}

fn flatten_into(xs: &[Value], out: &mut Vec<Value>) {
    for x in xs {
        match x {
            Value::List(inner) => flatten_into(inner, out),
            v => out.push(v.clone()),
        }
    }
}

fn f_flatten(a: &Args<'_>) -> Result<Value, Diagnostic> {
    let mut out = Vec::new();
    flatten_into(a.list(0)?, &mut out);
    Ok(Value::List(out))
}

fn f_format(a: &Args<'_>) -> Result<Value, Diagnostic> {
    let fmt = a.str(0)?;
    let mut out = String::new();
    let mut next = 1;
    let mut chars = fmt.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'%') {
            chars.next();
            out.push('%');
            continue;
        }
        // `%[flags][width][.precision]verb`, as in Terraform (Go's fmt).
        let mut spec = FormatSpec::default();
        while let Some(&f) = chars.peek() {
            match f {
                '-' => spec.left = true,
                '0' => spec.zero = true,
                '+' => spec.plus = true,
                ' ' | '#' => {}
                _ => break,
            }
            chars.next();
        }
        spec.width = digits(&mut chars);
        if chars.peek() == Some(&'.') {
            chars.next();
            spec.precision = Some(digits(&mut chars).unwrap_or(0));
        }
        let Some(verb) = chars.next().filter(|v| {
            matches!(
                v,
                's' | 'd' | 'v' | 'q' | 'f' | 'e' | 'g' | 'x' | 'X' | 'o' | 'b' | 't'
            )
        }) else {
            return Err(a.value_err(
                0,
                "The format string has an unsupported verb; use %s, %d, %f, %x, %o, %b, %e, %g, %t, %v, %q, or %% for a literal percent sign.",
            ));
        };
        if next >= a.vals.len() {
            return Err(a.value_err(0, "The format string has more verbs than there are values."));
        }
        let v = &a.vals[next];
        let text = match verb {
            's' => {
                let s = scalar_to_string(v)
                    .ok_or_else(|| a.type_err(next, "a string, number or bool for %s"))?;
                match spec.precision {
                    Some(p) => s.chars().take(p).collect(),
                    None => s,
                }
            }
            'd' => signed(a.int(next)?.to_string(), spec.plus),
            'x' => format!("{:x}", a.int(next)?),
            'X' => format!("{:X}", a.int(next)?),
            'o' => format!("{:o}", a.int(next)?),
            'b' => format!("{:b}", a.int(next)?),
            'f' => signed(
                format!("{:.*}", spec.precision.unwrap_or(6), a.num(next)?),
                spec.plus,
            ),
            'e' => signed(
                format!("{:.*e}", spec.precision.unwrap_or(6), a.num(next)?),
                spec.plus,
            ),
            'g' => signed(number_to_string(a.num(next)?), spec.plus),
            't' => match v {
                Value::Bool(b) => b.to_string(),
                _ => return Err(a.type_err(next, "a bool for %t")),
            },
            'q' => serde_json::Value::String(a.str(next)?.to_string()).to_string(),
            _ => match v {
                Value::String(s) => s.clone(),
                other => other.to_json().to_string(),
            },
        };
        out.push_str(&spec.pad(text));
        next += 1;
    }
    if next < a.vals.len() {
        return Err(a.value_err(
            next,
            "There are more values than verbs in the format string.",
        ));
    }
    Ok(Value::String(out))
}

/// Flags, width and precision of one `format` verb.
#[derive(Default)]
struct FormatSpec {
    left: bool,
    zero: bool,
    plus: bool,
    width: Option<usize>,
    precision: Option<usize>,
}

impl FormatSpec {
    /// Pads `text` to the width: spaces on the left (or right with `-`), or zeros
    /// after the sign with `0`.
    fn pad(&self, text: String) -> String {
        let len = text.chars().count();
        let Some(width) = self.width.filter(|w| *w > len) else {
            return text;
        };
        let fill = width - len;
        if self.left {
            format!("{text}{}", " ".repeat(fill))
        } else if self.zero {
            let (sign, digits) = match text.strip_prefix(['-', '+']) {
                Some(rest) => (&text[..1], rest),
                None => ("", text.as_str()),
            };
            format!("{sign}{}{digits}", "0".repeat(fill))
        } else {
            format!("{}{text}", " ".repeat(fill))
        }
    }
}

/// A width or precision: the digits at the cursor, capped at 1,000.
fn digits(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Option<usize> {
    let mut n: Option<usize> = None;
    while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
        chars.next();
        n = Some((n.unwrap_or(0) * 10 + d as usize).min(1000));
    }
    n
}

fn signed(text: String, plus: bool) -> String {
    if plus && !text.starts_with('-') {
        format!("+{text}")
    } else {
        text
    }
}

fn f_join(a: &Args<'_>) -> Result<Value, Diagnostic> {
    let sep = a.str(0)?;
    let mut parts = Vec::new();
    for x in a.list(1)? {
        parts.push(scalar_to_string(x).ok_or_else(|| {
            a.value_err(
                1,
                format!(
                    "`join` needs a list of strings, but an element is a {}.",
                    x.kind()
                ),
            )
        })?);
    }
    Ok(Value::String(parts.join(sep)))
}

fn f_jsonencode(a: &Args<'_>) -> Result<Value, Diagnostic> {
    Ok(Value::String(a.get(0).to_json().to_string()))
}

fn f_keys(a: &Args<'_>) -> Result<Value, Diagnostic> {
    Ok(Value::List(
        a.map(0)?.keys().map(|k| Value::String(k.clone())).collect(),
    ))
}

fn f_length(a: &Args<'_>) -> Result<Value, Diagnostic> {
    let n = match a.get(0) {
        Value::String(s) => s.chars().count(),
        Value::List(xs) => xs.len(),
        Value::Map(m) => m.len(),
        _ => return Err(a.type_err(0, "a string, list or map")),
    };
    Ok(Value::Number(n as f64))
}

fn f_lookup(a: &Args<'_>) -> Result<Value, Diagnostic> {
    let m = a.map(0)?;
    let key = match a.get(1).reveal() {
        Value::Unknown => return Ok(Value::Unknown),
        Value::String(s) => s,
        _ => return Err(a.type_err(1, "a string")),
    };
    match m.get(key.as_str()) {
        Some(v) => Ok(v.clone()),
        None if a.vals.len() > 2 => Ok(a.vals[2].clone()),
        None => Err(a.value_err(
            1,
            format!("The map has no key `{key}`, and no default was given as a third argument."),
        )),
    }
}

fn f_lower(a: &Args<'_>) -> Result<Value, Diagnostic> {
    Ok(Value::String(a.str(0)?.to_lowercase()))
}

fn f_upper(a: &Args<'_>) -> Result<Value, Diagnostic> {
    Ok(Value::String(a.str(0)?.to_uppercase()))
}

fn numbers(a: &Args<'_>) -> Result<Vec<f64>, Diagnostic> {
    (0..a.vals.len()).map(|i| a.num(i)).collect()
}

fn f_max(a: &Args<'_>) -> Result<Value, Diagnostic> {
    Ok(Value::Number(
        numbers(a)?.into_iter().fold(f64::NEG_INFINITY, f64::max),
    ))
}

fn f_min(a: &Args<'_>) -> Result<Value, Diagnostic> {
    Ok(Value::Number(
        numbers(a)?.into_iter().fold(f64::INFINITY, f64::min),
    ))
}

fn f_merge(a: &Args<'_>) -> Result<Value, Diagnostic> {
    let mut out = BTreeMap::new();
    for i in 0..a.vals.len() {
        if a.get(i).is_null() {
            continue;
        }
        out.extend(a.map(i)?.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    Ok(Value::Map(out))
}

fn f_range(a: &Args<'_>) -> Result<Value, Diagnostic> {
    let (start, limit, step) = match a.vals.len() {
        1 => (0.0, a.num(0)?, 1.0),
        2 => (a.num(0)?, a.num(1)?, 1.0),
        _ => (a.num(0)?, a.num(1)?, a.num(2)?),
    };
    if step == 0.0 || !step.is_finite() {
        return Err(a.value_err(2, "The step of `range` cannot be zero."));
    }
    let len = ((limit - start) / step).ceil();
    if len.is_nan() || len > MAX_RANGE_LEN as f64 {
        return Err(a.value_err(
            0,
            format!("`range` would build more than {MAX_RANGE_LEN} numbers."),
        ));
    }
    let len = if len > 0.0 { len as usize } else { 0 };
    Ok(Value::List(
        (0..len)
            .map(|i| Value::Number(start + step * i as f64))
            .collect(),
    ))
}

fn f_replace(a: &Args<'_>) -> Result<Value, Diagnostic> {
    let s = a.str(0)?;
    let search = a.str(1)?;
    let rep = a.str(2)?;
    if search.is_empty() {
        return Err(a.value_err(1, "The text to search for in `replace` cannot be empty."));
    }
    Ok(Value::String(s.replace(search, rep)))
}

fn f_split(a: &Args<'_>) -> Result<Value, Diagnostic> {
    let sep = a.str(0)?;
    let s = a.str(1)?;
    if sep.is_empty() {
        return Err(a.value_err(0, "The separator of `split` cannot be empty."));
    }
    if s.is_empty() {
        return Ok(Value::List(Vec::new()));
    }
    Ok(Value::List(s.split(sep).map(Value::from).collect()))
}

fn f_tonumber(a: &Args<'_>) -> Result<Value, Diagnostic> {
    match a.get(0) {
        Value::Null => Ok(Value::Null),
        Value::Number(n) => Ok(Value::Number(*n)),
        Value::String(s) => s
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|n| n.is_finite())
            .map(Value::Number)
            .ok_or_else(|| a.value_err(0, format!("`{s}` is not a number."))),
        _ => Err(a.type_err(0, "a string or number")),
    }
}

fn f_tostring(a: &Args<'_>) -> Result<Value, Diagnostic> {
    match a.get(0) {
        Value::Null => Ok(Value::Null),
        v => scalar_to_string(v)
            .map(Value::String)
            .ok_or_else(|| a.type_err(0, "a string, number or bool")),
    }
}

fn f_values(a: &Args<'_>) -> Result<Value, Diagnostic> {
    Ok(Value::List(a.map(0)?.values().cloned().collect()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use gig_core::span::FileId;

    fn sp() -> Span {
        Span::new(FileId(0), 0, 1)
    }

    fn run(name: &str, args: Vec<Value>) -> Result<Value, Diagnostic> {
        let spans = vec![sp(); args.len()];
        call(name, args, &spans, sp(), &CallContext::default())
    }

    fn ok(name: &str, args: Vec<Value>) -> Value {
        match run(name, args) {
            Ok(v) => v,
            Err(d) => panic!("{name} failed: {} {}", d.code, d.detail),
        }
    }

    fn code(name: &str, args: Vec<Value>) -> Code {
        match run(name, args) {
            Ok(v) => panic!("{name} unexpectedly gave {v:?}"),
            Err(d) => d.code,
        }
    }

    fn s(x: &str) -> Value {
        Value::from(x)
    }

    fn n(x: f64) -> Value {
        Value::Number(x)
    }

    fn list(xs: &[&str]) -> Value {
        Value::List(xs.iter().map(|x| s(x)).collect())
    }

    fn map(kv: &[(&str, Value)]) -> Value {
        Value::Map(kv.iter().map(|(k, v)| (k.to_string(), v.clone())).collect())
    }

    #[test]
    fn functions_table_is_sorted_for_binary_search() {
        for w in FUNCTIONS.windows(2) {
            assert!(w[0].name < w[1].name, "{} before {}", w[0].name, w[1].name);
        }
    }

    #[test]
    fn cidrsubnet_ipv4() {
        assert_eq!(
            ok("cidrsubnet", vec![s("10.0.0.0/16"), n(8.0), n(10.0)]),
            s("10.0.10.0/24")
        );
        assert_eq!(
            ok("cidrsubnet", vec![s("10.0.0.0/16"), n(8.0), n(255.0)]),
            s("10.0.255.0/24")
        );
        assert_eq!(
            ok("cidrsubnet", vec![s("10.0.0.0/16"), n(4.0), n(3.0)]),
            s("10.0.48.0/20")
        );
        // Host bits in the prefix are ignored, as the network address is used.
        assert_eq!(
            ok("cidrsubnet", vec![s("10.0.7.9/16"), n(8.0), n(1.0)]),
            s("10.0.1.0/24")
        );
        assert_eq!(
            ok("cidrsubnet", vec![s("10.0.0.0/16"), n(0.0), n(0.0)]),
            s("10.0.0.0/16")
        );
        assert_eq!(
            ok("cidrsubnet", vec![s("0.0.0.0/0"), n(32.0), n(1.0)]),
            s("0.0.0.1/32")
        );
    }

    #[test]
    fn cidrsubnet_ipv6() {
        assert_eq!(
            ok(
                "cidrsubnet",
                vec![s("fd00:fd12:3456:7890::/56"), n(8.0), n(1.0)]
            ),
            s("fd00:fd12:3456:7801::/64")
        );
        assert_eq!(
            ok("cidrsubnet", vec![s("::/0"), n(128.0), n(5.0)]),
            s("::5/128")
        );
    }

    #[test]
    fn cidrsubnet_errors() {
        assert_eq!(
            code("cidrsubnet", vec![s("10.0.0.0/16"), n(8.0), n(256.0)]),
            Code::E0123
        );
        assert_eq!(
            code("cidrsubnet", vec![s("10.0.0.0/16"), n(17.0), n(0.0)]),
            Code::E0123
        );
        assert_eq!(
            code("cidrsubnet", vec![s("10.0.0.0/16"), n(-1.0), n(0.0)]),
            Code::E0123
        );
        assert_eq!(
            code("cidrsubnet", vec![s("10.0.0.0/16"), n(8.0), n(-1.0)]),
            Code::E0123
        );
        assert_eq!(
            code("cidrsubnet", vec![s("10.0.0.0/16"), n(8.5), n(1.0)]),
            Code::E0123
        );
        assert_eq!(
            code("cidrsubnet", vec![s("not a cidr"), n(8.0), n(1.0)]),
            Code::E0123
        );
        assert_eq!(
            code("cidrsubnet", vec![s("10.0.0.0/33"), n(1.0), n(1.0)]),
            Code::E0123
        );
        assert_eq!(
            code("cidrsubnet", vec![n(1.0), n(8.0), n(1.0)]),
            Code::E0122
        );
        assert_eq!(
            code("cidrsubnet", vec![s("10.0.0.0/16"), n(8.0)]),
            Code::E0121
        );
    }

    #[test]
    fn cidrhost_both_families_and_negative_numbers() {
        assert_eq!(
            ok("cidrhost", vec![s("10.0.1.0/24"), n(5.0)]),
            s("10.0.1.5")
        );
        assert_eq!(
            ok("cidrhost", vec![s("10.0.1.0/24"), n(255.0)]),
            s("10.0.1.255")
        );
        assert_eq!(
            ok("cidrhost", vec![s("10.0.1.0/24"), n(-1.0)]),
            s("10.0.1.255")
        );
        assert_eq!(
            ok("cidrhost", vec![s("10.0.1.0/24"), n(-256.0)]),
            s("10.0.1.0")
        );
        assert_eq!(
            ok("cidrhost", vec![s("10.0.1.7/32"), n(0.0)]),
            s("10.0.1.7")
        );
        assert_eq!(ok("cidrhost", vec![s("fd00::/64"), n(16.0)]), s("fd00::10"));
        assert_eq!(
            ok("cidrhost", vec![s("::/0"), n(-1.0)]),
            s("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")
        );
        assert_eq!(
            code("cidrhost", vec![s("10.0.1.0/24"), n(256.0)]),
            Code::E0123
        );
        assert_eq!(
            code("cidrhost", vec![s("10.0.1.0/24"), n(-257.0)]),
            Code::E0123
        );
        assert_eq!(
            code("cidrhost", vec![s("10.0.1.7/32"), n(1.0)]),
            Code::E0123
        );
    }

    #[test]
    fn format_verbs() {
        assert_eq!(
            ok(
                "format",
                vec![s("%s-%d-%v-%q-%%"), s("a"), n(3.0), list(&["x"]), s("q")]
            ),
            s("a-3-[\"x\"]-\"q\"-%")
        );
        assert_eq!(ok("format", vec![s("%s"), Value::Bool(true)]), s("true"));
        assert_eq!(code("format", vec![s("%s %s"), s("a")]), Code::E0123);
        assert_eq!(code("format", vec![s("%s"), s("a"), s("b")]), Code::E0123);
        assert_eq!(code("format", vec![s("%y"), s("a")]), Code::E0123);
        assert_eq!(code("format", vec![s("%x"), s("a")]), Code::E0122);
        assert_eq!(code("format", vec![s("%d"), n(1.5)]), Code::E0123);
    }

    #[test]
    fn join_split_replace_case() {
        assert_eq!(ok("join", vec![s(","), list(&["a", "b"])]), s("a,b"));
        assert_eq!(
            ok("join", vec![s("-"), Value::List(vec![s("a"), n(2.0)])]),
            s("a-2")
        );
        assert_eq!(
            code("join", vec![s(","), Value::List(vec![list(&["a"])])]),
            Code::E0123
        );
        assert_eq!(
            ok("split", vec![s(","), s("a,b,,c")]),
            list(&["a", "b", "", "c"])
        );
        assert_eq!(ok("split", vec![s(","), s("")]), Value::List(vec![]));
        assert_eq!(code("split", vec![s(""), s("abc")]), Code::E0123);
        assert_eq!(ok("replace", vec![s("a-b-c"), s("-"), s("_")]), s("a_b_c"));
        assert_eq!(code("replace", vec![s("abc"), s(""), s("x")]), Code::E0123);
        assert_eq!(ok("lower", vec![s("AbC")]), s("abc"));
        assert_eq!(ok("upper", vec![s("AbC")]), s("ABC"));
        assert_eq!(code("upper", vec![n(1.0)]), Code::E0122);
    }

    #[test]
    fn collections() {
        let m = map(&[("a", n(1.0)), ("b", n(2.0))]);
        assert_eq!(ok("lookup", vec![m.clone(), s("b")]), n(2.0));
        assert_eq!(ok("lookup", vec![m.clone(), s("z"), n(9.0)]), n(9.0));
        assert_eq!(code("lookup", vec![m.clone(), s("z")]), Code::E0123);
        assert_eq!(ok("length", vec![m.clone()]), n(2.0));
        assert_eq!(ok("length", vec![s("héllo")]), n(5.0));
        assert_eq!(ok("length", vec![list(&["a", "b", "c"])]), n(3.0));
        assert_eq!(code("length", vec![n(3.0)]), Code::E0122);
        assert_eq!(
            ok("concat", vec![list(&["a"]), list(&["b", "c"])]),
            list(&["a", "b", "c"])
        );
        assert_eq!(
            ok("merge", vec![m.clone(), map(&[("b", n(3.0))]), Value::Null]),
            map(&[("a", n(1.0)), ("b", n(3.0))])
        );
        assert_eq!(ok("keys", vec![m.clone()]), list(&["a", "b"]));
        assert_eq!(ok("values", vec![m]), Value::List(vec![n(1.0), n(2.0)]));
        assert_eq!(
            ok("contains", vec![list(&["a", "b"]), s("b")]),
            Value::Bool(true)
        );
        assert_eq!(
            ok("contains", vec![list(&["a", "b"]), s("c")]),
            Value::Bool(false)
        );
        assert_eq!(
            ok("distinct", vec![list(&["a", "b", "a"])]),
            list(&["a", "b"])
        );
        assert_eq!(
            ok(
                "flatten",
                vec![Value::List(vec![
                    list(&["a"]),
                    Value::List(vec![list(&["b"])]),
                    s("c")
                ])]
            ),
            list(&["a", "b", "c"])
        );
        assert_eq!(ok("element", vec![list(&["a", "b"]), n(3.0)]), s("b"));
        assert_eq!(
            code("element", vec![Value::List(vec![]), n(0.0)]),
            Code::E0123
        );
        assert_eq!(ok("coalesce", vec![Value::Null, s(""), s("x")]), s("x"));
        assert_eq!(code("coalesce", vec![Value::Null]), Code::E0123);
    }

    #[test]
    fn numbers_and_conversions() {
        assert_eq!(ok("min", vec![n(3.0), n(1.0), n(2.0)]), n(1.0));
        assert_eq!(ok("max", vec![n(3.0), n(1.0), n(2.0)]), n(3.0));
        assert_eq!(
            ok("range", vec![n(3.0)]),
            Value::List(vec![n(0.0), n(1.0), n(2.0)])
        );
        assert_eq!(
            ok("range", vec![n(1.0), n(7.0), n(3.0)]),
            Value::List(vec![n(1.0), n(4.0)])
        );
        assert_eq!(
            ok("range", vec![n(3.0), n(0.0), n(-1.0)]),
            Value::List(vec![n(3.0), n(2.0), n(1.0)])
        );
        assert_eq!(code("range", vec![n(0.0), n(1e9)]), Code::E0123);
        assert_eq!(code("range", vec![n(0.0), n(5.0), n(0.0)]), Code::E0123);
        assert_eq!(ok("tostring", vec![n(8080.0)]), s("8080"));
        assert_eq!(ok("tostring", vec![n(0.5)]), s("0.5"));
        assert_eq!(ok("tonumber", vec![s("42")]), n(42.0));
        assert_eq!(code("tonumber", vec![s("forty")]), Code::E0123);
        assert_eq!(code("tonumber", vec![s("inf")]), Code::E0123);
    }

    #[test]
    fn encodings() {
        let v = map(&[("b", n(1.0)), ("a", list(&["x"]))]);
        assert_eq!(ok("jsonencode", vec![v]), s(r#"{"a":["x"],"b":1}"#));
        assert_eq!(ok("base64encode", vec![s("hello")]), s("aGVsbG8="));
    }

    #[test]
    fn file_reads_relative_to_the_directory() {
        let dir = std::env::temp_dir().join(format!("gig-fn-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("hello.txt"), "hi\n").unwrap();
        let ctx = CallContext { dir: Some(&dir) };
        let got = call("file", vec![s("hello.txt")], &[sp()], sp(), &ctx).unwrap();
        assert_eq!(got, s("hi\n"));
        let missing = call("file", vec![s("nope.txt")], &[sp()], sp(), &ctx).unwrap_err();
        assert_eq!(missing.code, Code::E0124);
        assert_eq!(code("file", vec![s("hello.txt")]), Code::E0124);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn unknown_and_secret_propagation() {
        assert_eq!(ok("upper", vec![Value::Unknown]), Value::Unknown);
        assert_eq!(
            ok("join", vec![s(","), Value::List(vec![Value::Unknown])]),
            Value::Unknown
        );
        // Structural functions keep partially unknown collections usable.
        assert_eq!(
            ok("length", vec![Value::List(vec![Value::Unknown, s("a")])]),
            n(2.0)
        );
        let sec = s("hunter2").into_secret();
        assert_eq!(ok("upper", vec![sec.clone()]), s("HUNTER2").into_secret());
        assert_eq!(
            ok("join", vec![s(","), Value::List(vec![sec.clone(), s("a")])]),
            s("hunter2,a").into_secret()
        );
        // A secret element stays secret inside, the list itself is not wrapped.
        let got = ok("concat", vec![Value::List(vec![sec.clone()]), list(&["a"])]);
        assert_eq!(got, Value::List(vec![sec.clone(), s("a")]));
        let err = run("tonumber", vec![sec]).unwrap_err();
        assert!(!err.detail.contains("hunter2"));
    }

    #[test]
    fn unknown_function_suggests_a_close_name() {
        let d = check_call("cidrsubnetz", 3, sp(), sp()).unwrap_err();
        assert_eq!(d.code, Code::E0120);
        assert_eq!(d.help.as_deref(), Some("did you mean `cidrsubnet`?"));
        assert_eq!(
            check_call("lookup", 4, sp(), sp()).unwrap_err().code,
            Code::E0121
        );
        assert!(check_call("lookup", 3, sp(), sp()).is_ok());
    }

    #[test]
    fn new_functions_reject_bad_values() {
        let abc = || list(&["a", "b", "c"]);
        assert_eq!(ok("slice", vec![abc(), n(0.0), n(3.0)]), abc());
        assert_eq!(code("slice", vec![abc(), n(2.0), n(1.0)]), Code::E0123);
        assert_eq!(code("slice", vec![abc(), n(0.0), n(4.0)]), Code::E0123);
        assert_eq!(code("slice", vec![abc(), n(0.5), n(1.0)]), Code::E0123);
        assert_eq!(ok("substr", vec![s("héllo"), n(1.0), n(3.0)]), s("éll"));
        assert_eq!(ok("substr", vec![s("abc"), n(1.0), n(10.0)]), s("bc"));
        assert_eq!(code("substr", vec![s("abc"), n(4.0), n(1.0)]), Code::E0123);
        assert_eq!(code("substr", vec![s("abc"), n(0.0), n(-2.0)]), Code::E0123);
        assert_eq!(code("zipmap", vec![list(&["a"]), abc()]), Code::E0123);
        assert_eq!(
            code(
                "zipmap",
                vec![Value::List(vec![n(1.0)]), Value::List(vec![n(1.0)])]
            ),
            Code::E0123
        );
        assert_eq!(code("jsondecode", vec![s("{\"a\": ")]), Code::E0123);
        assert_eq!(
            ok("jsondecode", vec![s("{\"$secret\": \"x\"}")]),
            map(&[("$secret", s("x"))])
        );
        assert_eq!(code("base64decode", vec![s("not base64!")]), Code::E0123);
        assert_eq!(code("base64decode", vec![s("/w==")]), Code::E0123);
        assert_eq!(code("abs", vec![s("1")]), Code::E0122);
        assert_eq!(
            ok("toset", vec![Value::List(vec![n(3.0), n(1.0), n(3.0)])]),
            Value::List(vec![n(1.0), n(3.0)])
        );
        assert_eq!(ok("tolist", vec![Value::Null]), Value::Null);
        assert_eq!(code("tolist", vec![s("a")]), Code::E0122);
        assert_eq!(
            ok(
                "compact",
                vec![Value::List(vec![Value::Null, s(""), s("x")])]
            ),
            list(&["x"])
        );
        assert_eq!(ok("try", vec![s("a"), s("b")]), s("a"));
    }

    #[test]
    fn templatefile_interpolates_names_of_vars() {
        let dir = std::env::temp_dir().join(format!("gig-tpl-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("t.tpl"), "a=${a} b=${ b } $${a} $x ${").unwrap();
        std::fs::write(dir.join("ok.tpl"), "a=${a} b=${ b } $${a} $x").unwrap();
        let ctx = CallContext { dir: Some(&dir) };
        let vars = map(&[("a", s("1")), ("b", n(2.0))]);
        let run_in = |file: &str, vars: Value| {
            call(
                "templatefile",
                vec![s(file), vars],
                &[sp(), sp()],
                sp(),
                &ctx,
            )
        };
        assert_eq!(
            run_in("ok.tpl", vars.clone()).unwrap(),
            s("a=1 b=2 ${a} $x")
        );
        assert_eq!(run_in("t.tpl", vars.clone()).unwrap_err().code, Code::E0123);
        let missing = run_in("ok.tpl", map(&[("a", s("1"))])).unwrap_err();
        assert_eq!(missing.code, Code::E0125);
        let list_var = map(&[("a", list(&["x"])), ("b", n(2.0))]);
        assert_eq!(run_in("ok.tpl", list_var).unwrap_err().code, Code::E0123);
        assert_eq!(
            run_in("ok.tpl", Value::Map([("a".into(), Value::Unknown)].into())).unwrap(),
            Value::Unknown
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
