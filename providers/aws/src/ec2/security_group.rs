//! `aws.security_group`: a VPC security group with its rules managed inline.
//!
//! # Rules
//!
//! `ingress` and `egress` are sets of rule blocks. A block names a protocol, a port
//! range (`port` for a single port, or `from_port`/`to_port`) and any number of sources:
//! `cidr_blocks`, `ipv6_cidr_blocks`, `security_groups` (alias `from_security_groups`)
//! and `self`. AWS stores one rule per source, so a block is flattened into *atoms*
//! `(direction, protocol, from, to, source, description)`.
//!
//! **Update in place by rule id:** the current rules are listed with
//! DescribeSecurityGroupRules (each has an id); rules whose atom is no longer planned
//! are revoked by id, planned atoms not present are authorized. Unchanged rules are
//! never touched. A description change revokes and re-authorizes that one rule.
//!
//! **Reading** uses DescribeSecurityGroups only (one call per 50 groups) and groups the
//! atoms back into blocks: first into the blocks of the Prior value whose atoms are all
//! present (so a block written with several CIDRs reads back as written), then the
//! remaining atoms by (protocol, ports, description).
//!
//! **Default egress rule:** AWS adds "allow all outbound" to every new group. As in
//! Terraform, `egress` is always managed: on create gig removes that rule unless the
//! configuration declares it (`egress { protocol = "-1", cidr_blocks = ["0.0.0.0/0"] }`).
//! A group without `egress` blocks therefore has no outbound rules, and plans clean.
//!
//! **Protocols**: `tcp`, `udp`, `icmp`, `icmpv6`, or `-1` / `all` for all (its ports read
//! back as 0); numbers 6, 17, 1 and 58 are accepted too. A rule matched to a configured
//! block reads back in the configuration's spelling; others in AWS's (`-1`, names).

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use aws_sdk_ec2::types::{
    IpPermission, IpRange, Ipv6Range, PrefixListId, ResourceType as Ec2ResourceType,
    SecurityGroupRule, UserIdGroupPair,
};
use gig_core::value::Value;
use gig_provider::{AttrType, AttributeSchema, OpContext, ProviderError, UpdateRequest};

use crate::common::{
    changed, client_token, has_code, list, on_attribute, opt_bool, opt_i32, opt_str, req_str,
    retry_not_found, sdk_error, sorted_string_list, str_list, tags_value, TAG_ADDRESS, TAG_STACK,
};
use crate::ec2::{arn, filter, tag_map, tag_spec};
use crate::model::{computed, optional, prefixed_name, Decl, Model, New};
use crate::tagging::Tagging;
use crate::Clients;

/// The description AWS requires when the configuration gives none.
pub(crate) const DEFAULT_DESCRIPTION: &str = "Managed by gig";

/// The docs paragraph of `aws.security_group`.
pub(crate) const DESCRIPTION: &str = "A security group with inline ingress and egress rules. Rules are sets of blocks, each \
                          with a protocol, a port range (`port`, or `from_port`/`to_port`) and sources \
                          (`cidr_blocks`, `ipv6_cidr_blocks`, `security_groups` — also spelled \
                          `from_security_groups` — and `self`). Rule changes are applied in place, rule by rule \
                          (revoked by rule id). AWS's default allow-all egress rule is removed on create unless \
                          the configuration declares it, so a group without egress blocks has no outbound rules. \
                          Name, description and VPC cannot change in place.\n\n\
                          **With standalone rules** (`aws.security_group_rule`): a direction whose blocks are unset \
                          is not managed by the group — gig neither reads it as drift nor revokes its rules, so \
                          standalone rules of that direction are safe. Do not give the same direction both inline \
                          blocks and standalone rules: the group's rule sync would revoke the standalone ones. \
                          Prefix-list rules are never touched by the group (inline blocks cannot express them).";

/// The `aws.security_group` resource type.
pub(crate) struct SecurityGroup;

fn rule_schema() -> AttrType {
    let mut r = BTreeMap::new();
    r.insert(
        "protocol".into(),
        AttributeSchema::required(
            AttrType::String,
            "tcp, udp, icmp, icmpv6, or -1 / all for every protocol.",
        ),
    );
    r.insert(
        "port".into(),
        AttributeSchema::optional(
            AttrType::Number,
            "Shorthand for from_port = to_port = port.",
        )
        .also_computed(),
    );
    r.insert(
        "from_port".into(),
        AttributeSchema::optional(
            AttrType::Number,
            "First port of the range (ICMP: the type).",
        )
        .also_computed(),
    );
    r.insert(
        "to_port".into(),
        AttributeSchema::optional(AttrType::Number, "Last port of the range (ICMP: the code).")
            .also_computed(),
    );
    r.insert(
        "cidr_blocks".into(),
        AttributeSchema::optional(
            AttrType::Set(Box::new(AttrType::String)),
            "IPv4 sources (ingress) or destinations (egress).",
        ),
    );
    r.insert(
        "ipv6_cidr_blocks".into(),
        AttributeSchema::optional(
            AttrType::Set(Box::new(AttrType::String)),
            "IPv6 sources or destinations.",
        ),
    );
    r.insert(
        "security_groups".into(),
        AttributeSchema::optional(
            AttrType::Set(Box::new(AttrType::String)),
            "Security group ids as sources or destinations.",
        )
        .also_computed(),
    );
    r.insert(
        "from_security_groups".into(),
        AttributeSchema::optional(
            AttrType::Set(Box::new(AttrType::String)),
            "Alias of security_groups.",
        )
        .also_computed(),
    );
    r.insert(
        "self".into(),
        AttributeSchema::optional(
            AttrType::Bool,
            "Whether the group itself is a source or destination.",
        )
        .default(false),
    );
    r.insert(
        "description".into(),
        AttributeSchema::optional(AttrType::String, "A description of the rule."),
    );
    AttrType::Set(Box::new(AttrType::Object(r)))
}

#[async_trait]
impl Model for SecurityGroup {
    fn decl(&self) -> Decl {
        Decl {
            type_name: "aws.security_group",
            description: DESCRIPTION,
            example: "resource aws.security_group db {\n  vpc_id = aws.vpc.main.id\n  ingress {\n    protocol             = \"tcp\"\n    \
                      port                 = 3306\n    from_security_groups = [aws.security_group.app.id]\n  }\n  egress {\n    \
                      protocol    = \"-1\"\n    cidr_blocks = [\"0.0.0.0/0\"]\n  }\n}",
            id: "security group id",
            attrs: vec![
                optional(
                    "name",
                    AttrType::String,
                    "The group name, unique in the VPC. When neither `name` nor `name_prefix` is set gig derives a stable one from the stack and address.",
                )
                .also_computed()
                .force_new(),
                optional(
                    "name_prefix",
                    AttrType::String,
                    "A name prefix: gig appends a suffix fixed for each create, so a create-before-destroy replacement gets a new name.",
                )
                .force_new(),
                optional(
                    "description",
                    AttrType::String,
                    "The group description (AWS cannot change it).",
                )
                .default(DEFAULT_DESCRIPTION)
                .force_new(),
                optional(
                    "vpc_id",
                    AttrType::String,
                    "The VPC; the region's default VPC when unset.",
                )
                .also_computed()
                .force_new(),
                optional(
                    "ingress",
                    rule_schema(),
                    "Inbound rules (blocks); changed in place rule by rule. When unset gig leaves the group's inbound rules alone (standalone `aws.security_group_rule`s); `ingress = []` removes them all.",
                )
                .also_computed(),
                optional(
                    "egress",
                    rule_schema(),
                    "Outbound rules (blocks); changed in place. AWS's default allow-all rule is removed on create unless declared. When unset gig leaves the group's outbound rules alone after create; `egress = []` removes them all.",
                )
                .also_computed(),
                computed("arn", AttrType::String, "The group's ARN."),
                computed("owner_id", AttrType::String, "The owning AWS account id."),
            ],
            tags: Some(Tagging::Ec2),
            // Interfaces of instances or load balancers terminated just before keep the
            // group in use for a while (DependencyViolation).
            delete_attempts: 7,
            ec2_tagged: Some("security-group"),
            ..Decl::default()
        }
    }

    async fn fetch(
        &self,
        clients: &Clients,
        ids: Vec<String>,
    ) -> Result<BTreeMap<String, Value>, ProviderError> {
        let groups = describe_groups(clients, ids).await?;
        Ok(groups
            .into_iter()
            .map(|(k, g)| (k, g.to_value(clients)))
            .collect())
    }

    /// Regroups the rules read into the blocks of the Prior or Planned value.
    fn present(&self, read: Value, reference: &Value) -> Value {
        let Some(id) = read.get("id").and_then(Value::as_str).map(str::to_string) else {
            return read;
        };
        let Ok(atoms) = desired_atoms(&read, &id) else {
            return read;
        };
        let atoms: Vec<Atom> = atoms.into_iter().collect();
        let mut read = read;
        if let Value::Map(m) = &mut read {
            for (attr, blocks) in group_blocks(&atoms, &id, reference) {
                m.insert(attr.to_string(), Value::List(blocks));
            }
        }
        read
    }

    async fn create(
        &self,
        clients: &Clients,
        _decl: &Decl,
        new: New<'_>,
    ) -> Result<String, ProviderError> {
        let (ctx, planned) = (new.ctx, new.planned);
        let name = match (opt_str(planned, "name")?, opt_str(planned, "name_prefix")?) {
            (Some(n), _) => n.to_string(),
            (None, Some(prefix)) => prefixed_name(ctx, planned, prefix, 255)?,
            (None, None) => generated_name(ctx),
        };
        let description = opt_str(planned, "description")?.unwrap_or(DEFAULT_DESCRIPTION);
        let vpc = opt_str(planned, "vpc_id")?;
        // Validate the rules before creating anything.
        desired_atoms(planned, "")?;
        let made = clients
            .ec2
            .create_security_group()
            .group_name(&name)
            .description(description)
            .set_vpc_id(vpc.map(str::to_string))
            .tag_specifications(tag_spec(Ec2ResourceType::SecurityGroup, &new.tags))
            .send()
            .await
            .map_err(|e| sdk_error("CreateSecurityGroup", e));
        let id = match made {
            Ok(out) => out.group_id().unwrap_or_default().to_string(),
            // A retry after a crash: the group gig made the first time is adopted when its
            // tags say it is ours; anyone else's group with that name is a real conflict.
            Err(e) if has_code(&e, "InvalidGroup.Duplicate") => {
                match find_own(clients, ctx, &name, vpc).await? {
                    Some(id) => id,
                    None => return Err(on_attribute(e, "name")),
                }
            }
            Err(e) => {
                return Err(match e.code.as_deref() {
                    Some("InvalidVpcID.NotFound") => on_attribute(e, "vpc_id"),
                    _ => e,
                })
            }
        };
        if id.is_empty() {
            return Err(ProviderError::permanent(
                "CreateSecurityGroup returned no group id",
            ));
        }
        ctx.created(&id);
        let want = desired_atoms(planned, &id)?;
        retry_not_found(|| sync_rules(clients, &id, &want, &[false, true])).await?;
        Ok(id)
    }

    async fn update(
        &self,
        clients: &Clients,
        _decl: &Decl,
        req: UpdateRequest<'_>,
    ) -> Result<(), ProviderError> {
        // Only the directions whose blocks changed are synced: a direction the
        // configuration leaves unset keeps whatever rules it has (standalone
        // `aws.security_group_rule`s among them).
        let scope: Vec<bool> = [("ingress", false), ("egress", true)]
            .into_iter()
            .filter(|(attr, _)| changed(req.changed, attr))
            .map(|(_, egress)| egress)
            .collect();
        if scope.is_empty() {
            return Ok(());
        }
        let want = desired_atoms(req.planned, req.id)?;
        sync_rules(clients, req.id, &want, &scope).await
    }

    async fn delete(
        &self,
        clients: &Clients,
        _decl: &Decl,
        id: &str,
        _prior: &Value,
    ) -> Result<(), ProviderError> {
        clients
            .ec2
            .delete_security_group()
            .group_id(id)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sdk_error("DeleteSecurityGroup", e))
    }
}

/// A stable group name for a configuration that sets none.
fn generated_name(ctx: &OpContext) -> String {
    let token = client_token(ctx, &Value::Null, "security-group-name");
    format!("gig-{}-{}", sanitize(&ctx.stack), &token[..12])
}

fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .take(40)
        .collect()
}

/// The id of a group named `name` (in `vpc`) tagged as made by this address of this stack.
async fn find_own(
    clients: &Clients,
    ctx: &OpContext,
    name: &str,
    vpc: Option<&str>,
) -> Result<Option<String>, ProviderError> {
    let mut call = clients
        .ec2
        .describe_security_groups()
        .filters(filter("group-name", [name]));
    if let Some(vpc) = vpc {
        call = call.filters(filter("vpc-id", [vpc]));
    }
    let out = call
        .send()
        .await
        .map_err(|e| sdk_error("DescribeSecurityGroups", e))?;
    Ok(out
        .security_groups()
        .iter()
        .find(|g| {
            let tags = tag_map(g.tags());
            tags.get(TAG_ADDRESS) == Some(&ctx.address) && tags.get(TAG_STACK) == Some(&ctx.stack)
        })
        .and_then(|g| g.group_id().map(str::to_string)))
}

// ---------------------------------------------------------------------------------------
// Atoms: one AWS rule each
// ---------------------------------------------------------------------------------------

/// Where one AWS rule lets traffic come from (ingress) or go to (egress).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Source {
    /// An IPv4 CIDR block.
    Cidr4(String),
    /// An IPv6 CIDR block.
    Cidr6(String),
    /// A security group id.
    Group(String),
    /// A managed prefix list id (standalone rules only: inline blocks cannot name one).
    PrefixList(String),
}

/// What atoms of one read-back block share: direction, protocol, ports, description.
type BlockKey = (bool, String, i32, i32, Option<String>);

/// One AWS rule: direction, protocol (AWS's spelling), ports (-1 for all protocols),
/// one source and a description.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Atom {
    pub egress: bool,
    pub protocol: String,
    pub from: i32,
    pub to: i32,
    pub source: Source,
    pub description: Option<String>,
}

impl Atom {
    /// Whether `other` is the same AWS rule, whatever its description.
    pub(crate) fn same_rule(&self, other: &Atom) -> bool {
        (
            self.egress,
            &self.protocol,
            self.from,
            self.to,
            &self.source,
        ) == (
            other.egress,
            &other.protocol,
            other.from,
            other.to,
            &other.source,
        )
    }

    /// Whether inline `ingress`/`egress` blocks can express this rule.
    fn inline(&self) -> bool {
        !matches!(self.source, Source::PrefixList(_))
    }
}

/// AWS's spelling of a protocol.
pub(crate) fn normalize_protocol(p: &str) -> String {
    match p.to_ascii_lowercase().as_str() {
        "all" | "-1" => "-1".to_string(),
        "6" => "tcp".to_string(),
        "17" => "udp".to_string(),
        "1" => "icmp".to_string(),
        "58" => "icmpv6".to_string(),
        other => other.to_string(),
    }
}

/// The atoms of the planned `ingress` and `egress` blocks; `own_id` stands for `self`.
fn desired_atoms(planned: &Value, own_id: &str) -> Result<BTreeSet<Atom>, ProviderError> {
    let mut out = BTreeSet::new();
    for (attr, egress) in [("ingress", false), ("egress", true)] {
        for block in list(planned, attr)? {
            out.extend(block_atoms(block, egress, own_id).map_err(|e| on_attribute(e, attr))?);
        }
    }
    Ok(out)
}

fn block_atoms(block: &Value, egress: bool, own_id: &str) -> Result<Vec<Atom>, ProviderError> {
    let protocol = normalize_protocol(req_str(block, "protocol")?);
    let (from, to) = if protocol == "-1" {
        (-1, -1)
    } else {
        match (
            opt_i32(block, "port")?,
            opt_i32(block, "from_port")?,
            opt_i32(block, "to_port")?,
        ) {
            (Some(p), None, None) => (p, p),
            (Some(p), Some(f), Some(t)) if f == p && t == p => (p, p),
            (None, Some(f), Some(t)) => (f, t),
            (Some(_), _, _) => {
                return Err(ProviderError::permanent(
                    "a rule sets port and a different from_port/to_port",
                ))
            }
            _ => {
                return Err(ProviderError::permanent(format!(
                    "a {protocol} rule needs port, or from_port and to_port"
                )))
            }
        }
    };
    let description = opt_str(block, "description")?
        .filter(|d| !d.is_empty())
        .map(str::to_string);
    let mut sources: Vec<Source> = Vec::new();
    sources.extend(
        str_list(block, "cidr_blocks")?
            .into_iter()
            .map(Source::Cidr4),
    );
    sources.extend(
        str_list(block, "ipv6_cidr_blocks")?
            .into_iter()
            .map(Source::Cidr6),
    );
    sources.extend(
        str_list(block, "security_groups")?
            .into_iter()
            .map(Source::Group),
    );
    sources.extend(
        str_list(block, "from_security_groups")?
            .into_iter()
            .map(Source::Group),
    );
    if opt_bool(block, "self")?.unwrap_or(false) {
        sources.push(Source::Group(own_id.to_string()));
    }
    if sources.is_empty() {
        return Err(ProviderError::permanent(
            "a rule needs at least one of cidr_blocks, ipv6_cidr_blocks, security_groups or self",
        ));
    }
    Ok(sources
        .into_iter()
        .map(|source| Atom {
            egress,
            protocol: protocol.clone(),
            from,
            to,
            source,
            description: description.clone(),
        })
        .collect())
}

/// The atom of a rule as DescribeSecurityGroupRules lists it.
pub(crate) fn rule_atom(r: &SecurityGroupRule) -> Option<Atom> {
    let source = if let Some(c) = r.cidr_ipv4() {
        Source::Cidr4(c.to_string())
    } else if let Some(c) = r.cidr_ipv6() {
        Source::Cidr6(c.to_string())
    } else if let Some(p) = r.prefix_list_id() {
        Source::PrefixList(p.to_string())
    } else {
        Source::Group(r.referenced_group_info()?.group_id()?.to_string())
    };
    let protocol = normalize_protocol(r.ip_protocol().unwrap_or("-1"));
    let (from, to) = if protocol == "-1" {
        (-1, -1)
    } else {
        (r.from_port().unwrap_or(-1), r.to_port().unwrap_or(-1))
    };
    Some(Atom {
        egress: r.is_egress().unwrap_or(false),
        protocol,
        from,
        to,
        source,
        description: r
            .description()
            .filter(|d| !d.is_empty())
            .map(str::to_string),
    })
}

/// The atoms of one permission as DescribeSecurityGroups lists it.
fn permission_atoms(p: &IpPermission, egress: bool) -> Vec<Atom> {
    let protocol = normalize_protocol(p.ip_protocol().unwrap_or("-1"));
    let (from, to) = if protocol == "-1" {
        (-1, -1)
    } else {
        (p.from_port().unwrap_or(-1), p.to_port().unwrap_or(-1))
    };
    let atom = |source, description: Option<&str>| Atom {
        egress,
        protocol: protocol.clone(),
        from,
        to,
        source,
        description: description.filter(|d| !d.is_empty()).map(str::to_string),
    };
    let mut out = Vec::new();
    for r in p.ip_ranges() {
        if let Some(c) = r.cidr_ip() {
            out.push(atom(Source::Cidr4(c.to_string()), r.description()));
        }
    }
    for r in p.ipv6_ranges() {
        if let Some(c) = r.cidr_ipv6() {
            out.push(atom(Source::Cidr6(c.to_string()), r.description()));
        }
    }
    for g in p.user_id_group_pairs() {
        if let Some(id) = g.group_id() {
            out.push(atom(Source::Group(id.to_string()), g.description()));
        }
    }
    for l in p.prefix_list_ids() {
        if let Some(id) = l.prefix_list_id() {
            out.push(atom(Source::PrefixList(id.to_string()), l.description()));
        }
    }
    out
}

/// The permission that authorizes one atom.
pub(crate) fn atom_permission(a: &Atom) -> IpPermission {
    let b = IpPermission::builder().ip_protocol(&a.protocol);
    let b = if a.protocol == "-1" {
        b
    } else {
        b.from_port(a.from).to_port(a.to)
    };
    let d = a.description.clone();
    match &a.source {
        Source::Cidr4(c) => b.ip_ranges(IpRange::builder().cidr_ip(c).set_description(d).build()),
        Source::Cidr6(c) => {
            b.ipv6_ranges(Ipv6Range::builder().cidr_ipv6(c).set_description(d).build())
        }
        Source::Group(g) => b.user_id_group_pairs(
            UserIdGroupPair::builder()
                .group_id(g)
                .set_description(d)
                .build(),
        ),
        Source::PrefixList(p) => b.prefix_list_ids(
            PrefixListId::builder()
                .prefix_list_id(p)
                .set_description(d)
                .build(),
        ),
    }
    .build()
}

/// Makes the group's rules of the directions in `scope` (`false` ingress, `true` egress)
/// exactly `want`: revokes other rules by id, then authorizes the missing ones. Rules
/// already right are not touched, nor are rules of other directions or prefix-list rules
/// (inline blocks cannot express those; they belong to standalone rules).
async fn sync_rules(
    clients: &Clients,
    id: &str,
    want: &BTreeSet<Atom>,
    scope: &[bool],
) -> Result<(), ProviderError> {
    let mut have: Vec<(String, Atom)> = Vec::new();
    let mut pages = clients
        .ec2
        .describe_security_group_rules()
        .filters(filter("group-id", [id]))
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| sdk_error("DescribeSecurityGroupRules", e))?;
        for r in page.security_group_rules() {
            if let (Some(rid), Some(atom)) = (r.security_group_rule_id(), rule_atom(r)) {
                if atom.inline() && scope.contains(&atom.egress) {
                    have.push((rid.to_string(), atom));
                }
            }
        }
    }
    let present: BTreeSet<&Atom> = have.iter().map(|(_, a)| a).collect();
    for &egress in scope {
        let revoke: Vec<String> = have
            .iter()
            .filter(|(_, a)| a.egress == egress && !want.contains(a))
            .map(|(rid, _)| rid.clone())
            .collect();
        if revoke.is_empty() {
            continue;
        }
        let result = if egress {
            clients
                .ec2
                .revoke_security_group_egress()
                .group_id(id)
                .set_security_group_rule_ids(Some(revoke))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| sdk_error("RevokeSecurityGroupEgress", e))
        } else {
            clients
                .ec2
                .revoke_security_group_ingress()
                .group_id(id)
                .set_security_group_rule_ids(Some(revoke))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| sdk_error("RevokeSecurityGroupIngress", e))
        };
        match result {
            Err(e) if has_code(&e, "InvalidPermission.NotFound") => {}
            other => other?,
        }
    }
    for &egress in scope {
        let add: Vec<IpPermission> = want
            .iter()
            .filter(|a| a.egress == egress && !present.contains(a))
            .map(atom_permission)
            .collect();
        if add.is_empty() {
            continue;
        }
        let (attr, result) = if egress {
            let r = clients
                .ec2
                .authorize_security_group_egress()
                .group_id(id)
                .set_ip_permissions(Some(add))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| sdk_error("AuthorizeSecurityGroupEgress", e));
            ("egress", r)
        } else {
            let r = clients
                .ec2
                .authorize_security_group_ingress()
                .group_id(id)
                .set_ip_permissions(Some(add))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| sdk_error("AuthorizeSecurityGroupIngress", e));
            ("ingress", r)
        };
        result.map_err(|e| {
            if has_code(&e, "InvalidGroup.NotFound") {
                e
            } else {
                on_attribute(e, attr)
            }
        })?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------------------

/// What DescribeSecurityGroups says about one group.
pub(crate) struct Described {
    id: String,
    name: String,
    description: String,
    vpc_id: Option<String>,
    owner_id: Option<String>,
    tags: BTreeMap<String, String>,
    /// Every rule of the group, sorted.
    pub atoms: Vec<Atom>,
}

/// Describes up to 50 groups by id; absent ids are missing from the result.
pub(crate) async fn describe_groups(
    clients: &Clients,
    ids: Vec<String>,
) -> Result<BTreeMap<String, Described>, ProviderError> {
    let mut out = BTreeMap::new();
    let mut pages = clients
        .ec2
        .describe_security_groups()
        .filters(filter("group-id", ids))
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| sdk_error("DescribeSecurityGroups", e))?;
        for g in page.security_groups() {
            let Some(id) = g.group_id() else { continue };
            let mut atoms = Vec::new();
            for p in g.ip_permissions() {
                atoms.extend(permission_atoms(p, false));
            }
            for p in g.ip_permissions_egress() {
                atoms.extend(permission_atoms(p, true));
            }
            atoms.sort();
            atoms.dedup();
            out.insert(
                id.to_string(),
                Described {
                    id: id.to_string(),
                    name: g.group_name().unwrap_or_default().to_string(),
                    description: g.description().unwrap_or_default().to_string(),
                    vpc_id: g.vpc_id().map(str::to_string),
                    owner_id: g.owner_id().map(str::to_string),
                    tags: tag_map(g.tags()),
                    atoms,
                },
            );
        }
    }
    Ok(out)
}

impl Described {
    /// The resource value, rules grouped without a reference (`present` regroups them
    /// into the configuration's blocks).
    fn to_value(&self, clients: &Clients) -> Value {
        let blocks = group_blocks(&self.atoms, &self.id, &Value::Null);
        let mut m = BTreeMap::new();
        m.insert("id".to_string(), Value::str(&self.id));
        m.insert("name".to_string(), Value::str(&self.name));
        m.insert("description".to_string(), Value::str(&self.description));
        m.insert(
            "vpc_id".to_string(),
            self.vpc_id.as_deref().map_or(Value::Null, Value::str),
        );
        for (attr, list) in blocks {
            m.insert(attr.to_string(), Value::List(list));
        }
        m.insert("tags".to_string(), tags_value(self.tags.clone()));
        m.insert(
            "arn".to_string(),
            arn(
                clients,
                self.owner_id.as_deref(),
                "security-group",
                &self.id,
            ),
        );
        m.insert(
            "owner_id".to_string(),
            self.owner_id.as_deref().map_or(Value::Null, Value::str),
        );
        Value::Map(m)
    }
}

/// The `ingress` and `egress` blocks of `atoms` (the rules of group `own_id`), sorted:
/// first the blocks of `shape` (the Prior or Planned value) whose atoms are all present,
/// so a block written with several sources reads back as written, then the remaining
/// atoms grouped by (direction, protocol, ports, description). Prefix-list rules come only
/// from standalone `aws.security_group_rule`s and are left out.
fn group_blocks<'a>(atoms: &[Atom], own_id: &str, shape: &Value) -> BTreeMap<&'a str, Vec<Value>> {
    let mut remaining: Vec<Atom> = atoms.iter().filter(|a| a.inline()).cloned().collect();
    let mut blocks: BTreeMap<&str, Vec<Value>> =
        BTreeMap::from([("ingress", Vec::new()), ("egress", Vec::new())]);
    for (attr, egress) in [("ingress", false), ("egress", true)] {
        for block in list(shape, attr).unwrap_or(&[]) {
            let Ok(atoms) = block_atoms(block, egress, own_id) else {
                continue;
            };
            if !atoms.is_empty() && atoms.iter().all(|a| remaining.contains(a)) {
                remaining.retain(|a| !atoms.contains(a));
                // Keep the configuration's spelling of an equivalent protocol ("all").
                let spelling = block.get("protocol").and_then(Value::as_str);
                if let Some(v) = block_value(&atoms, own_id, spelling) {
                    blocks.entry(attr).or_default().push(v);
                }
            }
        }
    }
    let mut groups: BTreeMap<BlockKey, Vec<Atom>> = BTreeMap::new();
    for a in remaining {
        groups
            .entry((
                a.egress,
                a.protocol.clone(),
                a.from,
                a.to,
                a.description.clone(),
            ))
            .or_default()
            .push(a);
    }
    for ((egress, ..), atoms) in groups {
        if let Some(v) = block_value(&atoms, own_id, None) {
            blocks
                .entry(if egress { "egress" } else { "ingress" })
                .or_default()
                .push(v);
        }
    }
    for list in blocks.values_mut() {
        list.sort_by_key(|v| v.to_json().to_string());
    }
    blocks
}

/// One rule block from atoms sharing protocol, ports and description; `spelling` is the
/// configuration's way of writing the same protocol, when known.
fn block_value(atoms: &[Atom], own_id: &str, spelling: Option<&str>) -> Option<Value> {
    let first = atoms.first()?;
    let (from, to) = if first.protocol == "-1" {
        (0, 0)
    } else {
        (first.from, first.to)
    };
    let mut cidrs = Vec::new();
    let mut cidrs6 = Vec::new();
    let mut groups = Vec::new();
    let mut own = false;
    for a in atoms {
        match &a.source {
            Source::Cidr4(c) => cidrs.push(c.clone()),
            Source::Cidr6(c) => cidrs6.push(c.clone()),
            Source::Group(g) if g == own_id => own = true,
            Source::Group(g) => groups.push(g.clone()),
            Source::PrefixList(_) => {}
        }
    }
    let mut m = BTreeMap::new();
    let protocol = spelling
        .filter(|p| normalize_protocol(p) == first.protocol)
        .unwrap_or(&first.protocol);
    m.insert("protocol".to_string(), Value::str(protocol));
    m.insert("from_port".to_string(), Value::from(i64::from(from)));
    m.insert("to_port".to_string(), Value::from(i64::from(to)));
    m.insert(
        "port".to_string(),
        if from == to {
            Value::from(i64::from(from))
        } else {
            Value::Null
        },
    );
    m.insert("cidr_blocks".to_string(), sorted_string_list(cidrs));
    m.insert("ipv6_cidr_blocks".to_string(), sorted_string_list(cidrs6));
    m.insert(
        "security_groups".to_string(),
        sorted_string_list(groups.clone()),
    );
    m.insert(
        "from_security_groups".to_string(),
        sorted_string_list(groups),
    );
    m.insert("self".to_string(), Value::Bool(own));
    m.insert(
        "description".to_string(),
        first.description.as_deref().map_or(Value::Null, Value::str),
    );
    Some(Value::Map(m))
}
