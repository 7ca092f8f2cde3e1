//! Rendering results as text (like `yc`), proto3 JSON, or YAML.
//!
//! JSON and YAML come from the generated serde impls, so they follow the proto3 JSON mapping.
//! The one addition is `google.protobuf.Any` inside an operation: when its type is one this
//! API returns, it is expanded as the mapping prescribes (`{"@type": ..., <fields>}`) instead
//! of pbjson's opaque `{"typeUrl", "value"}`.

use std::io::{self, Write};

use prost::{Message, Name};
use serde::Serialize;
use serde::ser::SerializeMap;
use signet_proto::pbjson_types::{Any, Timestamp};
use signet_proto::yandex::cloud::access::{
    AccessBinding, SetAccessBindingsMetadata, UpdateAccessBindingsMetadata,
};
use signet_proto::yandex::cloud::iam::v1::{
    CreateServiceAccountMetadata, DeleteKeyMetadata, DeleteServiceAccountMetadata, Key,
    ServiceAccount, UpdateKeyMetadata, UpdateServiceAccountMetadata, key, service_account,
};
use signet_proto::yandex::cloud::kms::v1::asymmetricsignature::{
    AsymmetricGetPublicKeyResponse, AsymmetricSignatureAlgorithm, AsymmetricSignatureKey,
    CreateAsymmetricSignatureKeyMetadata, DeleteAsymmetricSignatureKeyMetadata,
    UpdateAsymmetricSignatureKeyMetadata, asymmetric_signature_key,
};
use signet_proto::yandex::cloud::operation::{Operation, operation};

use super::args::OutputFormat;
use super::error::{ClientError, code_name};

/// Writes results to one output in one format.
pub struct Printer<'a> {
    format: OutputFormat,
    out: &'a mut (dyn Write + Send),
}

impl std::fmt::Debug for Printer<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Printer")
            .field("format", &self.format)
            .finish_non_exhaustive()
    }
}

impl<'a> Printer<'a> {
    pub fn new(format: OutputFormat, out: &'a mut (dyn Write + Send)) -> Printer<'a> {
        Printer { format, out }
    }

    pub fn format(&self) -> OutputFormat {
        self.format
    }

    pub fn key(&mut self, key: &AsymmetricSignatureKey) -> Result<(), ClientError> {
        match self.format {
            OutputFormat::Text => write_key_text(self.out, key, "").map_err(ClientError::Stdout),
            _ => self.document(key),
        }
    }

    /// A list of keys: a table in text, an array in JSON/YAML (as `yc` prints lists).
    pub fn keys(&mut self, keys: &[AsymmetricSignatureKey]) -> Result<(), ClientError> {
        match self.format {
            OutputFormat::Text => {
                let rows: Vec<Vec<String>> = keys
                    .iter()
                    .map(|k| {
                        vec![
                            k.id.clone(),
                            k.name.clone(),
                            algorithm_name(k.signature_algorithm),
                            k.created_at.as_ref().map(table_time).unwrap_or_default(),
                            status_name(k.status),
                        ]
                    })
                    .collect();
                write_table(
                    self.out,
                    &["ID", "NAME", "SIGNATURE ALGORITHM", "CREATED AT", "STATUS"],
                    &rows,
                )
                .map_err(ClientError::Stdout)
            }
            _ => self.document(&keys),
        }
    }

    pub fn operation(&mut self, op: &Operation) -> Result<(), ClientError> {
        match self.format {
            OutputFormat::Text => write_operation_text(self.out, op).map_err(ClientError::Stdout),
            _ => self.document(&OperationView(op)),
        }
    }

    pub fn operations(&mut self, ops: &[Operation]) -> Result<(), ClientError> {
        match self.format {
            OutputFormat::Text => {
                let rows: Vec<Vec<String>> = ops
                    .iter()
                    .map(|op| {
                        vec![
                            op.id.clone(),
                            op.created_at.as_ref().map(table_time).unwrap_or_default(),
                            op.created_by.clone(),
                            op.modified_at.as_ref().map(table_time).unwrap_or_default(),
                            operation_state(op).to_owned(),
                            op.description.clone(),
                        ]
                    })
                    .collect();
                write_table(
                    self.out,
                    &[
                        "ID",
                        "CREATED AT",
                        "CREATED BY",
                        "MODIFIED AT",
                        "STATUS",
                        "DESCRIPTION",
                    ],
                    &rows,
                )
                .map_err(ClientError::Stdout)
            }
            _ => {
                let views: Vec<OperationView<'_>> = ops.iter().map(OperationView).collect();
                self.document(&views)
            }
        }
    }

    /// `key_id:` and `public_key:` (a YAML block holding the PEM) in text, like `yc`.
    pub fn public_key(&mut self, resp: &AsymmetricGetPublicKeyResponse) -> Result<(), ClientError> {
        match self.format {
            OutputFormat::Text => {
                let write = |out: &mut (dyn Write + Send)| -> io::Result<()> {
                    writeln!(out, "key_id: {}", scalar(&resp.key_id))?;
                    writeln!(out, "public_key: |")?;
                    for line in resp.public_key.lines() {
                        writeln!(out, "  {line}")?;
                    }
                    Ok(())
                };
                write(self.out).map_err(ClientError::Stdout)
            }
            _ => self.document(resp),
        }
    }

    /// A service account: `field: value` lines in text, like `yc iam service-account get`.
    pub fn service_account(&mut self, account: &ServiceAccount) -> Result<(), ClientError> {
        match self.format {
            OutputFormat::Text => {
                write_account_text(self.out, account, "").map_err(ClientError::Stdout)
            }
            _ => self.document(account),
        }
    }

    /// A list of service accounts: a table in text, an array in JSON/YAML.
    pub fn service_accounts(&mut self, accounts: &[ServiceAccount]) -> Result<(), ClientError> {
        match self.format {
            OutputFormat::Text => {
                let rows: Vec<Vec<String>> = accounts
                    .iter()
                    .map(|a| {
                        vec![
                            a.id.clone(),
                            a.name.clone(),
                            labels_cell(&a.labels),
                            a.created_at.as_ref().map(table_time).unwrap_or_default(),
                        ]
                    })
                    .collect();
                write_table(self.out, &["ID", "NAME", "LABELS", "CREATED AT"], &rows)
                    .map_err(ClientError::Stdout)
            }
            _ => self.document(&accounts),
        }
    }

    /// An authorized key (its public part; the server never returns the private key here).
    pub fn authorized_key(&mut self, key: &Key) -> Result<(), ClientError> {
        match self.format {
            OutputFormat::Text => {
                write_authorized_key_text(self.out, key).map_err(ClientError::Stdout)
            }
            _ => self.document(key),
        }
    }

    /// A list of authorized keys: a table in text, an array in JSON/YAML.
    pub fn authorized_keys(&mut self, keys: &[Key]) -> Result<(), ClientError> {
        match self.format {
            OutputFormat::Text => {
                let rows: Vec<Vec<String>> = keys
                    .iter()
                    .map(|k| {
                        vec![
                            k.id.clone(),
                            key_algorithm_name(k.key_algorithm),
                            k.created_at.as_ref().map(table_time).unwrap_or_default(),
                            k.description.clone(),
                        ]
                    })
                    .collect();
                write_table(
                    self.out,
                    &["ID", "KEY ALGORITHM", "CREATED AT", "DESCRIPTION"],
                    &rows,
                )
                .map_err(ClientError::Stdout)
            }
            _ => self.document(&keys),
        }
    }

    /// Access bindings: a table in text (as `yc ... list-access-bindings`), an array in
    /// JSON/YAML.
    pub fn access_bindings(&mut self, bindings: &[AccessBinding]) -> Result<(), ClientError> {
        match self.format {
            OutputFormat::Text => {
                let rows: Vec<Vec<String>> = bindings
                    .iter()
                    .map(|b| {
                        let (kind, id) = b
                            .subject
                            .as_ref()
                            .map(|s| (s.r#type.clone(), s.id.clone()))
                            .unwrap_or_default();
                        vec![b.role_id.clone(), kind, id]
                    })
                    .collect();
                write_table(self.out, &["ROLE ID", "SUBJECT TYPE", "SUBJECT ID"], &rows)
                    .map_err(ClientError::Stdout)
            }
            _ => self.document(&bindings),
        }
    }

    /// Any response message, in JSON or YAML (text falls back to YAML, which reads the same).
    pub fn document<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ClientError> {
        let text = match self.format {
            OutputFormat::Json => {
                let mut text = serde_json::to_string_pretty(value).map_err(ClientError::Json)?;
                text.push('\n');
                text
            }
            OutputFormat::Yaml | OutputFormat::Text => {
                serde_yaml::to_string(value).map_err(ClientError::Yaml)?
            }
        };
        self.raw(text.as_bytes())
    }

    pub fn raw(&mut self, bytes: &[u8]) -> Result<(), ClientError> {
        self.out.write_all(bytes).map_err(ClientError::Stdout)
    }

    pub fn flush(&mut self) -> Result<(), ClientError> {
        self.out.flush().map_err(ClientError::Stdout)
    }
}

fn status_name(status: i32) -> String {
    asymmetric_signature_key::Status::try_from(status)
        .map(|s| s.as_str_name().to_owned())
        .unwrap_or_else(|_| status.to_string())
}

fn algorithm_name(algorithm: i32) -> String {
    AsymmetricSignatureAlgorithm::try_from(algorithm)
        .map(|a| a.as_str_name().to_owned())
        .unwrap_or_else(|_| algorithm.to_string())
}

fn operation_state(op: &Operation) -> &'static str {
    match (&op.result, op.done) {
        (Some(operation::Result::Error(_)), _) => "ERROR",
        (_, true) => "DONE",
        (_, false) => "RUNNING",
    }
}

/// RFC 3339 in UTC with a `Z`, as `yc` prints times. The digits come from the generated serde
/// impl, which writes the offset as `+00:00`.
pub(crate) fn rfc3339(ts: &Timestamp) -> String {
    match serde_json::to_value(ts) {
        Ok(serde_json::Value::String(s)) => match s.strip_suffix("+00:00") {
            Some(head) => format!("{head}Z"),
            None => s,
        },
        _ => format!("{}s", ts.seconds),
    }
}

/// `YYYY-MM-DD HH:MM:SS`, as `yc` shows times in tables.
fn table_time(ts: &Timestamp) -> String {
    let full = rfc3339(ts);
    match full.get(..19) {
        Some(head) if full.as_bytes().get(10) == Some(&b'T') => head.replacen('T', " ", 1),
        _ => full,
    }
}

/// A string as a YAML scalar: bare when that is unambiguous (words, IDs, names with inner
/// spaces), else JSON-quoted (which YAML reads as a double-quoted scalar), so that the text
/// output is also valid YAML.
pub fn scalar(s: &str) -> String {
    const WORDS: [&str; 10] = [
        "true", "false", "null", "yes", "no", "on", "off", "y", "n", "~",
    ];
    let bare = s
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && !s.ends_with(' ')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || " -_./@+=,()".contains(c))
        && !WORDS.iter().any(|w| s.eq_ignore_ascii_case(w));
    if bare {
        s.to_owned()
    } else {
        serde_json::to_string(s).unwrap_or_else(|_| format!("{s:?}"))
    }
}

/// `field: value` lines in proto field order, default values left out, as `yc` prints.
fn write_key_text(
    out: &mut (dyn Write + Send),
    key: &AsymmetricSignatureKey,
    indent: &str,
) -> io::Result<()> {
    writeln!(out, "{indent}id: {}", scalar(&key.id))?;
    writeln!(out, "{indent}folder_id: {}", scalar(&key.folder_id))?;
    if let Some(ts) = &key.created_at {
        writeln!(out, "{indent}created_at: \"{}\"", rfc3339(ts))?;
    }
    if !key.name.is_empty() {
        writeln!(out, "{indent}name: {}", scalar(&key.name))?;
    }
    if !key.description.is_empty() {
        writeln!(out, "{indent}description: {}", scalar(&key.description))?;
    }
    if !key.labels.is_empty() {
        writeln!(out, "{indent}labels:")?;
        let mut labels: Vec<_> = key.labels.iter().collect();
        labels.sort();
        for (k, v) in labels {
            writeln!(out, "{indent}  {}: {}", scalar(k), scalar(v))?;
        }
    }
    writeln!(out, "{indent}status: {}", status_name(key.status))?;
    writeln!(
        out,
        "{indent}signature_algorithm: {}",
        algorithm_name(key.signature_algorithm)
    )?;
    if key.deletion_protection {
        writeln!(out, "{indent}deletion_protection: true")?;
    }
    Ok(())
}

fn account_status_name(status: i32) -> String {
    service_account::Status::try_from(status)
        .map(|s| s.as_str_name().to_owned())
        .unwrap_or_else(|_| status.to_string())
}

/// The wire name of an authorized key's algorithm (`RSA_2048`).
pub(crate) fn key_algorithm_name(algorithm: i32) -> String {
    key::Algorithm::try_from(algorithm)
        .map(|a| a.as_str_name().to_owned())
        .unwrap_or_else(|_| algorithm.to_string())
}

/// Labels as `k=v,k=v`, sorted, for a table cell.
fn labels_cell(labels: &std::collections::HashMap<String, String>) -> String {
    let mut pairs: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    pairs.sort();
    pairs.join(",")
}

fn write_labels_text(
    out: &mut (dyn Write + Send),
    labels: &std::collections::HashMap<String, String>,
    indent: &str,
) -> io::Result<()> {
    if labels.is_empty() {
        return Ok(());
    }
    writeln!(out, "{indent}labels:")?;
    let mut labels: Vec<_> = labels.iter().collect();
    labels.sort();
    for (k, v) in labels {
        writeln!(out, "{indent}  {}: {}", scalar(k), scalar(v))?;
    }
    Ok(())
}

/// A service account as `field: value` lines, default values left out.
fn write_account_text(
    out: &mut (dyn Write + Send),
    account: &ServiceAccount,
    indent: &str,
) -> io::Result<()> {
    writeln!(out, "{indent}id: {}", scalar(&account.id))?;
    writeln!(out, "{indent}folder_id: {}", scalar(&account.folder_id))?;
    if let Some(ts) = &account.created_at {
        writeln!(out, "{indent}created_at: \"{}\"", rfc3339(ts))?;
    }
    writeln!(out, "{indent}name: {}", scalar(&account.name))?;
    if !account.description.is_empty() {
        writeln!(out, "{indent}description: {}", scalar(&account.description))?;
    }
    write_labels_text(out, &account.labels, indent)?;
    if let Some(ts) = &account.last_authenticated_at {
        writeln!(out, "{indent}last_authenticated_at: \"{}\"", rfc3339(ts))?;
    }
    if account.status != 0 {
        writeln!(
            out,
            "{indent}status: {}",
            account_status_name(account.status)
        )?;
    }
    Ok(())
}

/// An authorized key as `field: value` lines, its public key as a YAML block.
fn write_authorized_key_text(out: &mut (dyn Write + Send), key: &Key) -> io::Result<()> {
    writeln!(out, "id: {}", scalar(&key.id))?;
    match &key.subject {
        Some(key::Subject::ServiceAccountId(id)) => {
            writeln!(out, "service_account_id: {}", scalar(id))?
        }
        Some(key::Subject::UserAccountId(id)) => writeln!(out, "user_account_id: {}", scalar(id))?,
        None => {}
    }
    if let Some(ts) = &key.created_at {
        writeln!(out, "created_at: \"{}\"", rfc3339(ts))?;
    }
    if !key.description.is_empty() {
        writeln!(out, "description: {}", scalar(&key.description))?;
    }
    writeln!(
        out,
        "key_algorithm: {}",
        key_algorithm_name(key.key_algorithm)
    )?;
    if !key.public_key.is_empty() {
        writeln!(out, "public_key: |")?;
        for line in key.public_key.lines() {
            writeln!(out, "  {line}")?;
        }
    }
    if let Some(ts) = &key.last_used_at {
        writeln!(out, "last_used_at: \"{}\"", rfc3339(ts))?;
    }
    Ok(())
}

fn write_operation_text(out: &mut (dyn Write + Send), op: &Operation) -> io::Result<()> {
    writeln!(out, "id: {}", scalar(&op.id))?;
    if !op.description.is_empty() {
        writeln!(out, "description: {}", scalar(&op.description))?;
    }
    if let Some(ts) = &op.created_at {
        writeln!(out, "created_at: \"{}\"", rfc3339(ts))?;
    }
    if !op.created_by.is_empty() {
        writeln!(out, "created_by: {}", scalar(&op.created_by))?;
    }
    if let Some(ts) = &op.modified_at {
        writeln!(out, "modified_at: \"{}\"", rfc3339(ts))?;
    }
    writeln!(out, "done: {}", op.done)?;
    if let Some(any) = &op.metadata {
        writeln!(out, "metadata:")?;
        write_any_text(out, any)?;
    }
    match &op.result {
        Some(operation::Result::Error(status)) => {
            writeln!(out, "error:")?;
            writeln!(
                out,
                "  code: {} # {}",
                status.code,
                code_name(tonic::Code::from_i32(status.code))
            )?;
            writeln!(out, "  message: {}", scalar(&status.message))?;
        }
        Some(operation::Result::Response(any)) => {
            writeln!(out, "response:")?;
            write_any_text(out, any)?;
        }
        None => {}
    }
    Ok(())
}

fn write_any_text(out: &mut (dyn Write + Send), any: &Any) -> io::Result<()> {
    writeln!(out, "  \"@type\": {}", scalar(&any.type_url))?;
    match KnownAny::decode(any) {
        Some(KnownAny::Metadata(m)) => writeln!(out, "  key_id: {}", scalar(&m.key_id)),
        Some(KnownAny::Key(key)) => write_key_text(out, &key, "  "),
        Some(KnownAny::ResourceMetadata(m)) => {
            writeln!(out, "  resource_id: {}", scalar(&m.resource_id))
        }
        Some(KnownAny::AccountMetadata(m)) => {
            writeln!(
                out,
                "  service_account_id: {}",
                scalar(&m.service_account_id)
            )
        }
        Some(KnownAny::ServiceAccount(account)) => write_account_text(out, &account, "  "),
        Some(KnownAny::Empty) => Ok(()),
        None => writeln!(
            out,
            "  # {} bytes, type not known to this client",
            any.value.len()
        ),
    }
}

fn write_table(
    out: &mut (dyn Write + Send),
    headers: &[&str],
    rows: &[Vec<String>],
) -> io::Result<()> {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let rule: String = widths
        .iter()
        .map(|w| format!("+{}", "-".repeat(w + 2)))
        .collect::<String>()
        + "+";
    writeln!(out, "{rule}")?;
    let mut line = String::new();
    for (header, width) in headers.iter().zip(&widths) {
        let len = header.chars().count();
        let left = (width - len) / 2;
        let right = width - len - left;
        line.push_str(&format!(
            "| {}{header}{} ",
            " ".repeat(left),
            " ".repeat(right)
        ));
    }
    writeln!(out, "{line}|")?;
    writeln!(out, "{rule}")?;
    for row in rows {
        let mut line = String::new();
        for (cell, width) in row.iter().zip(&widths) {
            let pad = width - cell.chars().count();
            line.push_str(&format!("| {cell}{} ", " ".repeat(pad)));
        }
        writeln!(out, "{line}|")?;
    }
    writeln!(out, "{rule}")
}

/// The `Any` payloads this API puts in operations.
pub enum KnownAny {
    /// Create/Update/Delete metadata of signature keys and authorized keys: all are `{key_id}`.
    Metadata(CreateAsymmetricSignatureKeyMetadata),
    Key(AsymmetricSignatureKey),
    /// Set/UpdateAccessBindings metadata: both are `{resource_id}`.
    ResourceMetadata(SetAccessBindingsMetadata),
    /// Create/Update/Delete service account metadata: all are `{service_account_id}`.
    AccountMetadata(CreateServiceAccountMetadata),
    ServiceAccount(ServiceAccount),
    Empty,
}

/// The message name in a type URL (`type.googleapis.com/a.b.C` → `a.b.C`).
pub fn type_name(type_url: &str) -> &str {
    type_url.rsplit('/').next().unwrap_or(type_url)
}

impl KnownAny {
    pub fn decode(any: &Any) -> Option<KnownAny> {
        let name = type_name(&any.type_url);
        let value = any.value.as_ref();
        if name == CreateAsymmetricSignatureKeyMetadata::full_name()
            || name == UpdateAsymmetricSignatureKeyMetadata::full_name()
            || name == DeleteAsymmetricSignatureKeyMetadata::full_name()
            || name == UpdateKeyMetadata::full_name()
            || name == DeleteKeyMetadata::full_name()
        {
            CreateAsymmetricSignatureKeyMetadata::decode(value)
                .ok()
                .map(KnownAny::Metadata)
        } else if name == AsymmetricSignatureKey::full_name() {
            AsymmetricSignatureKey::decode(value)
                .ok()
                .map(KnownAny::Key)
        } else if name == SetAccessBindingsMetadata::full_name()
            || name == UpdateAccessBindingsMetadata::full_name()
        {
            SetAccessBindingsMetadata::decode(value)
                .ok()
                .map(KnownAny::ResourceMetadata)
        } else if name == CreateServiceAccountMetadata::full_name()
            || name == UpdateServiceAccountMetadata::full_name()
            || name == DeleteServiceAccountMetadata::full_name()
        {
            CreateServiceAccountMetadata::decode(value)
                .ok()
                .map(KnownAny::AccountMetadata)
        } else if name == ServiceAccount::full_name() {
            ServiceAccount::decode(value)
                .ok()
                .map(KnownAny::ServiceAccount)
        } else if name == "google.protobuf.Empty" {
            Some(KnownAny::Empty)
        } else {
            None
        }
    }
}

/// An `Any` in the proto3 JSON mapping: `@type` followed by the message's own fields.
struct AnyView<'a>(&'a Any);

#[derive(Serialize)]
struct Typed<'a, T: Serialize> {
    #[serde(rename = "@type")]
    type_url: &'a str,
    #[serde(flatten)]
    message: &'a T,
}

impl Serialize for AnyView<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let type_url = self.0.type_url.as_str();
        match KnownAny::decode(self.0) {
            Some(KnownAny::Metadata(m)) => Typed {
                type_url,
                message: &m,
            }
            .serialize(serializer),
            Some(KnownAny::Key(key)) => Typed {
                type_url,
                message: &key,
            }
            .serialize(serializer),
            Some(KnownAny::ResourceMetadata(m)) => Typed {
                type_url,
                message: &m,
            }
            .serialize(serializer),
            Some(KnownAny::AccountMetadata(m)) => Typed {
                type_url,
                message: &m,
            }
            .serialize(serializer),
            Some(KnownAny::ServiceAccount(account)) => Typed {
                type_url,
                message: &account,
            }
            .serialize(serializer),
            Some(KnownAny::Empty) => {
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry("@type", type_url)?;
                map.end()
            }
            None => self.0.serialize(serializer),
        }
    }
}

/// An operation in the proto3 JSON mapping, with its `Any` fields expanded; field order and
/// omission of defaults as in the generated impl.
struct OperationView<'a>(&'a Operation);

impl Serialize for OperationView<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let op = self.0;
        let mut map = serializer.serialize_map(None)?;
        if !op.id.is_empty() {
            map.serialize_entry("id", &op.id)?;
        }
        if !op.description.is_empty() {
            map.serialize_entry("description", &op.description)?;
        }
        if let Some(ts) = &op.created_at {
            map.serialize_entry("createdAt", ts)?;
        }
        if !op.created_by.is_empty() {
            map.serialize_entry("createdBy", &op.created_by)?;
        }
        if let Some(ts) = &op.modified_at {
            map.serialize_entry("modifiedAt", ts)?;
        }
        if op.done {
            map.serialize_entry("done", &op.done)?;
        }
        if let Some(any) = &op.metadata {
            map.serialize_entry("metadata", &AnyView(any))?;
        }
        match &op.result {
            Some(operation::Result::Error(status)) => map.serialize_entry("error", status)?,
            Some(operation::Result::Response(any)) => {
                map.serialize_entry("response", &AnyView(any))?
            }
            None => {}
        }
        map.end()
    }
}
