//! `aws.security_group_rule`: one ingress or egress rule of a security group, managed
//! apart from the group.
//!
//! AWS stores one rule per source, so a rule with several sources is several AWS rules
//! (the atoms of `security_group.rs`). The id names the whole set by its content, in
//! Terraform's import format: `<group>_<type>_<protocol>_<from>_<to>_<source>…`, each
//! source a CIDR, an IPv6 CIDR, a prefix list id, a security group id or `self`. So an
//! import needs no lookup, and an interrupted create is found by reading that id.
//!
//! **Read**: DescribeSecurityGroups (one call per 50 groups) lists each group's
//! permissions with their descriptions; a rule reads back with the sources of its id that
//! are still present (drift shows as a shorter source list), and is gone when none is.
//! **Update**: only `description` changes in place (UpdateSecurityGroupRuleDescriptions…);
//! everything else forces a new rule, as in Terraform. **Delete** revokes by rule id
//! (DescribeSecurityGroupRules): revoking a group-referencing rule by permission needs
//! its exact description, which a stale state may not have.

use std::collections::BTreeMap;

use async_trait::async_trait;
use gig_core::value::Value;
use gig_provider::{AttrType, Lookup, OpContext, ProviderError, UpdateRequest};

use crate::common::{
    opt_bool, opt_i32, opt_str, req_str, sdk_error, sorted_string_list, str_list, t_str_set,
};
use crate::ec2::filter;
use crate::ec2::security_group::{
    atom_permission, describe_groups, normalize_protocol, rule_atom, Atom, Source,
};
use crate::model::{optional, required, Decl, Model, New};
use crate::Clients;

/// The `aws.security_group_rule` resource type.
pub(crate) struct SecurityGroupRule;

#[async_trait]
impl Model for SecurityGroupRule {
    fn decl(&self) -> Decl {
        Decl {
            type_name: "aws.security_group_rule",
            description: "One ingress or egress rule of a security group, managed apart from the group: a protocol, \
                          a port range and its sources (`cidr_blocks`, `ipv6_cidr_blocks`, `prefix_list_ids`, \
                          `source_security_group_id` or `self`). AWS keeps one rule per source; gig manages them \
                          as one. Only `description` changes in place; any other change replaces the rule. The id \
                          is Terraform's import format, `<group>_<type>_<protocol>_<from>_<to>_<source>…` \
                          (`sg-0a1b_ingress_tcp_443_443_10.0.0.0/8`), so `gig import` takes that too.\n\n\
                          **Next to a group's inline rules**: leave the group's `ingress` (for ingress rules) or \
                          `egress` (for egress rules) unset; gig then leaves that direction of the group to the \
                          standalone rules. A group that declares blocks for the same direction makes its rules \
                          exactly those blocks and would revoke the standalone ones.",
            example: "resource aws.security_group_rule https_in {\n  security_group_id = aws.security_group.web.id\n  \
                      type              = \"ingress\"\n  protocol          = \"tcp\"\n  from_port         = 443\n  \
                      to_port           = 443\n  cidr_blocks       = [\"0.0.0.0/0\"]\n}",
            id: "rule's content in Terraform's import format",
            attrs: vec![
                required("security_group_id", AttrType::String, "The group the rule belongs to.").force_new(),
                required("type", AttrType::String, "`ingress` or `egress`.").force_new(),
                required(
                    "protocol",
                    AttrType::String,
                    "tcp, udp, icmp, icmpv6, a protocol number, or -1 / all for every protocol.",
                )
                .force_new(),
                required("from_port", AttrType::Number, "First port of the range (ICMP: the type).").force_new(),
                required("to_port", AttrType::Number, "Last port of the range (ICMP: the code).").force_new(),
                optional("cidr_blocks", t_str_set(), "IPv4 sources (ingress) or destinations (egress).").force_new(),
                optional("ipv6_cidr_blocks", t_str_set(), "IPv6 sources or destinations.").force_new(),
                optional("prefix_list_ids", t_str_set(), "Managed prefix list ids (a gateway endpoint's `prefix_list_id`).")
                    .force_new(),
                optional(
                    "source_security_group_id",
                    AttrType::String,
                    "A security group as the source (ingress) or destination (egress).",
                )
                .force_new(),
                optional("self", AttrType::Bool, "Whether the group itself is the source or destination.")
                    .default(false)
                    .force_new(),
                optional("description", AttrType::String, "A description of the rule; changes in place."),
            ],
            ..Decl::default()
        }
    }

    async fn fetch(
        &self,
        clients: &Clients,
        ids: Vec<String>,
    ) -> Result<BTreeMap<String, Value>, ProviderError> {
        let specs: Vec<Spec> = ids
            .iter()
            .map(|id| Spec::parse(id))
            .collect::<Result<_, _>>()?;
        let mut groups: Vec<String> = specs.iter().map(|s| s.group.clone()).collect();
        groups.sort();
        groups.dedup();
        let groups = describe_groups(clients, groups).await?;
        Ok(ids
            .into_iter()
            .zip(specs)
            .filter_map(|(id, spec)| {
                let have = groups.get(&spec.group)?;
                spec.read(&have.atoms).map(|v| (id, v))
            })
            .collect())
    }

    async fn create(
        &self,
        clients: &Clients,
        _decl: &Decl,
        new: New<'_>,
    ) -> Result<String, ProviderError> {
        let spec = Spec::planned(new.planned)?;
        let description = opt_str(new.planned, "description")?;
        let permissions = spec.permissions(description);
        if spec.egress {
            clients
                .ec2
                .authorize_security_group_egress()
                .group_id(&spec.group)
                .set_ip_permissions(Some(permissions))
                .send()
                .await
                .map_err(|e| sdk_error("AuthorizeSecurityGroupEgress", e))?;
        } else {
            clients
                .ec2
                .authorize_security_group_ingress()
                .group_id(&spec.group)
                .set_ip_permissions(Some(permissions))
                .send()
                .await
                .map_err(|e| sdk_error("AuthorizeSecurityGroupIngress", e))?;
        }
        let id = spec.id();
        new.ctx.created(&id);
        Ok(id)
    }

    async fn find_created(
        &self,
        clients: &Clients,
        _decl: &Decl,
        _ctx: &OpContext,
        planned: &Value,
    ) -> Result<Lookup, ProviderError> {
        // A rule's id is its content and AWS refuses a second identical rule, so a rule
        // with this id is the one the interrupted create made.
        let id = Spec::planned(planned)?.id();
        let found = self.fetch(clients, vec![id]).await?;
        Ok(Lookup::Found(found.into_keys().collect()))
    }

    async fn update(
        &self,
        clients: &Clients,
        _decl: &Decl,
        req: UpdateRequest<'_>,
    ) -> Result<(), ProviderError> {
        let spec = Spec::parse(req.id)?;
        let permissions = spec.permissions(opt_str(req.planned, "description")?);
        if spec.egress {
            clients
                .ec2
                .update_security_group_rule_descriptions_egress()
                .group_id(&spec.group)
                .set_ip_permissions(Some(permissions))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| sdk_error("UpdateSecurityGroupRuleDescriptionsEgress", e))
        } else {
            clients
                .ec2
                .update_security_group_rule_descriptions_ingress()
                .group_id(&spec.group)
                .set_ip_permissions(Some(permissions))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| sdk_error("UpdateSecurityGroupRuleDescriptionsIngress", e))
        }
    }

    async fn delete(
        &self,
        clients: &Clients,
        _decl: &Decl,
        id: &str,
        _prior: &Value,
    ) -> Result<(), ProviderError> {
        let spec = Spec::parse(id)?;
        let want = spec.atoms(None);
        let mut revoke = Vec::new();
        let mut pages = clients
            .ec2
            .describe_security_group_rules()
            .filters(filter("group-id", [spec.group.as_str()]))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| sdk_error("DescribeSecurityGroupRules", e))?;
            for r in page.security_group_rules() {
                if let (Some(rid), Some(atom)) = (r.security_group_rule_id(), rule_atom(r)) {
                    if want.iter().any(|w| w.same_rule(&atom)) {
                        revoke.push(rid.to_string());
                    }
                }
            }
        }
        if revoke.is_empty() {
            return Ok(());
        }
        let revoked = if spec.egress {
            clients
                .ec2
                .revoke_security_group_egress()
                .group_id(&spec.group)
                .set_security_group_rule_ids(Some(revoke))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| sdk_error("RevokeSecurityGroupEgress", e))
        } else {
            clients
                .ec2
                .revoke_security_group_ingress()
                .group_id(&spec.group)
                .set_security_group_rule_ids(Some(revoke))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| sdk_error("RevokeSecurityGroupIngress", e))
        };
        match revoked {
            Err(e) if e.code.as_deref() == Some("InvalidPermission.NotFound") => Ok(()),
            other => other,
        }
    }
}

/// What a rule is, as its id spells it.
#[derive(Debug, PartialEq)]
struct Spec {
    group: String,
    egress: bool,
    /// As configured (`all`, `6`, `tcp`): the id keeps the user's spelling.
    protocol: String,
    from: i32,
    to: i32,
    cidrs: Vec<String>,
    cidrs6: Vec<String>,
    prefix_lists: Vec<String>,
    source_group: Option<String>,
    own: bool,
}

impl Spec {
    /// The rule a Planned value describes, checked.
    fn planned(v: &Value) -> Result<Spec, ProviderError> {
        let egress = match req_str(v, "type")? {
            "ingress" => false,
            "egress" => true,
            other => {
                return Err(ProviderError::invalid_attribute(
                    "type",
                    format!("`type` must be \"ingress\" or \"egress\", not {other:?}"),
                ))
            }
        };
        let port = |name| {
            opt_i32(v, name)?.ok_or_else(|| {
                ProviderError::invalid_attribute(name, format!("`{name}` is required"))
            })
        };
        let spec = Spec {
            group: req_str(v, "security_group_id")?.to_string(),
            egress,
            protocol: req_str(v, "protocol")?.to_string(),
            from: port("from_port")?,
            to: port("to_port")?,
            cidrs: str_list(v, "cidr_blocks")?,
            cidrs6: str_list(v, "ipv6_cidr_blocks")?,
            prefix_lists: str_list(v, "prefix_list_ids")?,
            source_group: opt_str(v, "source_security_group_id")?.map(str::to_string),
            own: opt_bool(v, "self")?.unwrap_or(false),
        };
        if spec.source_group.is_some()
            && (spec.own || !spec.cidrs.is_empty() || !spec.cidrs6.is_empty())
        {
            return Err(ProviderError::invalid_attribute(
                "source_security_group_id",
                "`source_security_group_id` cannot be combined with `cidr_blocks`, `ipv6_cidr_blocks` or `self`",
            ));
        }
        if spec.sources().is_empty() {
            return Err(ProviderError::invalid_attribute(
                "cidr_blocks",
                "a rule needs at least one of `cidr_blocks`, `ipv6_cidr_blocks`, `prefix_list_ids`, `source_security_group_id` or `self`",
            ));
        }
        if spec
            .sources()
            .iter()
            .chain([&spec.protocol, &spec.group])
            .any(|s| s.contains('_') || s.is_empty())
        {
            return Err(ProviderError::invalid_attribute(
                "protocol",
                "rule protocols, groups and sources cannot contain `_`",
            ));
        }
        Ok(spec)
    }

    /// The sources in id order: CIDRs, IPv6 CIDRs, prefix lists, then the group or `self`.
    fn sources(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .cidrs
            .iter()
            .chain(&self.cidrs6)
            .chain(&self.prefix_lists)
            .cloned()
            .collect();
        out.extend(self.source_group.clone());
        if self.own {
            out.push("self".to_string());
        }
        out
    }

    /// The id: Terraform's import format.
    fn id(&self) -> String {
        let head = format!(
            "{}_{}_{}_{}_{}",
            self.group,
            if self.egress { "egress" } else { "ingress" },
            self.protocol,
            self.from,
            self.to
        );
        std::iter::once(head)
            .chain(self.sources())
            .collect::<Vec<_>>()
            .join("_")
    }

    /// The rule an id names.
    fn parse(id: &str) -> Result<Spec, ProviderError> {
        let bad = || {
            ProviderError::invalid_attribute(
                "id",
                format!(
                    "`{id}` is not a rule id: expected <group>_<ingress|egress>_<protocol>_<from>_<to>_<source>…"
                ),
            )
        };
        let parts: Vec<&str> = id.split('_').collect();
        let [group, kind, protocol, from, to, sources @ ..] = parts.as_slice() else {
            return Err(bad());
        };
        if sources.is_empty() {
            return Err(bad());
        }
        let mut spec = Spec {
            group: group.to_string(),
            egress: match *kind {
                "ingress" => false,
                "egress" => true,
                _ => return Err(bad()),
            },
            protocol: protocol.to_string(),
            from: from.parse().map_err(|_| bad())?,
            to: to.parse().map_err(|_| bad())?,
            cidrs: Vec::new(),
            cidrs6: Vec::new(),
            prefix_lists: Vec::new(),
            source_group: None,
            own: false,
        };
        for s in sources {
            let s = s.to_string();
            if s == "self" {
                spec.own = true;
            } else if s.contains(':') {
                spec.cidrs6.push(s);
            } else if s.contains('/') {
                spec.cidrs.push(s);
            } else if s.starts_with("pl-") {
                spec.prefix_lists.push(s);
            } else {
                spec.source_group = Some(s);
            }
        }
        Ok(spec)
    }

    /// The AWS rules of this rule, each with `description`.
    fn atoms(&self, description: Option<&str>) -> Vec<Atom> {
        let protocol = normalize_protocol(&self.protocol);
        let (from, to) = if protocol == "-1" {
            (-1, -1)
        } else {
            (self.from, self.to)
        };
        let mut sources: Vec<Source> = Vec::new();
        sources.extend(self.cidrs.iter().cloned().map(Source::Cidr4));
        sources.extend(self.cidrs6.iter().cloned().map(Source::Cidr6));
        sources.extend(self.prefix_lists.iter().cloned().map(Source::PrefixList));
        sources.extend(self.source_group.iter().cloned().map(Source::Group));
        if self.own {
            sources.push(Source::Group(self.group.clone()));
        }
        sources
            .into_iter()
            .map(|source| Atom {
                egress: self.egress,
                protocol: protocol.clone(),
                from,
                to,
                source,
                description: description.filter(|d| !d.is_empty()).map(str::to_string),
            })
            .collect()
    }

    /// The permissions that authorize (or describe) this rule.
    fn permissions(&self, description: Option<&str>) -> Vec<aws_sdk_ec2::types::IpPermission> {
        self.atoms(description)
            .iter()
            .map(atom_permission)
            .collect()
    }

    /// The rule's value from the group's atoms `have`, with only the sources still
    /// present; `None` when none is.
    fn read(&self, have: &[Atom]) -> Option<Value> {
        let present: Vec<&Atom> = have
            .iter()
            .filter(|a| self.atoms(None).iter().any(|w| w.same_rule(a)))
            .collect();
        let first = present.first()?;
        let mut cidrs = Vec::new();
        let mut cidrs6 = Vec::new();
        let mut lists = Vec::new();
        let mut group = None;
        let mut own = false;
        for a in &present {
            match &a.source {
                Source::Cidr4(c) => cidrs.push(c.as_str()),
                Source::Cidr6(c) => cidrs6.push(c.as_str()),
                Source::PrefixList(p) => lists.push(p.as_str()),
                Source::Group(g) if self.own && *g == self.group => own = true,
                Source::Group(g) => group = Some(g.as_str()),
            }
        }
        let id = self.id();
        let m = BTreeMap::from([
            ("id".to_string(), Value::str(&id)),
            ("security_group_id".to_string(), Value::str(&self.group)),
            (
                "type".to_string(),
                Value::str(if self.egress { "egress" } else { "ingress" }),
            ),
            ("protocol".to_string(), Value::str(&self.protocol)),
            ("from_port".to_string(), Value::from(i64::from(self.from))),
            ("to_port".to_string(), Value::from(i64::from(self.to))),
            ("cidr_blocks".to_string(), sorted_string_list(cidrs)),
            ("ipv6_cidr_blocks".to_string(), sorted_string_list(cidrs6)),
            ("prefix_list_ids".to_string(), sorted_string_list(lists)),
            (
                "source_security_group_id".to_string(),
                group.map_or(Value::Null, Value::str),
            ),
            ("self".to_string(), Value::Bool(own)),
            (
                "description".to_string(),
                first.description.as_deref().map_or(Value::Null, Value::str),
            ),
        ]);
        Some(Value::Map(m))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_in_terraforms_import_format() {
        let v = Value::from_json(&serde_json::json!({
            "security_group_id": "sg-1", "type": "ingress", "protocol": "tcp",
            "from_port": 443, "to_port": 443,
            "cidr_blocks": ["10.0.0.0/8", "0.0.0.0/0"], "ipv6_cidr_blocks": ["::/0"],
            "prefix_list_ids": ["pl-9"], "self": true
        }));
        let spec = Spec::planned(&v).unwrap();
        let id = spec.id();
        assert_eq!(
            id,
            "sg-1_ingress_tcp_443_443_10.0.0.0/8_0.0.0.0/0_::/0_pl-9_self"
        );
        assert_eq!(Spec::parse(&id).unwrap(), spec);
        let by_group = Spec::parse("sg-1_egress_all_0_0_sg-2").unwrap();
        assert_eq!(by_group.source_group.as_deref(), Some("sg-2"));
        assert_eq!(by_group.atoms(None)[0].from, -1);
        for bad in [
            "sg-1",
            "sg-1_sideways_tcp_1_1_0.0.0.0/0",
            "sg-1_ingress_tcp_a_1_x",
            "sg-1_ingress_tcp_1_1",
        ] {
            assert_eq!(
                Spec::parse(bad).unwrap_err().attribute.as_deref(),
                Some("id"),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_rule_needs_one_kind_of_source() {
        let base = serde_json::json!({
            "security_group_id": "sg-1", "type": "ingress", "protocol": "tcp", "from_port": 1, "to_port": 1
        });
        let err = Spec::planned(&Value::from_json(&base)).unwrap_err();
        assert_eq!(err.attribute.as_deref(), Some("cidr_blocks"));
        let mut both = base.clone();
        both["source_security_group_id"] = "sg-2".into();
        both["cidr_blocks"] = serde_json::json!(["10.0.0.0/8"]);
        let err = Spec::planned(&Value::from_json(&both)).unwrap_err();
        assert_eq!(err.attribute.as_deref(), Some("source_security_group_id"));
        let mut sideways = base;
        sideways["type"] = "sideways".into();
        sideways["self"] = true.into();
        assert_eq!(
            Spec::planned(&Value::from_json(&sideways))
                .unwrap_err()
                .attribute
                .as_deref(),
            Some("type")
        );
    }
}
