//! One implementation of in-place tag changes per AWS tagging API, shared by every type
//! declared on the model ([`crate::model`]).
//!
//! Each API is told the tags to set and the keys to remove (gig's own `gig:` tags are
//! never in either: see [`crate::common::tag_diff`]). Calls are made only for a
//! non-empty change.

use std::collections::BTreeMap;

use gig_provider::ProviderError;

use crate::common::sdk_error;
use crate::Clients;

/// A tagging API, naming the object by its `arn` attribute ([`Tagging::by_arn`]) or by
/// the target [`crate::model::Model::tag_target`] gives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tagging {
    /// EC2 CreateTags / DeleteTags (target: the resource id).
    Ec2,
    /// IAM TagRole / UntagRole (target: the role name).
    IamRole,
    /// IAM TagPolicy / UntagPolicy (target: the policy ARN).
    IamPolicy,
    /// IAM TagInstanceProfile / UntagInstanceProfile (target: the profile name).
    IamInstanceProfile,
    /// KMS TagResource / UntagResource (target: the key id).
    Kms,
    /// SNS TagResource / UntagResource (target: the topic ARN).
    Sns,
    /// CloudWatch Logs TagResource / UntagResource (target: the log group ARN).
    Logs,
    /// CloudWatch TagResource / UntagResource (target: the alarm ARN).
    CloudWatch,
    /// RDS AddTagsToResource / RemoveTagsFromResource (target: the ARN).
    Rds,
    /// ElastiCache AddTagsToResource / RemoveTagsFromResource (target: the ARN).
    Elasticache,
    /// ELBv2 AddTags / RemoveTags (target: the ARN).
    Elbv2,
    /// Auto Scaling CreateOrUpdateTags / DeleteTags (target: the group name); tags
    /// propagate to the instances the group launches.
    Autoscaling,
    /// SSM AddTagsToResource / RemoveTagsFromResource of a `Parameter` (target: the
    /// parameter name).
    SsmParameter,
    /// S3 GetBucketTagging + PutBucketTagging of the whole set (target: the bucket
    /// name): S3 has no call that changes one tag.
    S3,
}

impl Tagging {
    /// Whether the API names the object by the ARN in its value's `arn` attribute (RDS,
    /// ElastiCache, CloudWatch Logs, CloudWatch), for types whose id is not the ARN; the
    /// driver then asks no [`crate::model::Model::tag_target`].
    pub fn by_arn(self) -> bool {
        matches!(
            self,
            Tagging::Rds | Tagging::Elasticache | Tagging::Logs | Tagging::CloudWatch
        )
    }

    /// Sets `set` and removes `remove` on `target`.
    pub async fn sync(
        self,
        clients: &Clients,
        target: &str,
        set: &BTreeMap<String, String>,
        remove: &[String],
    ) -> Result<(), ProviderError> {
        if self == Tagging::S3 {
            return s3_sync(clients, target, set, remove).await;
        }
        if !set.is_empty() {
            self.set(clients, target, set).await?;
        }
        if !remove.is_empty() {
            self.remove(clients, target, remove).await?;
        }
        Ok(())
    }

    async fn set(
        self,
        clients: &Clients,
        target: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<(), ProviderError> {
        match self {
            Tagging::Ec2 => clients
                .ec2
                .create_tags()
                .resources(target)
                .set_tags(Some(crate::ec2::ec2_tags(tags)))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| sdk_error("CreateTags", e)),
            Tagging::IamRole => clients
                .iam
                .tag_role()
                .role_name(target)
                .set_tags(Some(iam_tags(tags)))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| sdk_error("TagRole", e)),
            Tagging::IamPolicy => clients
                .iam
                .tag_policy()
                .policy_arn(target)
                .set_tags(Some(iam_tags(tags)))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| sdk_error("TagPolicy", e)),
            Tagging::IamInstanceProfile => clients
                .iam
                .tag_instance_profile()
                .instance_profile_name(target)
                .set_tags(Some(iam_tags(tags)))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| sdk_error("TagInstanceProfile", e)),
            Tagging::Kms => clients
                .kms
                .tag_resource()
                .key_id(target)
                .set_tags(Some(kms_tags(tags)))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| sdk_error("TagResource", e)),
            Tagging::Sns => clients
                .sns
                .tag_resource()
                .resource_arn(target)
                .set_tags(Some(sns_tags(tags)))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| sdk_error("TagResource", e)),
            Tagging::Logs => clients
                .logs
                .tag_resource()
                .resource_arn(target)
                .set_tags(Some(tags.clone().into_iter().collect()))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| sdk_error("TagResource", e)),
            Tagging::CloudWatch => clients
                .cloudwatch
                .tag_resource()
                .resource_arn(target)
                .set_tags(Some(
                    tags.iter()
                        .map(|(k, v)| {
                            aws_sdk_cloudwatch::types::Tag::builder()
                                .key(k)
                                .value(v)
                                .build()
                        })
                        .collect(),
                ))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| sdk_error("TagResource", e)),
            Tagging::S3 => s3_sync(clients, target, tags, &[]).await,
            Tagging::Elbv2 => clients
                .elbv2
                .add_tags()
                .resource_arns(target)
                .set_tags(Some(crate::elbv2::to_sdk_tags(tags.clone())))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| sdk_error("AddTags", e)),
            Tagging::Autoscaling => clients
                .autoscaling
                .create_or_update_tags()
                .set_tags(Some(
                    tags.iter().map(|(k, v)| asg_tag(target, k, v)).collect(),
                ))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| sdk_error("CreateOrUpdateTags", e)),
            Tagging::Rds => clients
                .rds
                .add_tags_to_resource()
                .resource_name(target)
                .set_tags(Some(crate::rds::to_sdk_tags(tags.clone())))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| sdk_error("AddTagsToResource", e)),
            Tagging::SsmParameter => clients
                .ssm
                .add_tags_to_resource()
                .resource_type(aws_sdk_ssm::types::ResourceTypeForTagging::Parameter)
                .resource_id(target)
                .set_tags(Some(crate::ssm::to_sdk_tags(tags.clone())?))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| sdk_error("AddTagsToResource", e)),
            Tagging::Elasticache => clients
                .elasticache
                .add_tags_to_resource()
                .resource_name(target)
                .set_tags(Some(crate::elasticache::to_sdk_tags(tags.clone())))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| sdk_error("AddTagsToResource", e)),
        }
    }

    async fn remove(
        self,
        clients: &Clients,
        target: &str,
        keys: &[String],
    ) -> Result<(), ProviderError> {
        match self {
            Tagging::Ec2 => clients
                .ec2
                .delete_tags()
                .resources(target)
                .set_tags(Some(
                    keys.iter()
                        .map(|k| aws_sdk_ec2::types::Tag::builder().key(k).build())
                        .collect(),
                ))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| sdk_error("DeleteTags", e)),
            Tagging::IamRole => clients
                .iam
                .untag_role()
                .role_name(target)
                .set_tag_keys(Some(keys.to_vec()))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| sdk_error("UntagRole", e)),
            Tagging::IamPolicy => clients
                .iam
                .untag_policy()
                .policy_arn(target)
                .set_tag_keys(Some(keys.to_vec()))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| sdk_error("UntagPolicy", e)),
            Tagging::IamInstanceProfile => clients
                .iam
                .untag_instance_profile()
                .instance_profile_name(target)
                .set_tag_keys(Some(keys.to_vec()))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| sdk_error("UntagInstanceProfile", e)),
            Tagging::Kms => clients
                .kms
                .untag_resource()
                .key_id(target)
                .set_tag_keys(Some(keys.to_vec()))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| sdk_error("UntagResource", e)),
            Tagging::Sns => clients
                .sns
                .untag_resource()
                .resource_arn(target)
                .set_tag_keys(Some(keys.to_vec()))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| sdk_error("UntagResource", e)),
            Tagging::Logs => clients
                .logs
                .untag_resource()
                .resource_arn(target)
                .set_tag_keys(Some(keys.to_vec()))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| sdk_error("UntagResource", e)),
            Tagging::CloudWatch => clients
                .cloudwatch
                .untag_resource()
                .resource_arn(target)
                .set_tag_keys(Some(keys.to_vec()))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| sdk_error("UntagResource", e)),
            Tagging::S3 => s3_sync(clients, target, &BTreeMap::new(), keys).await,
            Tagging::Elbv2 => clients
                .elbv2
                .remove_tags()
                .resource_arns(target)
                .set_tag_keys(Some(keys.to_vec()))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| sdk_error("RemoveTags", e)),
            Tagging::Autoscaling => clients
                .autoscaling
                .delete_tags()
                .set_tags(Some(keys.iter().map(|k| asg_tag(target, k, "")).collect()))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| sdk_error("DeleteTags", e)),
            Tagging::Rds => clients
                .rds
                .remove_tags_from_resource()
                .resource_name(target)
                .set_tag_keys(Some(keys.to_vec()))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| sdk_error("RemoveTagsFromResource", e)),
            Tagging::SsmParameter => clients
                .ssm
                .remove_tags_from_resource()
                .resource_type(aws_sdk_ssm::types::ResourceTypeForTagging::Parameter)
                .resource_id(target)
                .set_tag_keys(Some(keys.to_vec()))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| sdk_error("RemoveTagsFromResource", e)),
            Tagging::Elasticache => clients
                .elasticache
                .remove_tags_from_resource()
                .resource_name(target)
                .set_tag_keys(Some(keys.to_vec()))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| sdk_error("RemoveTagsFromResource", e)),
        }
    }
}

/// An Auto Scaling tag of group `group`, propagated to the instances it launches.
pub(crate) fn asg_tag(group: &str, key: &str, value: &str) -> aws_sdk_autoscaling::types::Tag {
    aws_sdk_autoscaling::types::Tag::builder()
        .resource_id(group)
        .resource_type("auto-scaling-group")
        .key(key)
        .value(value)
        .propagate_at_launch(true)
        .build()
}

/// S3 tags of a bucket (every key, gig's included); none when it has no tag set.
pub(crate) async fn s3_tags(
    clients: &Clients,
    bucket: &str,
) -> Result<BTreeMap<String, String>, ProviderError> {
    match clients.s3.get_bucket_tagging().bucket(bucket).send().await {
        Ok(out) => Ok(out
            .tag_set()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect()),
        Err(e) => {
            let e = sdk_error("GetBucketTagging", e);
            if matches!(
                e.code.as_deref(),
                Some("NoSuchTagSet" | "NoSuchTagSetError")
            ) {
                Ok(BTreeMap::new())
            } else {
                Err(e)
            }
        }
    }
}

/// Writes the bucket's whole tag set: the current one with `set` applied and `remove`
/// taken out (gig's own tags are kept as they are).
async fn s3_sync(
    clients: &Clients,
    bucket: &str,
    set: &BTreeMap<String, String>,
    remove: &[String],
) -> Result<(), ProviderError> {
    let mut tags = s3_tags(clients, bucket).await?;
    tags.extend(set.clone());
    tags.retain(|k, _| !remove.contains(k));
    let tag_set = tags
        .iter()
        .filter_map(|(k, v)| {
            aws_sdk_s3::types::Tag::builder()
                .key(k)
                .value(v)
                .build()
                .ok()
        })
        .collect();
    let tagging = aws_sdk_s3::types::Tagging::builder()
        .set_tag_set(Some(tag_set))
        .build()
        .map_err(|e| ProviderError::permanent(format!("bucket tags: {e}")))?;
    clients
        .s3
        .put_bucket_tagging()
        .bucket(bucket)
        .tagging(tagging)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| sdk_error("PutBucketTagging", e))
}

/// IAM tags from a map.
pub(crate) fn iam_tags(tags: &BTreeMap<String, String>) -> Vec<aws_sdk_iam::types::Tag> {
    tags.iter()
        .filter_map(|(k, v)| {
            aws_sdk_iam::types::Tag::builder()
                .key(k)
                .value(v)
                .build()
                .ok()
        })
        .collect()
}

/// KMS tags from a map.
pub(crate) fn kms_tags(tags: &BTreeMap<String, String>) -> Vec<aws_sdk_kms::types::Tag> {
    tags.iter()
        .filter_map(|(k, v)| {
            aws_sdk_kms::types::Tag::builder()
                .tag_key(k)
                .tag_value(v)
                .build()
                .ok()
        })
        .collect()
}

/// SNS tags from a map.
pub(crate) fn sns_tags(tags: &BTreeMap<String, String>) -> Vec<aws_sdk_sns::types::Tag> {
    tags.iter()
        .filter_map(|(k, v)| {
            aws_sdk_sns::types::Tag::builder()
                .key(k)
                .value(v)
                .build()
                .ok()
        })
        .collect()
}
