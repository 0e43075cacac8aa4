//! Envelope encryption with AWS KMS: [`KmsWrapper`] implements
//! [`gig_state::crypt::KeyWrapper`] with `GenerateDataKey` (AES_256) and `Decrypt`.
//!
//! The KMS key never leaves KMS: gig asks it for a random data key, encrypts with the
//! plaintext and stores only the wrapped form (`gig_state::crypt::KeyParams::Kms`). On
//! open the wrapped key is sent to `Decrypt`, restricted to the configured key, and the
//! plaintext is kept in this process's memory only. Settings (region, endpoint,
//! credentials) come from the standard AWS chain, as for the S3 backend; calls run on a
//! runtime of the wrapper's own, so the synchronous crypt layer can make them from any
//! thread (see `client`).

use aws_sdk_kms::error::ProvideErrorMetadata;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::DataKeySpec;
use gig_state::crypt::{CryptError, GeneratedKey, KeyWrapper};
use zeroize::Zeroizing;

use crate::client::{runtime, sdk_config, wait_on, CallError};
use crate::AwsOptions;

/// A KMS key reached through the standard AWS chain.
pub struct KmsWrapper {
    key_id: String,
    /// The runtime and client, or why they could not be made (reported at first use).
    client: Result<(tokio::runtime::Runtime, aws_sdk_kms::Client), String>,
}

impl KmsWrapper {
    /// A wrapper for the KMS key `key_id` (key id, ARN, `alias/NAME` or alias ARN). No
    /// request is made until a key is generated or unwrapped; a failure to set up the
    /// client is reported then, as a [`CryptError::Kms`].
    pub fn new(key_id: &str, options: &AwsOptions) -> KmsWrapper {
        let client = runtime("gig-state-kms").and_then(|runtime| {
            let conf = sdk_config(&runtime, options)?;
            let mut builder = aws_sdk_kms::config::Builder::from(&conf);
            if conf.region().is_none() {
                builder = builder.region(aws_config::Region::new("us-east-1"));
            }
            Ok((runtime, aws_sdk_kms::Client::from_conf(builder.build())))
        });
        KmsWrapper {
            key_id: key_id.to_string(),
            client: client.map_err(|e| e.0),
        }
    }

    /// Runs a KMS call on the wrapper's runtime and waits for it.
    fn call<F, T>(&self, call: impl FnOnce(aws_sdk_kms::Client) -> F) -> Result<T, CryptError>
    where
        F: std::future::Future<Output = Result<T, CallError>> + Send + 'static,
        T: Send + 'static,
    {
        let (runtime, kms) = self.client.as_ref().map_err(|e| self.fail(e.clone()))?;
        wait_on(runtime, call(kms.clone())).map_err(|e| self.fail(e.0))
    }

    fn fail(&self, message: String) -> CryptError {
        CryptError::Kms {
            key_id: self.key_id.clone(),
            message,
        }
    }
}

impl std::fmt::Debug for KmsWrapper {
    /// The key id only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KmsWrapper({})", self.key_id)
    }
}

impl KeyWrapper for KmsWrapper {
    fn key_id(&self) -> &str {
        &self.key_id
    }

    fn generate(&self) -> Result<GeneratedKey, CryptError> {
        let key_id = self.key_id.clone();
        let answer = self.call(|kms| async move {
            tracing::debug!(target: "gig_state_s3", key_id, "KMS GenerateDataKey");
            let out = kms
                .generate_data_key()
                .key_id(&key_id)
                .key_spec(DataKeySpec::Aes256)
                .send()
                .await
                .map_err(|e| CallError(kms_error("GenerateDataKey", &e)))?;
            let plain = out.plaintext().map(|b| b.as_ref().to_vec());
            let wrapped = out.ciphertext_blob().map(|b| b.as_ref().to_vec());
            Ok((plain, wrapped, out.key_id().map(str::to_string)))
        })?;
        let (Some(plain), Some(wrapped)) = (answer.0.map(Zeroizing::new), answer.1) else {
            return Err(self.fail("GenerateDataKey returned no data key".to_string()));
        };
        let plaintext = data_key(&plain).ok_or_else(|| {
            self.fail("GenerateDataKey returned a data key that is not 32 bytes".to_string())
        })?;
        Ok(GeneratedKey {
            plaintext,
            wrapped,
            key_arn: answer.2.unwrap_or_else(|| self.key_id.clone()),
        })
    }

    fn unwrap(&self, wrapped: &[u8]) -> Result<Option<Zeroizing<[u8; 32]>>, CryptError> {
        let key_id = self.key_id.clone();
        let blob = Blob::new(wrapped.to_vec());
        let answer = self.call(|kms| async move {
            tracing::debug!(target: "gig_state_s3", key_id, "KMS Decrypt");
            match kms
                .decrypt()
                .key_id(&key_id)
                .ciphertext_blob(blob)
                .send()
                .await
            {
                Ok(out) => Ok(Some(Zeroizing::new(
                    out.plaintext()
                        .map(|b| b.as_ref().to_vec())
                        .unwrap_or_default(),
                ))),
                // The data key was wrapped by another KMS key.
                Err(e) if e.code() == Some("IncorrectKeyException") => Ok(None),
                Err(e) => Err(CallError(kms_error("Decrypt", &e))),
            }
        })?;
        match answer {
            None => Ok(None),
            Some(plain) => data_key(&plain).map(Some).ok_or_else(|| {
                self.fail("Decrypt returned a data key that is not 32 bytes".to_string())
            }),
        }
    }
}

fn data_key(bytes: &[u8]) -> Option<Zeroizing<[u8; 32]>> {
    let mut key = Zeroizing::new([0u8; 32]);
    if bytes.len() != key.len() {
        return None;
    }
    key.copy_from_slice(bytes);
    Some(key)
}

/// A KMS error as `Call: Code: message`, with the service's code and message intact.
fn kms_error<E, R>(call: &str, e: &aws_sdk_kms::error::SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match e {
        aws_sdk_kms::error::SdkError::ServiceError(service) => {
            let err = service.err();
            format!(
                "{call}: {}: {}",
                err.code().unwrap_or("error"),
                err.message().unwrap_or("(no message)")
            )
        }
        other => format!(
            "{call}: {}",
            aws_smithy_types::error::display::DisplayErrorContext(other)
        ),
    }
}
