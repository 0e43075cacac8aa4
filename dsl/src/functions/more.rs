//! The functions Terraform users reach for beyond the core set: collection helpers,
//! regular expressions, more string, number, hash and network functions. Each is a
//! strict function (see the parent module) unless its table entry says otherwise, and
//! follows the Terraform function of the same name where gig has the same types.

use std::collections::BTreeMap;
use std::net::IpAddr;

use base64::Engine as _;
use gig_core::diag::Diagnostic;
use gig_core::value::Value;
use sha2::Digest as _;

use super::{addr_from_bits, net_bits, parse_cidr, pow2, scalar_to_string, Args};

/// The most elements `setproduct` builds.
const MAX_PRODUCT_LEN: usize = 100_000;

// ------------------------------------------------------------------ collections

pub(super) fn f_one(a: &Args<'_>) -> Result<Value, Diagnostic> {
    match a.list(0)? {
        [] => Ok(Value::Null),
        [x] => Ok(x.clone()),
        xs => Err(a.value_err(
            0,
            format!(
                "`one` needs a list of zero or one element, but this one has {}.",
                xs.len()
            ),
        )),
    }
}

pub(super) fn f_index(a: &Args<'_>) -> Result<Value, Diagnostic> {
    let xs = a.list(0)?;
    let want = a.get(1);
    xs.iter()
        .position(|x| x == want)
        .map(|i| Value::Number(i as f64))
        .ok_or_else(|| a.value_err(1, "The value is not an element of the list."))
}

pub(super) fn f_reverse(a: &Args<'_>) -> Result<Value, Diagnostic> {
    Ok(Value::List(a.list(0)?.iter().rev().cloned().collect()))
}

/// `sort(list)`: strings in lexical order (numbers are sorted as their text, as
/// Terraform does).
pub(super) fn f_sort(a: &Args<'_>) -> Result<Value, Diagnostic> {
    let mut out: Vec<String> = Vec::new();
    for x in a.list(0)? {
        out.push(
            scalar_to_string(x)
                .ok_or_else(|| a.value_err(0, "`sort` sorts strings; an element is not one."))?,
        );
    }
    out.sort();
    Ok(Value::List(out.into_iter().map(Value::String).collect()))
}

pub(super) fn f_setproduct(a: &Args<'_>) -> Result<Value, Diagnostic> {
    let mut out: Vec<Vec<Value>> = vec![Vec::new()];
    for i in 0..a.vals.len() {
        let xs = a.list(i)?;
        let len = out.len().saturating_mul(xs.len());
        if len > MAX_PRODUCT_LEN {
            return Err(a.value_err(
                i,
                format!("`setproduct` would build {len} elements; the limit is {MAX_PRODUCT_LEN}."),
            ));
        }
        out = out
            .iter()
            .flat_map(|prefix| {
                xs.iter().map(move |x| {
                    let mut v = prefix.clone();
                    v.push(x.clone());
                    v
                })
            })
            .collect();
    }
    Ok(Value::List(out.into_iter().map(Value::List).collect()))
}

pub(super) fn f_chunklist(a: &Args<'_>) -> Result<Value, Diagnostic> {
    let xs = a.list(0)?;
    let size = a.int(1)?;
    if size < 0 {
        return Err(a.value_err(1, "The chunk size of `chunklist` cannot be negative."));
    }
    if size == 0 {
        return Ok(Value::List(vec![Value::List(xs.to_vec())]));
    }
    Ok(Value::List(
        xs.chunks(size as usize)
            .map(|c| Value::List(c.to_vec()))
            .collect(),
    ))
}

pub(super) fn f_transpose(a: &Args<'_>) -> Result<Value, Diagnostic> {
    let mut out: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for (k, v) in a.map(0)? {
        let Value::List(xs) = v else {
            return Err(a.value_err(0, "`transpose` takes a map of lists of strings."));
        };
        for x in xs {
            let Value::String(s) = x else {
                return Err(a.value_err(0, "`transpose` takes a map of lists of strings."));
            };
            out.entry(s.clone())
                .or_default()
                .push(Value::String(k.clone()));
        }
    }
    Ok(Value::Map(
        out.into_iter().map(|(k, v)| (k, Value::List(v))).collect(),
    ))
}

/// `coalescelist(list, …)`: the first non-empty list (structural).
pub(super) fn f_coalescelist(a: &Args<'_>) -> Result<Value, Diagnostic> {
    for i in 0..a.vals.len() {
        if !a.list(i)?.is_empty() {
            return Ok(a.get(i).clone());
        }
    }
    Ok(Value::List(Vec::new()))
}

fn bools(a: &Args<'_>) -> Result<Vec<bool>, Diagnostic> {
    a.list(0)?
        .iter()
        .map(|x| {
            x.as_bool()
                .ok_or_else(|| a.value_err(0, format!("`{}` takes a list of bools.", a.name)))
        })
        .collect()
}

pub(super) fn f_alltrue(a: &Args<'_>) -> Result<Value, Diagnostic> {
    Ok(Value::Bool(bools(a)?.into_iter().all(|b| b)))
}

pub(super) fn f_anytrue(a: &Args<'_>) -> Result<Value, Diagnostic> {
    Ok(Value::Bool(bools(a)?.into_iter().any(|b| b)))
}

pub(super) fn f_sum(a: &Args<'_>) -> Result<Value, Diagnostic> {
    let xs = a.list(0)?;
    if xs.is_empty() {
        return Err(a.value_err(0, "`sum` needs at least one number."));
    }
    let mut total = 0.0;
    for x in xs {
        total += x
            .as_f64()
            .ok_or_else(|| a.value_err(0, "`sum` takes a list of numbers."))?;
    }
    Ok(Value::Number(total))
}

pub(super) fn f_tomap(a: &Args<'_>) -> Result<Value, Diagnostic> {
    match a.get(0) {
        Value::Null => Ok(Value::Null),
        _ => Ok(Value::Map(a.map(0)?.clone())),
    }
}

pub(super) fn f_tobool(a: &Args<'_>) -> Result<Value, Diagnostic> {
    match a.get(0) {
        Value::Null => Ok(Value::Null),
        Value::Bool(b) => Ok(Value::Bool(*b)),
        Value::String(s) if s == "true" => Ok(Value::Bool(true)),
        Value::String(s) if s == "false" => Ok(Value::Bool(false)),
        Value::String(s) => Err(a.value_err(
            0,
            format!("`{s}` is not a bool: use \"true\" or \"false\"."),
        )),
        _ => Err(a.type_err(0, "a string or bool")),
    }
}

fn set_of(a: &Args<'_>, i: usize) -> Result<Vec<Value>, Diagnostic> {
    let mut out: Vec<Value> = Vec::new();
    for x in a.list(i)? {
        if !out.contains(x) {
            out.push(x.clone());
        }
    }
    Ok(out)
}

pub(super) fn f_setunion(a: &Args<'_>) -> Result<Value, Diagnostic> {
    let mut out: Vec<Value> = Vec::new();
    for i in 0..a.vals.len() {
        for x in set_of(a, i)? {
            if !out.contains(&x) {
                out.push(x);
            }
        }
    }
    Ok(Value::List(out))
}

pub(super) fn f_setintersection(a: &Args<'_>) -> Result<Value, Diagnostic> {
    let mut out = set_of(a, 0)?;
    for i in 1..a.vals.len() {
        let other = set_of(a, i)?;
        out.retain(|x| other.contains(x));
    }
    Ok(Value::List(out))
}

pub(super) fn f_setsubtract(a: &Args<'_>) -> Result<Value, Diagnostic> {
    let mut out = set_of(a, 0)?;
    let other = set_of(a, 1)?;
    out.retain(|x| !other.contains(x));
    Ok(Value::List(out))
}

pub(super) fn f_matchkeys(a: &Args<'_>) -> Result<Value, Diagnostic> {
    let values = a.list(0)?;
    let keys = a.list(1)?;
    let search = a.list(2)?;
    if values.len() != keys.len() {
        return Err(a.value_err(1, "`matchkeys` needs as many keys as values."));
    }
    Ok(Value::List(
        values
            .iter()
            .zip(keys)
            .filter(|(_, k)| search.contains(k))
            .map(|(v, _)| v.clone())
            .collect(),
    ))
}

// ------------------------------------------------------------------ strings

fn compiled(a: &Args<'_>) -> Result<regex_lite::Regex, Diagnostic> {
    regex_lite::Regex::new(a.str(0)?)
        .map_err(|e| a.value_err(0, format!("The regular expression is not valid: {e}.")))
}

/// One match in Terraform's shape: the whole match without groups, a list of the
/// groups when they are unnamed, a map when they are named.
fn match_value(re: &regex_lite::Regex, caps: &regex_lite::Captures<'_>) -> Value {
    let text =
        |m: Option<regex_lite::Match<'_>>| m.map_or(Value::Null, |m| Value::from(m.as_str()));
    if re.captures_len() == 1 {
        return text(caps.get(0));
    }
    let names: Vec<Option<&str>> = re.capture_names().skip(1).collect();
    if names.iter().any(Option::is_some) {
        Value::Map(
            names
                .iter()
                .enumerate()
                .filter_map(|(i, n)| n.map(|n| (n.to_string(), text(caps.get(i + 1)))))
                .collect(),
        )
    } else {
        Value::List((1..re.captures_len()).map(|i| text(caps.get(i))).collect())
    }
}

pub(super) fn f_regex(a: &Args<'_>) -> Result<Value, Diagnostic> {
    let re = compiled(a)?;
    let s = a.str(1)?;
    re.captures(s)
        .map(|caps| match_value(&re, &caps))
        .ok_or_else(|| a.value_err(1, "The regular expression does not match the string."))
}

pub(super) fn f_regexall(a: &Args<'_>) -> Result<Value, Diagnostic> {
    let re = compiled(a)?;
    let s = a.str(1)?;
    Ok(Value::List(
        re.captures_iter(s)
            .map(|caps| match_value(&re, &caps))
            .collect(),
    ))
}

pub(super) fn f_strcontains(a: &Args<'_>) -> Result<Value, Diagnostic> {
    Ok(Value::Bool(a.str(0)?.contains(a.str(1)?)))
}

pub(super) fn f_title(a: &Args<'_>) -> Result<Value, Diagnostic> {
    let mut out = String::new();
    let mut start = true;
    for c in a.str(0)?.chars() {
        if start && c.is_alphabetic() {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        start = !c.is_alphanumeric();
    }
    Ok(Value::String(out))
}

pub(super) fn f_strrev(a: &Args<'_>) -> Result<Value, Diagnostic> {
    Ok(Value::String(a.str(0)?.chars().rev().collect()))
}

pub(super) fn f_chomp(a: &Args<'_>) -> Result<Value, Diagnostic> {
    Ok(Value::from(a.str(0)?.trim_end_matches(['\n', '\r'])))
}

pub(super) fn f_trim(a: &Args<'_>) -> Result<Value, Diagnostic> {
    let cut: Vec<char> = a.str(1)?.chars().collect();
    Ok(Value::from(a.str(0)?.trim_matches(cut.as_slice())))
}

pub(super) fn f_trimprefix(a: &Args<'_>) -> Result<Value, Diagnostic> {
    let s = a.str(0)?;
    Ok(Value::from(s.strip_prefix(a.str(1)?).unwrap_or(s)))
}

pub(super) fn f_trimsuffix(a: &Args<'_>) -> Result<Value, Diagnostic> {
    let s = a.str(0)?;
    Ok(Value::from(s.strip_suffix(a.str(1)?).unwrap_or(s)))
}

/// `indent(spaces, string)`: every line but the first indented.
pub(super) fn f_indent(a: &Args<'_>) -> Result<Value, Diagnostic> {
    let n = a.int(0)?;
    if !(0..=1024).contains(&n) {
        return Err(a.value_err(0, "`indent` takes 0 to 1024 spaces."));
    }
    let pad = " ".repeat(n as usize);
    Ok(Value::String(a.str(1)?.replace('\n', &format!("\n{pad}"))))
}

/// `urlencode(string)`: everything but unreserved characters percent-encoded, as
/// Terraform does.
pub(super) fn f_urlencode(a: &Args<'_>) -> Result<Value, Diagnostic> {
    let mut out = String::new();
    for b in a.str(0)?.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    Ok(Value::String(out))
}

/// `formatlist(spec, value, …)`: `format` over lists element by element; a non-list
/// argument is used for every element.
pub(super) fn f_formatlist(a: &Args<'_>) -> Result<Value, Diagnostic> {
    let mut len: Option<usize> = None;
    for (i, v) in a.vals.iter().enumerate().skip(1) {
        if let Value::List(xs) = v {
            match len {
                Some(l) if l != xs.len() => {
                    return Err(a.value_err(
                        i,
                        "The lists given to `formatlist` must all have the same length.",
                    ))
                }
                _ => len = Some(xs.len()),
            }
        }
    }
    let Some(len) = len else {
        return Err(a.value_err(0, "`formatlist` needs at least one list argument."));
    };
    let mut out = Vec::with_capacity(len);
    for n in 0..len {
        let mut vals = vec![a.get(0).clone()];
        for v in a.vals.iter().skip(1) {
            vals.push(match v {
                Value::List(xs) => xs[n].clone(),
                other => other.clone(),
            });
        }
        let row = Args {
            name: "format",
            vals: &vals,
            spans: a.spans,
            call: a.call,
            ctx: a.ctx,
        };
        out.push(super::f_format(&row)?);
    }
    Ok(Value::List(out))
}

// ------------------------------------------------------------------ numbers

pub(super) fn f_pow(a: &Args<'_>) -> Result<Value, Diagnostic> {
    Ok(Value::Number(a.num(0)?.powf(a.num(1)?)))
}

pub(super) fn f_signum(a: &Args<'_>) -> Result<Value, Diagnostic> {
    let n = a.num(0)?;
    Ok(Value::Number(if n == 0.0 { 0.0 } else { n.signum() }))
}

pub(super) fn f_log(a: &Args<'_>) -> Result<Value, Diagnostic> {
    let (n, base) = (a.num(0)?, a.num(1)?);
    if n <= 0.0 || base <= 0.0 || base == 1.0 {
        return Err(a.value_err(
            0,
            "`log` needs a positive number and a positive base other than 1.",
        ));
    }
    Ok(Value::Number(n.log(base)))
}

pub(super) fn f_parseint(a: &Args<'_>) -> Result<Value, Diagnostic> {
    let s = a.str(0)?;
    let base = a.int(1)?;
    if !(2..=62).contains(&base) {
        return Err(a.value_err(1, "The base of `parseint` must be from 2 to 62."));
    }
    let (negative, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let mut n: i64 = 0;
    for c in digits.chars() {
        let d = match c {
            '0'..='9' => c as i64 - '0' as i64,
            'a'..='z' if base <= 36 => c as i64 - 'a' as i64 + 10,
            'A'..='Z' if base <= 36 => c as i64 - 'A' as i64 + 10,
            'a'..='z' => c as i64 - 'a' as i64 + 10,
            'A'..='Z' => c as i64 - 'A' as i64 + 36,
            _ => base,
        };
        if d >= base || digits.is_empty() {
            return Err(a.value_err(0, format!("`{s}` is not a number in base {base}.")));
        }
        n = n
            .checked_mul(base)
            .and_then(|n| n.checked_add(d))
            .filter(|n| *n < 9_000_000_000_000_000)
            .ok_or_else(|| a.value_err(0, format!("`{s}` is too large.")))?;
    }
    if digits.is_empty() {
        return Err(a.value_err(0, "`parseint` needs digits."));
    }
    Ok(Value::Number((if negative { -n } else { n }) as f64))
}

// ------------------------------------------------------------------ hashes

pub(super) fn f_md5(a: &Args<'_>) -> Result<Value, Diagnostic> {
    use md5::Digest as _;
    Ok(Value::String(hex::encode(md5::Md5::digest(
        a.str(0)?.as_bytes(),
    ))))
}

pub(super) fn f_sha1(a: &Args<'_>) -> Result<Value, Diagnostic> {
    use sha1::Digest as _;
    Ok(Value::String(hex::encode(sha1::Sha1::digest(
        a.str(0)?.as_bytes(),
    ))))
}

pub(super) fn f_sha512(a: &Args<'_>) -> Result<Value, Diagnostic> {
    Ok(Value::String(hex::encode(sha2::Sha512::digest(
        a.str(0)?.as_bytes(),
    ))))
}

pub(super) fn f_base64sha256(a: &Args<'_>) -> Result<Value, Diagnostic> {
    let digest = sha2::Sha256::digest(a.str(0)?.as_bytes());
    Ok(Value::String(
        base64::engine::general_purpose::STANDARD.encode(digest),
    ))
}

// ------------------------------------------------------------------ network

pub(super) fn f_cidrnetmask(a: &Args<'_>) -> Result<Value, Diagnostic> {
    let net = parse_cidr(a, 0)?;
    match net.netmask() {
        IpAddr::V4(m) => Ok(Value::String(m.to_string())),
        IpAddr::V6(_) => Err(a.value_err(0, "`cidrnetmask` works on IPv4 prefixes only.")),
    }
}

/// `cidrsubnets(prefix, newbits, …)`: consecutive subnets of the given sizes, each
/// aligned after the previous one, as Terraform allocates them.
pub(super) fn f_cidrsubnets(a: &Args<'_>) -> Result<Value, Diagnostic> {
    let net = parse_cidr(a, 0)?;
    let (base, width) = net_bits(&net);
    let prefix = u32::from(net.prefix_len());
    let mut next: u128 = base;
    let end = base + pow2(width - prefix).unwrap_or(u128::MAX);
    let mut out = Vec::new();
    for i in 1..a.vals.len() {
        let newbits = a.int(i)?;
        let len = prefix as i64 + newbits;
        if newbits < 1 || len > i64::from(width) {
            return Err(a.value_err(
                i,
                format!("Adding {newbits} bits to a /{prefix} does not give a valid prefix."),
            ));
        }
        let size = pow2(width - len as u32).unwrap_or(u128::MAX);
        // Align up to the subnet's size.
        let start = next.div_ceil(size).saturating_mul(size);
        if start.saturating_add(size) > end {
            return Err(a.value_err(i, "The subnets do not fit in the prefix."));
        }
        let addr = addr_from_bits(width == 32, start);
        out.push(Value::String(format!("{addr}/{len}")));
        next = start + size;
    }
    Ok(Value::List(out))
}

/// `can(expression)` with its argument already evaluated without error: true.
/// (Evaluation calls `can` lazily, like `try`.)
pub(super) fn f_can(_a: &Args<'_>) -> Result<Value, Diagnostic> {
    Ok(Value::Bool(true))
}

#[cfg(test)]
mod tests {
    use gig_core::diag::Code;
    use gig_core::span::{FileId, Span};
    use gig_core::value::Value;

    use crate::functions::{call, CallContext};

    fn run(name: &str, args: Vec<Value>) -> Result<Value, gig_core::diag::Diagnostic> {
        let sp = Span::new(FileId(0), 0, 1);
        call(
            name,
            args.clone(),
            &vec![sp; args.len()],
            sp,
            &CallContext::default(),
        )
    }

    fn ok(name: &str, args: Vec<Value>) -> Value {
        run(name, args).unwrap_or_else(|d| panic!("{name}: {} {}", d.code, d.detail))
    }

    fn s(x: &str) -> Value {
        Value::from(x)
    }

    fn n(x: f64) -> Value {
        Value::Number(x)
    }

    fn list(xs: Vec<Value>) -> Value {
        Value::List(xs)
    }

    #[test]
    fn format_takes_flags_width_and_precision() {
        let f = |spec: &str, v: Value| ok("format", vec![s(spec), v]);
        assert_eq!(f("%03d", n(7.0)), s("007"));
        assert_eq!(f("%-4s|", s("ab")), s("ab  |"));
        assert_eq!(f("%4s", s("ab")), s("  ab"));
        assert_eq!(f("%.2f", n(1.23456)), s("1.23"));
        assert_eq!(f("%05.1f", n(-2.25)), s("-02.2"));
        assert_eq!(f("%+d", n(5.0)), s("+5"));
        assert_eq!(f("%x", n(255.0)), s("ff"));
        assert_eq!(f("%t", Value::Bool(true)), s("true"));
        assert_eq!(f("%.3s", s("abcdef")), s("abc"));
        assert_eq!(
            run("format", vec![s("%y"), n(1.0)]).map_err(|d| d.code),
            Err(Code::E0123)
        );
    }

    #[test]
    fn regex_shapes_follow_the_groups() {
        assert_eq!(ok("regex", vec![s("[0-9]+"), s("ab12")]), s("12"));
        assert_eq!(
            ok("regex", vec![s("([a-z]+)-([0-9]+)"), s("ab-12")]),
            list(vec![s("ab"), s("12")])
        );
        let named = ok("regex", vec![s("(?P<k>[a-z]+)=(?P<v>[0-9]+)"), s("x=1")]);
        assert_eq!(named.get("k"), Some(&s("x")));
        assert_eq!(
            ok("regexall", vec![s("[a-z]"), s("a1b")]),
            list(vec![s("a"), s("b")])
        );
        assert_eq!(
            run("regex", vec![s("z"), s("a")]).map_err(|d| d.code),
            Err(Code::E0123)
        );
        assert_eq!(
            run("regex", vec![s("("), s("a")]).map_err(|d| d.code),
            Err(Code::E0123)
        );
    }

    #[test]
    fn collections() {
        assert_eq!(
            ok(
                "setproduct",
                vec![list(vec![s("a"), s("b")]), list(vec![n(1.0)])]
            ),
            list(vec![list(vec![s("a"), n(1.0)]), list(vec![s("b"), n(1.0)])])
        );
        assert_eq!(ok("one", vec![list(vec![])]), Value::Null);
        assert_eq!(
            run("one", vec![list(vec![n(1.0), n(2.0)])]).map_err(|d| d.code),
            Err(Code::E0123)
        );
        assert_eq!(
            ok("index", vec![list(vec![s("a"), s("b")]), s("b")]),
            n(1.0)
        );
        assert_eq!(
            ok("sort", vec![list(vec![s("b"), s("a"), s("c10"), s("c9")])]),
            list(vec![s("a"), s("b"), s("c10"), s("c9")])
        );
        assert_eq!(
            ok(
                "chunklist",
                vec![list(vec![n(1.0), n(2.0), n(3.0)]), n(2.0)]
            ),
            list(vec![list(vec![n(1.0), n(2.0)]), list(vec![n(3.0)])])
        );
        assert_eq!(
            ok(
                "setsubtract",
                vec![list(vec![s("a"), s("b")]), list(vec![s("b")])]
            ),
            list(vec![s("a")])
        );
        assert_eq!(
            ok(
                "formatlist",
                vec![s("%s-%d"), list(vec![s("a"), s("b")]), n(3.0)]
            ),
            list(vec![s("a-3"), s("b-3")])
        );
        assert_eq!(ok("sum", vec![list(vec![n(1.0), n(2.5)])]), n(3.5));
    }

    #[test]
    fn numbers_hashes_and_networks() {
        assert_eq!(ok("parseint", vec![s("ff"), n(16.0)]), n(255.0));
        assert_eq!(ok("parseint", vec![s("-101"), n(2.0)]), n(-5.0));
        assert_eq!(
            run("parseint", vec![s("12"), n(2.0)]).map_err(|d| d.code),
            Err(Code::E0123)
        );
        assert_eq!(
            ok("md5", vec![s("x")]),
            s("9dd4e461268c8034f5c8564e155c67a6")
        );
        assert_eq!(
            ok("sha1", vec![s("x")]),
            s("11f6ad8ec52a2984abaafd7c3b516503785c2072")
        );
        assert_eq!(ok("cidrnetmask", vec![s("10.0.0.0/16")]), s("255.255.0.0"));
        assert_eq!(
            ok(
                "cidrsubnets",
                vec![s("10.1.0.0/16"), n(4.0), n(4.0), n(8.0), n(4.0)]
            ),
            list(vec![
                s("10.1.0.0/20"),
                s("10.1.16.0/20"),
                s("10.1.32.0/24"),
                s("10.1.48.0/20")
            ])
        );
        assert_eq!(
            run(
                "cidrsubnets",
                vec![s("10.1.0.0/24"), n(1.0), n(1.0), n(1.0)]
            )
            .map_err(|d| d.code),
            Err(Code::E0123)
        );
        assert_eq!(ok("urlencode", vec![s("a b&c/d")]), s("a%20b%26c%2Fd"));
        assert_eq!(
            ok("title", vec![s("hello world-foo")]),
            s("Hello World-Foo")
        );
    }
}
