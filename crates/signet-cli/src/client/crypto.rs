//! `signet kms asymmetric-signature-crypto ...`: the data plane.

use std::path::Path;

use serde::Serialize;
use signet_proto::yandex::cloud::kms::v1::asymmetricsignature::{
    AsymmetricGetPublicKeyRequest, AsymmetricSignHashRequest, AsymmetricSignRequest,
};

use super::Session;
use super::args::{
    CryptoCommand, Encoding, GetPublicKeyArgs, OutputFormat, SignArgs, SignHashArgs,
    SignatureOutputArgs,
};
use super::encoding;
use super::error::ClientError;
use super::keys::resolve;

pub async fn run(session: &mut Session<'_>, cmd: CryptoCommand) -> Result<(), ClientError> {
    match cmd {
        CryptoCommand::Sign(args) => sign(session, args).await,
        CryptoCommand::SignHash(args) => sign_hash(session, args).await,
        CryptoCommand::GetPublicKey(args) => get_public_key(session, args).await,
    }
}

async fn sign(session: &mut Session<'_>, args: SignArgs) -> Result<(), ClientError> {
    // Input first: a bad file or encoding fails before any call.
    let message = read_input(
        session,
        args.message_file.as_deref(),
        args.inform,
        "message",
    )?;
    let key_id = resolve(
        &mut session.clients,
        &args.key.key_ref(),
        &args.folder.folder_id,
    )
    .await?;
    let response = session
        .clients
        .crypto
        .sign(AsymmetricSignRequest { key_id, message })
        .await?
        .into_inner();
    write_signature(session, &args.output, &response.signature, &response)
}

async fn sign_hash(session: &mut Session<'_>, args: SignHashArgs) -> Result<(), ClientError> {
    let hash = read_input(
        session,
        args.message_hash_file.as_deref(),
        args.inform,
        "digest",
    )?;
    let key_id = resolve(
        &mut session.clients,
        &args.key.key_ref(),
        &args.folder.folder_id,
    )
    .await?;
    let response = session
        .clients
        .crypto
        .sign_hash(AsymmetricSignHashRequest { key_id, hash })
        .await?
        .into_inner();
    write_signature(session, &args.output, &response.signature, &response)
}

async fn get_public_key(
    session: &mut Session<'_>,
    args: GetPublicKeyArgs,
) -> Result<(), ClientError> {
    let key_id = resolve(
        &mut session.clients,
        &args.key.key_ref(),
        &args.folder.folder_id,
    )
    .await?;
    let response = session
        .clients
        .crypto
        .get_public_key(AsymmetricGetPublicKeyRequest { key_id })
        .await?
        .into_inner();
    match &args.output_file {
        Some(path) => {
            let mut pem = response.public_key;
            if !pem.ends_with('\n') {
                pem.push('\n');
            }
            write_file(path, pem.as_bytes())
        }
        None => session.printer.public_key(&response),
    }
}

/// Reads the file, or stdin, and decodes it per `--inform`.
fn read_input(
    session: &mut Session<'_>,
    file: Option<&Path>,
    inform: Encoding,
    what: &str,
) -> Result<Vec<u8>, ClientError> {
    let raw = match file {
        Some(path) => std::fs::read(path).map_err(|source| ClientError::ReadFile {
            path: path.to_owned(),
            source,
        })?,
        None => {
            if session.interactive_input {
                eprintln!("Reading the {what} from standard input; end it with Ctrl-D.");
            }
            let mut raw = Vec::new();
            session
                .input
                .read_to_end(&mut raw)
                .map_err(ClientError::Stdin)?;
            raw
        }
    };
    encoding::decode(inform, &raw)
}

/// Writes a signature: into `--signature-output-file` (raw unless `--outform` says otherwise),
/// or to stdout per `--outform`; without it, base64 in text format and the whole response
/// message in JSON/YAML.
fn write_signature<T: Serialize>(
    session: &mut Session<'_>,
    output: &SignatureOutputArgs,
    signature: &[u8],
    response: &T,
) -> Result<(), ClientError> {
    match (&output.signature_output_file, output.outform) {
        (Some(path), outform) => write_file(
            path,
            &encoding::encode(outform.unwrap_or(Encoding::Raw), signature),
        ),
        (None, Some(outform)) => session.printer.raw(&encoding::encode(outform, signature)),
        (None, None) => match session.printer.format() {
            OutputFormat::Text => session
                .printer
                .raw(&encoding::encode(Encoding::Base64, signature)),
            OutputFormat::Json | OutputFormat::Yaml => session.printer.document(response),
        },
    }
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), ClientError> {
    std::fs::write(path, bytes).map_err(|source| ClientError::WriteFile {
        path: path.to_owned(),
        source,
    })
}
