//! Encryption at rest: state values and saved plan files sealed with AES-256-GCM.
//!
//! # Keys
//!
//! [`Keys`] holds what the process was given: the current [`KeySource`] (the key new
//! writes use) and an optional fallback (an older key that still decrypts during a
//! rotation). A key source names its kind; today the only kind is a passphrase, from
//! which a 256-bit key is derived with argon2id. The derivation's parameters and salt are
//! stored in the clear next to the data ([`KeyParams`]), together with a key id: the
//! first 8 bytes of SHA-256 over a fixed label and the key. The id lets gig tell a wrong
//! key from damaged data without trying to decrypt anything, and names the key in errors
//! without revealing it. A KMS key's [`KeyParams`] hold the KMS key's ARN and the
//! wrapped data key; the sealed values do not depend on the kind of key.
//!
//! # Sealed values
//!
//! A sealed value is `MAGIC (4 bytes) ++ key id (8) ++ nonce (12) ++ ciphertext and tag`.
//! The nonce is fresh and random for every write. The associated data binds the value to
//! where it is stored (`gig-state`, the tree's name and the record's key), so a value
//! copied to another record or tree fails its integrity check. Clear values are JSON and
//! never start with the magic's first byte (0x00), so the two cannot be confused.
//!
//! # Plan files
//!
//! An encrypted plan file is a small JSON envelope (see [`seal_file`]) with the key's
//! parameters, the key id, the nonce and the ciphertext; the key is derived from the same
//! key source as the state's, with a salt of the file's own.

use std::fmt;
use std::sync::{Arc, Mutex};

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use gig_core::diag::{Code, Diagnostic};
use gig_core::span::Span;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// The environment variable holding the passphrase of the current key.
pub const PASSPHRASE_VAR: &str = "GIG_STATE_PASSPHRASE";
/// The environment variable holding the passphrase of the previous key, during a rotation.
pub const FALLBACK_VAR: &str = "GIG_STATE_PASSPHRASE_FALLBACK";
/// The environment variable naming the KMS key (id, ARN or alias) of envelope encryption.
pub const KMS_KEY_VAR: &str = "GIG_STATE_KMS_KEY_ID";

/// First bytes of every sealed state value: a zero byte (no JSON text starts with
/// one), `ge` and the sealed-value version.
const MAGIC: [u8; 4] = [0x00, b'g', b'e', 0x01];
const KEY_ID_LEN: usize = 8;
const NONCE_LEN: usize = 12;
const HEADER_LEN: usize = MAGIC.len() + KEY_ID_LEN + NONCE_LEN;
/// Label hashed with a key to make its id.
const KEY_ID_LABEL: &[u8] = b"gig key id v1\0";
/// Associated data of a plan file's ciphertext.
const PLAN_FILE_AAD: &[u8] = b"gig plan file v1";
/// The envelope version of an encrypted plan file.
const FILE_ENVELOPE_VERSION: u32 = 1;
/// How an encrypted plan file starts (its first key is written first).
const FILE_PREFIX: &[u8] = b"{\"gig_encrypted\":";

/// Where a key comes from.
pub enum KeySource {
    /// A passphrase: the key is derived from it with argon2id and a stored salt.
    Passphrase(Passphrase),
    /// A KMS key: a data key it generated encrypts, and is stored wrapped by it.
    Kms(KmsKey),
}

/// The calls envelope encryption makes to a key management service, implemented over
/// AWS KMS by `gig-state-s3` (this crate makes no network call).
pub trait KeyWrapper: Send + Sync {
    /// The key as configured (id, ARN or alias), for messages.
    fn key_id(&self) -> &str;
    /// A fresh 256-bit data key: its plaintext, its wrapped form and the ARN of the key
    /// that wrapped it (`GenerateDataKey`).
    fn generate(&self) -> Result<GeneratedKey, CryptError>;
    /// The plaintext of a wrapped data key (`Decrypt`, restricted to the configured
    /// key): `Ok(None)` when the data key was wrapped by another key.
    fn unwrap(&self, wrapped: &[u8]) -> Result<Option<Zeroizing<[u8; 32]>>, CryptError>;
}

/// A data key as [`KeyWrapper::generate`] returns it.
pub struct GeneratedKey {
    /// The data key.
    pub plaintext: Zeroizing<[u8; 32]>,
    /// The data key wrapped by the KMS key.
    pub wrapped: Vec<u8>,
    /// The ARN of the KMS key that wrapped it.
    pub key_arn: String,
}

/// A KMS key, with the data keys already unwrapped in this process (kept in memory for
/// the life of the process only, never written anywhere in the clear).
pub struct KmsKey {
    wrapper: Box<dyn KeyWrapper>,
    unwrapped: Mutex<Vec<(String, Key)>>,
}

impl KmsKey {
    /// A KMS key reached through `wrapper`.
    pub fn new(wrapper: Box<dyn KeyWrapper>) -> KmsKey {
        KmsKey {
            wrapper,
            unwrapped: Mutex::new(Vec::new()),
        }
    }

    /// The data key wrapped as `wrapped` (hex), unwrapped once per process.
    fn unwrap(&self, wrapped: &str) -> Result<Option<Key>, CryptError> {
        let mut cache = self.unwrapped.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, key)) = cache.iter().find(|(w, _)| w == wrapped) {
            return Ok(Some(key.clone()));
        }
        let bytes = hex::decode(wrapped).map_err(|_| CryptError::Params {
            message: "the wrapped data key is not hex".to_string(),
        })?;
        let Some(plain) = self.wrapper.unwrap(&bytes)? else {
            return Ok(None);
        };
        let key = Key::from_bytes(plain);
        cache.push((wrapped.to_string(), key.clone()));
        Ok(Some(key))
    }

    fn fresh(&self) -> Result<(KeyEntry, Key), CryptError> {
        let generated = self.wrapper.generate()?;
        let key = Key::from_bytes(generated.plaintext);
        let wrapped = hex::encode(&generated.wrapped);
        self.unwrapped
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((wrapped.clone(), key.clone()));
        let entry = KeyEntry {
            id: key.id(),
            params: KeyParams::Kms {
                key_arn: generated.key_arn,
                wrapped,
            },
        };
        Ok((entry, key))
    }
}

/// A passphrase, with the keys already derived from it in this process (argon2id is
/// deliberately slow, so each salt is derived once per process).
pub struct Passphrase {
    text: Zeroizing<String>,
    derived: Mutex<Vec<(KdfParams, Key)>>,
}

impl Passphrase {
    /// A passphrase from its text.
    pub fn new(text: impl Into<String>) -> Passphrase {
        Passphrase {
            text: Zeroizing::new(text.into()),
            derived: Mutex::new(Vec::new()),
        }
    }
}

impl fmt::Debug for KeySource {
    /// Names the kind only: a key source's secret is never printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeySource::Passphrase(_) => f.write_str("KeySource::Passphrase(..)"),
            KeySource::Kms(k) => write!(f, "KeySource::Kms({})", k.wrapper.key_id()),
        }
    }
}

/// The keys this process was given: the current one, which writes, and an optional
/// fallback, which only decrypts (used while rotating to a new key).
#[derive(Clone, Debug, Default)]
pub struct Keys {
    current: Option<Arc<KeySource>>,
    fallback: Option<Arc<KeySource>>,
}

impl Keys {
    /// No key: state and plan files are written in the clear, and encrypted ones are
    /// refused.
    pub fn none() -> Keys {
        Keys::default()
    }

    /// The current key source and an optional fallback.
    pub fn new(current: Option<KeySource>, fallback: Option<KeySource>) -> Keys {
        Keys {
            current: current.map(Arc::new),
            fallback: fallback.map(Arc::new),
        }
    }

    /// Keys from passphrases as read from [`PASSPHRASE_VAR`] and [`FALLBACK_VAR`]; an
    /// empty passphrase counts as unset.
    pub fn from_passphrases(current: Option<String>, fallback: Option<String>) -> Keys {
        let source = |text: Option<String>| {
            text.filter(|t| !t.is_empty())
                .map(|t| KeySource::Passphrase(Passphrase::new(t)))
        };
        Keys::new(source(current), source(fallback))
    }

    /// Whether a current key is configured (so new data is encrypted).
    pub fn is_configured(&self) -> bool {
        self.current.is_some()
    }
}

/// The stored, clear description of one key: its id and how to get it again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyEntry {
    /// The key id (16 hex digits).
    pub id: String,
    /// How the key is obtained.
    #[serde(flatten)]
    pub params: KeyParams,
}

/// How a key is obtained, by kind. The kind is stored (`"kind": "passphrase"`), so other
/// kinds can be added without changing the format.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum KeyParams {
    /// Derived from a passphrase.
    Passphrase {
        /// The derivation's parameters and salt.
        kdf: KdfParams,
    },
    /// A data key generated and wrapped by a KMS key (envelope encryption).
    Kms {
        /// The ARN of the KMS key that wrapped it.
        key_arn: String,
        /// The wrapped data key (hex): only that KMS key unwraps it.
        wrapped: String,
    },
}

/// argon2id parameters and salt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KdfParams {
    /// Always `argon2id`.
    pub algorithm: String,
    /// The argon2 version (19, that is 0x13).
    pub version: u32,
    /// Memory in KiB.
    pub m_cost_kib: u32,
    /// Passes.
    pub t_cost: u32,
    /// Lanes.
    pub p_cost: u32,
    /// The salt (hex).
    pub salt: String,
}

impl KdfParams {
    /// argon2's recommended parameters (19 MiB, 2 passes, 1 lane) with a fresh 16-byte salt.
    fn fresh() -> KdfParams {
        KdfParams {
            algorithm: "argon2id".to_string(),
            version: 0x13,
            m_cost_kib: argon2::Params::DEFAULT_M_COST,
            t_cost: argon2::Params::DEFAULT_T_COST,
            p_cost: argon2::Params::DEFAULT_P_COST,
            salt: hex::encode(rand::random::<[u8; 16]>()),
        }
    }
}

/// A 256-bit key and its id.
#[derive(Clone)]
pub struct Key {
    bytes: Zeroizing<[u8; 32]>,
    id: [u8; KEY_ID_LEN],
}

impl Key {
    fn from_bytes(bytes: Zeroizing<[u8; 32]>) -> Key {
        let mut hasher = Sha256::new();
        hasher.update(KEY_ID_LABEL);
        hasher.update(bytes.as_slice());
        let digest = hasher.finalize();
        let mut id = [0; KEY_ID_LEN];
        id.copy_from_slice(&digest[..KEY_ID_LEN]);
        Key { bytes, id }
    }

    /// The key id as stored and shown (16 hex digits).
    pub fn id(&self) -> String {
        hex::encode(self.id)
    }

    /// Encrypts `msg` with associated data `aad` under a fresh random nonce; returns the
    /// nonce and the ciphertext with its tag.
    fn encrypt(&self, msg: &[u8], aad: &[u8]) -> ([u8; NONCE_LEN], Vec<u8>) {
        let nonce: [u8; NONCE_LEN] = rand::random();
        // AES-GCM fails only for messages over 64 GiB, which no record or plan reaches.
        let sealed = Aes256Gcm::new(self.bytes.as_slice().into())
            .encrypt(Nonce::from_slice(&nonce), Payload { msg, aad })
            .unwrap_or_default();
        (nonce, sealed)
    }

    /// Decrypts and authenticates `sealed`; `None` when the tag does not match.
    fn decrypt(&self, nonce: &[u8], sealed: &[u8], aad: &[u8]) -> Option<Vec<u8>> {
        Aes256Gcm::new(self.bytes.as_slice().into())
            .decrypt(Nonce::from_slice(nonce), Payload { msg: sealed, aad })
            .ok()
    }
}

impl fmt::Debug for Key {
    /// The id only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key({})", self.id())
    }
}

/// Why data could not be encrypted or decrypted. No variant holds a key, a passphrase
/// or decrypted bytes.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CryptError {
    /// The data is encrypted and no key is configured.
    #[error("it is encrypted and neither {PASSPHRASE_VAR} nor {KMS_KEY_VAR} is set")]
    KeyRequired,
    /// None of the configured keys is one the data is encrypted with.
    #[error("{} (key id {tried}) is not a key it is encrypted with (key ids {stored})", configured_vars(*.fallback_set))]
    WrongKey {
        /// Whether a fallback was configured too.
        fallback_set: bool,
        /// The ids of the configured keys as derived for this data.
        tried: String,
        /// The ids of the keys the data is encrypted with.
        stored: String,
    },
    /// One value is encrypted under a key that is not configured.
    #[error("a value is encrypted under key id {key_id}, which no configured key has")]
    KeyNotSet {
        /// The value's key id.
        key_id: String,
    },
    /// A value fails authentication: changed, moved from another record, or clear where
    /// only encrypted values belong.
    #[error("a value fails its integrity check: {reason}")]
    Integrity {
        /// What is wrong, without the value.
        reason: &'static str,
    },
    /// Encryption was asked for without a key.
    #[error("there is no key to encrypt with: neither {PASSPHRASE_VAR} nor {KMS_KEY_VAR} is set")]
    NoKeyToEncrypt,
    /// The key management service refused or failed a call (wrong or missing key,
    /// no permission, no connection).
    #[error("KMS key {key_id}: {message}")]
    Kms {
        /// The KMS key as configured.
        key_id: String,
        /// The service's error code and message (never key material).
        message: String,
    },
    /// The stored key parameters cannot be used.
    #[error("its key parameters cannot be used: {message}")]
    Params {
        /// What is wrong with them.
        message: String,
    },
}

fn configured_vars(fallback_set: bool) -> String {
    if fallback_set {
        format!("neither {PASSPHRASE_VAR} nor {FALLBACK_VAR}")
    } else {
        PASSPHRASE_VAR.to_string()
    }
}

impl CryptError {
    /// The error as a coded diagnostic about `subject` (e.g. "the state at `.gig/state/prod`"
    /// or "the plan file `p.plan`").
    pub fn diagnostic(&self, subject: &str) -> Diagnostic {
        match self {
            CryptError::KeyRequired => Diagnostic::error(
                Code::E0530,
                "the data is encrypted and no key is set",
                Span::DETACHED,
            )
            .with_detail(format!(
                "{} is encrypted at rest, and neither {PASSPHRASE_VAR} nor {KMS_KEY_VAR} is set. gig neither reads it nor writes clear data into it.",
                capitalised(subject)
            ))
            .with_help(format!("set {PASSPHRASE_VAR} to the passphrase it was encrypted with, or {KMS_KEY_VAR} to its KMS key")),
            CryptError::WrongKey { fallback_set, tried, stored } => Diagnostic::error(
                Code::E0531,
                "the key set does not decrypt the data",
                Span::DETACHED,
            )
            .with_detail(format!(
                "{} is encrypted with key id {stored}, but {} derives key id {tried}. Nothing was read or changed.",
                capitalised(subject),
                if *fallback_set {
                    format!("{PASSPHRASE_VAR} or {FALLBACK_VAR}")
                } else {
                    PASSPHRASE_VAR.to_string()
                }
            ))
            .with_help(format!(
                "set {PASSPHRASE_VAR} to the passphrase it was encrypted with; while changing passphrases, set the new one in {PASSPHRASE_VAR} and the old one in {FALLBACK_VAR}"
            )),
            CryptError::KeyNotSet { key_id } => Diagnostic::error(
                Code::E0532,
                "a value is encrypted under a key that is not set",
                Span::DETACHED,
            )
            .with_detail(format!(
                "{} holds values still encrypted under key id {key_id}, an earlier key that none of the keys set derives.",
                capitalised(subject)
            ))
            .with_help(format!(
                "set the earlier passphrase in {FALLBACK_VAR}, then run `gig state rekey` to encrypt everything under the current key"
            )),
            CryptError::Integrity { reason } => Diagnostic::error(
                Code::E0533,
                "a stored value fails its integrity check",
                Span::DETACHED,
            )
            .with_detail(format!(
                "{}: {reason}. gig does not use a value it cannot authenticate.",
                capitalised(subject)
            ))
            .with_help("`gig state history` lists the saved versions; restore the state directory from a file backup if the current one was tampered with"),
            CryptError::NoKeyToEncrypt => Diagnostic::error(
                Code::E0534,
                "no key is set to encrypt with",
                Span::DETACHED,
            )
            .with_detail(format!(
                "Encrypting {subject} needs a key, and neither {PASSPHRASE_VAR} nor {KMS_KEY_VAR} is set."
            ))
            .with_help(format!("set {PASSPHRASE_VAR} or {KMS_KEY_VAR} and run the command again")),
            CryptError::Kms { key_id, message } => Diagnostic::error(
                Code::E0516,
                "the KMS key cannot be used",
                Span::DETACHED,
            )
            .with_detail(format!(
                "{} needs the KMS key `{key_id}` ({KMS_KEY_VAR}), and KMS refused or failed: {message}. Nothing was read or changed.",
                capitalised(subject)
            ))
            .with_help(format!(
                "check that {KMS_KEY_VAR} names the key the state was encrypted with (key id, ARN or alias/NAME), in the region of the AWS settings, and that these credentials may call kms:GenerateDataKey and kms:Decrypt with it"
            )),
            CryptError::Params { message } => Diagnostic::error(
                Code::E0533,
                "a stored value fails its integrity check",
                Span::DETACHED,
            )
            .with_detail(format!(
                "{}: its key parameters cannot be used ({message}).",
                capitalised(subject)
            )),
        }
    }
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

impl KeySource {
    /// The key described by `params`, when this source is of that kind; derived once
    /// per process and parameters.
    fn key_for(&self, params: &KeyParams) -> Result<Option<Key>, CryptError> {
        match (self, params) {
            (KeySource::Passphrase(p), KeyParams::Passphrase { kdf }) => p.derive(kdf).map(Some),
            (KeySource::Kms(k), KeyParams::Kms { wrapped, .. }) => k.unwrap(wrapped),
            (KeySource::Passphrase(_), KeyParams::Kms { .. })
            | (KeySource::Kms(_), KeyParams::Passphrase { .. }) => Ok(None),
        }
    }

    /// A new key entry of this source's kind, with fresh parameters, and its key.
    fn fresh(&self) -> Result<(KeyEntry, Key), CryptError> {
        match self {
            KeySource::Passphrase(p) => {
                let kdf = KdfParams::fresh();
                let key = p.derive(&kdf)?;
                let entry = KeyEntry {
                    id: key.id(),
                    params: KeyParams::Passphrase { kdf },
                };
                Ok((entry, key))
            }
            KeySource::Kms(k) => k.fresh(),
        }
    }
}

impl Passphrase {
    fn derive(&self, kdf: &KdfParams) -> Result<Key, CryptError> {
        let mut cache = self.derived.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, key)) = cache.iter().find(|(p, _)| p == kdf) {
            return Ok(key.clone());
        }
        let bad = |message: String| CryptError::Params { message };
        if kdf.algorithm != "argon2id" || kdf.version != 0x13 {
            return Err(bad(format!(
                "unsupported key derivation {} version {}",
                kdf.algorithm, kdf.version
            )));
        }
        // Bounds keep a hand-edited header from making gig allocate without limit.
        if kdf.m_cost_kib > 1024 * 1024 || kdf.t_cost > 64 || kdf.p_cost > 64 {
            return Err(bad("argon2 costs are out of range".to_string()));
        }
        let salt = hex::decode(&kdf.salt).map_err(|_| bad("the salt is not hex".to_string()))?;
        let params = argon2::Params::new(kdf.m_cost_kib, kdf.t_cost, kdf.p_cost, Some(32))
            .map_err(|e| bad(format!("argon2 parameters: {e}")))?;
        let argon =
            argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
        let mut bytes = Zeroizing::new([0u8; 32]);
        argon
            .hash_password_into(self.text.as_bytes(), &salt, bytes.as_mut_slice())
            .map_err(|e| bad(format!("argon2: {e}")))?;
        let key = Key::from_bytes(bytes);
        cache.push((kdf.clone(), key.clone()));
        Ok(key)
    }
}

/// The key metadata a state stores in the clear: every key its values may be encrypted
/// under, the current one first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyMeta {
    /// The keys, current first.
    pub keys: Vec<KeyEntry>,
}

/// The keys of one open state, resolved from the configured [`Keys`] and the state's
/// [`KeyMeta`]: what decrypts and what encrypts.
#[derive(Debug)]
pub struct Sealer {
    /// The key writes use, and its entry; `None` writes clear values.
    write: Option<(KeyEntry, Key)>,
    /// Keys that decrypt.
    read: Vec<Key>,
    /// Whether every stored value must be sealed (the state is encrypted).
    required: std::sync::atomic::AtomicBool,
}

/// What opening a state with the configured keys found.
#[derive(Debug)]
pub struct Resolved {
    /// The keys to use.
    pub sealer: Sealer,
    /// Key metadata to store at the first write, when it must change: a clear state
    /// gets encrypted, or an encrypted one gains the current key.
    pub pending: Option<KeyMeta>,
}

impl Sealer {
    /// Resolves the configured `keys` against a state's key metadata (`None`: a state in
    /// the clear). Fails when the state is encrypted and no configured key is one of its
    /// keys, and derives nothing more than needed.
    pub fn resolve(keys: &Keys, meta: Option<&KeyMeta>) -> Result<Resolved, CryptError> {
        let Some(meta) = meta else {
            let Some(current) = &keys.current else {
                return Ok(Resolved {
                    sealer: Sealer::clear(),
                    pending: None,
                });
            };
            let (entry, key) = current.fresh()?;
            return Ok(Resolved {
                pending: Some(KeyMeta {
                    keys: vec![entry.clone()],
                }),
                sealer: Sealer {
                    read: vec![key.clone()],
                    write: Some((entry, key)),
                    required: false.into(),
                },
            });
        };
        let Some(current) = &keys.current else {
            return Err(CryptError::KeyRequired);
        };
        let current_match = find_key(current, meta)?;
        let fallback_match = match &keys.fallback {
            Some(fallback) => find_key(fallback, meta)?,
            None => None,
        };
        let mut read: Vec<Key> = Vec::new();
        let (write, pending) = match current_match {
            Some(found) => (found, None),
            None => {
                if fallback_match.is_none() {
                    let mut tried = Vec::new();
                    for source in [Some(current), keys.fallback.as_ref()]
                        .into_iter()
                        .flatten()
                    {
                        for entry in &meta.keys {
                            if let Some(key) = source.key_for(&entry.params)? {
                                tried.push(key.id());
                            }
                        }
                    }
                    tried.dedup();
                    return Err(CryptError::WrongKey {
                        fallback_set: keys.fallback.is_some(),
                        tried: tried.join(", "),
                        stored: meta
                            .keys
                            .iter()
                            .map(|k| k.id.as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                    });
                }
                let (entry, key) = current.fresh()?;
                let mut keys_after = vec![entry.clone()];
                keys_after.extend(meta.keys.iter().cloned());
                ((entry, key), Some(KeyMeta { keys: keys_after }))
            }
        };
        read.push(write.1.clone());
        if let Some((_, key)) = fallback_match {
            read.push(key);
        }
        Ok(Resolved {
            sealer: Sealer {
                write: Some(write),
                read,
                required: true.into(),
            },
            pending,
        })
    }

    /// Keys for a state created now: encrypted from the start when a key is configured.
    /// Returns the key metadata to store with it.
    pub fn for_new_state(keys: &Keys) -> Result<(Sealer, Option<KeyMeta>), CryptError> {
        let resolved = Sealer::resolve(keys, None)?;
        let sealer = resolved.sealer;
        if resolved.pending.is_some() {
            sealer.set_required();
        }
        Ok((sealer, resolved.pending))
    }

    /// A sealer for a state in the clear, with no key.
    pub fn clear() -> Sealer {
        Sealer {
            write: None,
            read: Vec::new(),
            required: false.into(),
        }
    }

    /// Whether the state's values are all sealed.
    pub fn is_required(&self) -> bool {
        self.required.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Marks the state as encrypted: from now on clear values are refused.
    pub fn set_required(&self) {
        self.required
            .store(true, std::sync::atomic::Ordering::Release);
    }

    /// The entry of the key writes use, if any.
    pub fn write_entry(&self) -> Option<&KeyEntry> {
        self.write.as_ref().map(|(entry, _)| entry)
    }

    /// The stored form of `value` at `key` in `tree`: sealed under the write key, or
    /// `value` itself when there is none.
    pub fn seal(&self, tree: &str, key: &[u8], value: &[u8]) -> Vec<u8> {
        let Some((_, k)) = &self.write else {
            return value.to_vec();
        };
        let (nonce, sealed) = k.encrypt(value, &value_aad(tree, key));
        let mut out = Vec::with_capacity(HEADER_LEN + sealed.len());
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&k.id);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    /// The clear bytes of a stored value at `key` in `tree`. A clear value is returned
    /// as is while the state is not encrypted and refused once it is.
    pub fn open<'a>(
        &self,
        tree: &str,
        key: &[u8],
        stored: &'a [u8],
    ) -> Result<std::borrow::Cow<'a, [u8]>, CryptError> {
        if !stored.starts_with(&MAGIC) {
            if self.is_required() {
                return Err(CryptError::Integrity {
                    reason: "it is stored in the clear in an encrypted state",
                });
            }
            return Ok(std::borrow::Cow::Borrowed(stored));
        }
        if stored.len() < HEADER_LEN {
            return Err(CryptError::Integrity {
                reason: "it is shorter than its header",
            });
        }
        let id = &stored[MAGIC.len()..MAGIC.len() + KEY_ID_LEN];
        let nonce = &stored[MAGIC.len() + KEY_ID_LEN..HEADER_LEN];
        let Some(k) = self.read.iter().find(|k| k.id == id) else {
            return Err(CryptError::KeyNotSet {
                key_id: hex::encode(id),
            });
        };
        k.decrypt(nonce, &stored[HEADER_LEN..], &value_aad(tree, key))
            .map(std::borrow::Cow::Owned)
            .ok_or(CryptError::Integrity {
                reason: "its authentication tag does not match (it was changed, or moved from another record)",
            })
    }
}

/// Whether `stored` is a sealed state value.
pub fn is_sealed(stored: &[u8]) -> bool {
    stored.starts_with(&MAGIC)
}

/// The key among `meta`'s entries that `source` derives, with its entry.
fn find_key(source: &KeySource, meta: &KeyMeta) -> Result<Option<(KeyEntry, Key)>, CryptError> {
    for entry in &meta.keys {
        if let Some(key) = source.key_for(&entry.params)? {
            if key.id() == entry.id {
                return Ok(Some((entry.clone(), key)));
            }
        }
    }
    Ok(None)
}

fn value_aad(tree: &str, key: &[u8]) -> Vec<u8> {
    let mut aad = Vec::with_capacity(16 + tree.len() + key.len());
    aad.extend_from_slice(b"gig-state\0");
    aad.extend_from_slice(tree.as_bytes());
    aad.push(0);
    aad.extend_from_slice(key);
    aad
}

/// An encrypted plan file: the clear header and the ciphertext.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileEnvelope {
    /// The envelope version; first, so an encrypted file is known by its first bytes.
    gig_encrypted: u32,
    /// How the key is obtained.
    key: KeyEntry,
    /// The nonce (hex).
    nonce: String,
    /// The ciphertext and tag (hex).
    ciphertext: String,
}

/// The bytes to write for a file with content `clear`: an encrypted envelope when a
/// current key is configured, else `clear` itself.
///
/// The envelope is JSON: `{"gig_encrypted": 1, "key": {"id", "kind", "kdf": {…salt}},
/// "nonce": hex, "ciphertext": hex}`; the key is derived with a salt of its own.
pub fn seal_file(keys: &Keys, clear: &[u8]) -> Result<Vec<u8>, CryptError> {
    let Some(current) = &keys.current else {
        return Ok(clear.to_vec());
    };
    let (entry, key) = current.fresh()?;
    let (nonce, sealed) = key.encrypt(clear, PLAN_FILE_AAD);
    let envelope = FileEnvelope {
        gig_encrypted: FILE_ENVELOPE_VERSION,
        key: entry,
        nonce: hex::encode(nonce),
        ciphertext: hex::encode(sealed),
    };
    serde_json::to_vec_pretty(&envelope).map_err(|e| CryptError::Params {
        message: e.to_string(),
    })
}

/// Whether a file's bytes are an encrypted envelope written by [`seal_file`].
pub fn is_sealed_file(bytes: &[u8]) -> bool {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    let rest = &bytes[start..];
    // `to_vec_pretty` puts a newline and indentation between `{` and the first key.
    let compact: Vec<u8> = rest
        .iter()
        .take(64)
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    compact.starts_with(FILE_PREFIX)
}

/// The content of a file read as `bytes`: decrypted when it is an envelope, else `bytes`
/// itself. The current key and the fallback are both tried.
pub fn open_file(keys: &Keys, bytes: &[u8]) -> Result<Vec<u8>, CryptError> {
    if !is_sealed_file(bytes) {
        return Ok(bytes.to_vec());
    }
    let bad = |message: &str| CryptError::Params {
        message: message.to_string(),
    };
    let envelope: FileEnvelope =
        serde_json::from_slice(bytes).map_err(|_| bad("the envelope is not valid"))?;
    if envelope.gig_encrypted != FILE_ENVELOPE_VERSION {
        return Err(bad("unsupported envelope version"));
    }
    let Some(current) = &keys.current else {
        return Err(CryptError::KeyRequired);
    };
    let meta = KeyMeta {
        keys: vec![envelope.key.clone()],
    };
    let mut found = find_key(current, &meta)?;
    if found.is_none() {
        if let Some(fallback) = &keys.fallback {
            found = find_key(fallback, &meta)?;
        }
    }
    let Some((_, key)) = found else {
        let tried = current
            .key_for(&envelope.key.params)?
            .map(|k| k.id())
            .unwrap_or_default();
        return Err(CryptError::WrongKey {
            fallback_set: keys.fallback.is_some(),
            tried,
            stored: envelope.key.id,
        });
    };
    let nonce = hex::decode(&envelope.nonce)
        .ok()
        .filter(|n| n.len() == NONCE_LEN)
        .ok_or_else(|| bad("the nonce is not 12 bytes of hex"))?;
    let sealed = hex::decode(&envelope.ciphertext).map_err(|_| bad("the ciphertext is not hex"))?;
    key.decrypt(&nonce, &sealed, PLAN_FILE_AAD)
        .ok_or(CryptError::Integrity {
            reason: "its authentication tag does not match (the file was changed)",
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(current: &str, fallback: Option<&str>) -> Keys {
        Keys::from_passphrases(Some(current.to_string()), fallback.map(str::to_string))
    }

    #[test]
    fn a_sealed_value_opens_only_at_its_own_place_and_hides_its_bytes() {
        let (sealer, _) = Sealer::for_new_state(&keys("correct horse", None)).unwrap();
        let sealed = sealer.seal("resources", b"random.password.db", b"{\"pw\":\"hunter2\"}");
        assert!(is_sealed(&sealed));
        assert!(!sealed.windows(7).any(|w| w == b"hunter2"));
        let back = sealer
            .open("resources", b"random.password.db", &sealed)
            .unwrap();
        assert_eq!(&*back, b"{\"pw\":\"hunter2\"}");
        // Two seals of one value differ (fresh nonces).
        assert_ne!(
            sealed,
            sealer.seal("resources", b"random.password.db", b"{\"pw\":\"hunter2\"}")
        );
        for (tree, key) in [
            ("resources", &b"random.password.other"[..]),
            ("history", b"random.password.db"),
        ] {
            assert!(matches!(
                sealer.open(tree, key, &sealed),
                Err(CryptError::Integrity { .. })
            ));
        }
        let mut flipped = sealed.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert!(matches!(
            sealer.open("resources", b"random.password.db", &flipped),
            Err(CryptError::Integrity { .. })
        ));
        assert!(matches!(
            sealer.open("resources", b"random.password.db", b"{\"pw\":1}"),
            Err(CryptError::Integrity { .. })
        ));
    }

    #[test]
    fn a_wrong_passphrase_is_told_apart_and_a_fallback_rotates() {
        let (old, meta) = Sealer::for_new_state(&keys("old", None)).unwrap();
        let meta = meta.unwrap();
        let sealed = old.seal("meta", b"outputs", b"{}");
        let err = Sealer::resolve(&keys("wrong", None), Some(&meta)).unwrap_err();
        assert!(
            matches!(
                err,
                CryptError::WrongKey {
                    fallback_set: false,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(!format!("{err} {:?}", err.diagnostic("the state")).contains("wrong"));
        assert_eq!(
            Sealer::resolve(&Keys::none(), Some(&meta)).unwrap_err(),
            CryptError::KeyRequired
        );
        let rotated = Sealer::resolve(&keys("new", Some("old")), Some(&meta)).unwrap();
        let pending = rotated
            .pending
            .expect("the new key is recorded at the next write");
        assert_eq!(pending.keys.len(), 2);
        assert_eq!(pending.keys[1], meta.keys[0]);
        assert_eq!(
            &*rotated.sealer.open("meta", b"outputs", &sealed).unwrap(),
            b"{}"
        );
        let resealed = rotated.sealer.seal("meta", b"outputs", b"{}");
        // Without the fallback, the new key opens the state but not the old value.
        let new_only = Sealer::resolve(&keys("new", None), Some(&pending)).unwrap();
        assert!(new_only.pending.is_none());
        assert_eq!(
            &*new_only.sealer.open("meta", b"outputs", &resealed).unwrap(),
            b"{}"
        );
        assert!(matches!(
            new_only.sealer.open("meta", b"outputs", &sealed),
            Err(CryptError::KeyNotSet { .. })
        ));
    }

    /// A key service that wraps by XOR with its own byte, counting its calls.
    struct FakeKms {
        byte: u8,
        calls: Arc<std::sync::atomic::AtomicUsize>,
    }

    impl KeyWrapper for FakeKms {
        fn key_id(&self) -> &str {
            "alias/fake"
        }

        fn generate(&self) -> Result<GeneratedKey, CryptError> {
            self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let plaintext = Zeroizing::new(rand::random::<[u8; 32]>());
            let mut wrapped = vec![self.byte];
            wrapped.extend(plaintext.iter().map(|b| b ^ self.byte));
            Ok(GeneratedKey {
                plaintext,
                wrapped,
                key_arn: format!("arn:fake:{}", self.byte),
            })
        }

        fn unwrap(&self, wrapped: &[u8]) -> Result<Option<Zeroizing<[u8; 32]>>, CryptError> {
            self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            if wrapped.first() != Some(&self.byte) || wrapped.len() != 33 {
                return Ok(None);
            }
            let mut key = Zeroizing::new([0u8; 32]);
            for (k, w) in key.iter_mut().zip(&wrapped[1..]) {
                *k = w ^ self.byte;
            }
            Ok(Some(key))
        }
    }

    fn kms(byte: u8, calls: &Arc<std::sync::atomic::AtomicUsize>) -> KeySource {
        KeySource::Kms(KmsKey::new(Box::new(FakeKms {
            byte,
            calls: calls.clone(),
        })))
    }

    #[test]
    fn a_kms_data_key_is_stored_wrapped_unwrapped_once_and_rotates_from_a_passphrase() {
        let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (pass, meta) = Sealer::for_new_state(&keys("old", None)).unwrap();
        let sealed = pass.seal("meta", b"outputs", b"{\"pw\":1}");
        // A KMS key as current, the passphrase as fallback: both read, KMS writes.
        let moving = Keys::new(
            Some(kms(7, &calls)),
            Some(KeySource::Passphrase(Passphrase::new("old"))),
        );
        let resolved = Sealer::resolve(&moving, meta.as_ref()).unwrap();
        let pending = resolved.pending.expect("the KMS key is recorded");
        assert!(matches!(pending.keys[0].params, KeyParams::Kms { .. }));
        let text = serde_json::to_string(&pending).unwrap();
        assert!(text.contains("\"kind\":\"kms\""), "{text}");
        assert_eq!(
            &*resolved.sealer.open("meta", b"outputs", &sealed).unwrap(),
            b"{\"pw\":1}"
        );
        let resealed = resolved.sealer.seal("meta", b"outputs", b"{\"pw\":1}");
        // The KMS key alone opens what it wrote; each data key is unwrapped once.
        let only = Keys::new(Some(kms(7, &calls)), None);
        let kms_meta = KeyMeta {
            keys: vec![pending.keys[0].clone()],
        };
        let before = calls.load(std::sync::atomic::Ordering::SeqCst);
        let reopened = Sealer::resolve(&only, Some(&kms_meta)).unwrap();
        Sealer::resolve(&only, Some(&kms_meta)).unwrap();
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), before + 1);
        assert_eq!(
            &*reopened.sealer.open("meta", b"outputs", &resealed).unwrap(),
            b"{\"pw\":1}"
        );
        // Another KMS key does not unwrap it: a wrong key, told apart.
        let other = Keys::new(Some(kms(9, &calls)), None);
        assert!(matches!(
            Sealer::resolve(&other, Some(&kms_meta)).unwrap_err(),
            CryptError::WrongKey { .. }
        ));
        assert_eq!(
            Sealer::resolve(&Keys::none(), Some(&kms_meta)).unwrap_err(),
            CryptError::KeyRequired
        );
    }

    #[test]
    fn plan_files_round_trip_and_refuse_a_wrong_or_missing_key() {
        let clear = b"{\n  \"format_version\": 2\n}";
        assert_eq!(seal_file(&Keys::none(), clear).unwrap(), clear);
        assert_eq!(open_file(&Keys::none(), clear).unwrap(), clear);
        let sealed = seal_file(&keys("pass", None), clear).unwrap();
        assert!(is_sealed_file(&sealed));
        assert!(!sealed.windows(14).any(|w| w == b"format_version"));
        assert_eq!(open_file(&keys("pass", None), &sealed).unwrap(), clear);
        // A clear file is still read with a key set.
        assert_eq!(open_file(&keys("pass", None), clear).unwrap(), clear);
        // A changed ciphertext fails authentication.
        let mut envelope: serde_json::Value = serde_json::from_slice(&sealed).unwrap();
        let mut text = envelope["ciphertext"].as_str().unwrap().to_string();
        let flipped = if text.ends_with('0') { '1' } else { '0' };
        text.pop();
        text.push(flipped);
        envelope["ciphertext"] = serde_json::Value::String(text);
        let changed = serde_json::to_vec(&envelope).unwrap();
        assert!(matches!(
            open_file(&keys("pass", None), &changed),
            Err(CryptError::Integrity { .. })
        ));
        assert_eq!(
            open_file(&keys("new", Some("pass")), &sealed).unwrap(),
            clear
        );
        assert_eq!(
            open_file(&Keys::none(), &sealed).unwrap_err(),
            CryptError::KeyRequired
        );
        assert!(matches!(
            open_file(&keys("nope", None), &sealed).unwrap_err(),
            CryptError::WrongKey { .. }
        ));
    }
}
