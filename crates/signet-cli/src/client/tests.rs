//! Unit tests: flag parsing, encodings, update masks, transport checks, rendering.

use clap::{CommandFactory, Parser};
use signet_crypto::Algorithm;
use signet_proto::yandex::cloud::kms::v1::asymmetricsignature::{
    AsymmetricSignatureKey, asymmetric_signature_key::Status,
};
use signet_proto::yandex::cloud::operation::{Operation, operation};

use super::args::{
    CreateArgs, CryptoCommand, Encoding, KeyCommand, KeyRef, OutputFormat, Token, UpdateFields,
    parse_algorithm, parse_labels,
};
use super::error::ClientError;
use super::transport::{Auth, is_loopback_host, parse_endpoint, read_token_file};
use super::{GlobalArgs, KmsCommand, encoding, keys, operation as op_mod, output};

/// The shape main.rs gives the commands: global flags, then `kms ...`.
#[derive(Debug, Parser)]
#[command(name = "signet")]
pub(super) struct TestCli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: TestCommand,
}

#[derive(Debug, clap::Subcommand)]
pub(super) enum TestCommand {
    #[command(subcommand)]
    Kms(KmsCommand),
}

pub(super) fn parse(args: &[&str]) -> Result<(GlobalArgs, KmsCommand), clap::Error> {
    let cli = TestCli::try_parse_from(std::iter::once("signet").chain(args.iter().copied()))?;
    let TestCommand::Kms(cmd) = cli.command;
    Ok((cli.global, cmd))
}

fn update_fields(flags: &[&str]) -> Result<UpdateFields, clap::Error> {
    let mut args = vec!["kms", "asymmetric-signature-key", "update", "abj1"];
    args.extend_from_slice(flags);
    match parse(&args)?.1 {
        KmsCommand::AsymmetricSignatureKey(KeyCommand::Update(u)) => Ok(u.fields),
        other => panic!("parsed as {other:?}"),
    }
}

fn mask_for(flags: &[&str]) -> Vec<String> {
    let fields = update_fields(flags).unwrap();
    let request = keys::update_request("abj1".to_owned(), &fields).unwrap();
    request.update_mask.unwrap().paths
}

fn create_args(flags: &[&str]) -> CreateArgs {
    let mut args = vec!["kms", "asymmetric-signature-key", "create"];
    args.extend_from_slice(flags);
    match parse(&args).unwrap().1 {
        KmsCommand::AsymmetricSignatureKey(KeyCommand::Create(c)) => c,
        other => panic!("parsed as {other:?}"),
    }
}

#[test]
fn clap_definition_is_consistent() {
    TestCli::command().debug_assert();
}

#[test]
fn labels_parse() {
    let labels = parse_labels("env=prod,team=sec,empty=").unwrap().0;
    assert_eq!(labels.len(), 3);
    assert_eq!(labels["env"], "prod");
    assert_eq!(labels["team"], "sec");
    assert_eq!(labels["empty"], "");
    assert!(parse_labels("").unwrap().0.is_empty());
    assert!(parse_labels("novalue").is_err());
    assert!(parse_labels("=v").is_err());
    assert!(parse_labels("a=1,a=2").is_err());
    assert!(parse_labels("a=1,,b=2").is_err());
    // A value may contain '='; only the first one splits.
    assert_eq!(parse_labels("a=b=c").unwrap().0["a"], "b=c");
}

#[test]
fn labels_flag_reaches_the_create_request() {
    let request = keys::create_request(&create_args(&["--labels", "a=b,c=d", "--name", "k"]));
    assert_eq!(request.labels.len(), 2);
    assert_eq!(request.name, "k");
    assert_eq!(request.folder_id, "default");
    assert!(!request.deletion_protection);
    assert!(parse(&["kms", "asymmetric-signature-key", "create", "--labels", "x"]).is_err());
}

#[test]
fn algorithm_flag_accepts_cli_and_wire_names() {
    for alg in Algorithm::ALL {
        assert_eq!(parse_algorithm(&alg.cli_name()), Ok(alg));
        assert_eq!(parse_algorithm(alg.wire_name()), Ok(alg));
    }
    let err = parse_algorithm("rsa-1024").unwrap_err();
    assert!(err.contains("ecdsa-secp256-k1-sha-256"), "{err}");
}

#[test]
fn create_defaults_to_rsa_2048_pss_sha_256() {
    let args = create_args(&[]);
    assert_eq!(args.signature_algorithm, Algorithm::Rsa2048PssSha256);
    assert_eq!(keys::create_request(&args).signature_algorithm, 1);
    let args = create_args(&[
        "--signature-algorithm",
        "ecdsa-nist-p256-sha-256",
        "--deletion-protection",
        "--folder-id",
        "b1g",
    ]);
    let request = keys::create_request(&args);
    assert_eq!(request.signature_algorithm, 10);
    assert!(request.deletion_protection);
    assert_eq!(request.folder_id, "b1g");
    assert!(
        parse(&[
            "kms",
            "asymmetric-signature-key",
            "create",
            "--signature-algorithm",
            "nope"
        ])
        .is_err()
    );
}

#[test]
fn update_mask_names_exactly_the_flags_given() {
    assert_eq!(mask_for(&["--new-name", "n"]), ["name"]);
    assert_eq!(mask_for(&["--description", ""]), ["description"]);
    assert_eq!(mask_for(&["--status", "inactive"]), ["status"]);
    assert_eq!(mask_for(&["--labels", "a=b"]), ["labels"]);
    assert_eq!(mask_for(&["--labels", ""]), ["labels"]);
    assert_eq!(
        mask_for(&["--deletion-protection"]),
        ["deletion_protection"]
    );
    assert_eq!(
        mask_for(&["--no-deletion-protection"]),
        ["deletion_protection"]
    );
    assert_eq!(
        mask_for(&[
            "--no-deletion-protection",
            "--labels",
            "a=b",
            "--status",
            "active",
            "--description",
            "d",
            "--new-name",
            "n",
        ]),
        [
            "name",
            "description",
            "status",
            "labels",
            "deletion_protection"
        ]
    );
}

#[test]
fn update_request_carries_the_values() {
    let fields =
        update_fields(&["--new-name", "n", "--status", "inactive", "--labels", ""]).unwrap();
    let request = keys::update_request("abj1".to_owned(), &fields).unwrap();
    assert_eq!(request.key_id, "abj1");
    assert_eq!(request.name, "n");
    assert_eq!(request.status, Status::Inactive as i32);
    assert!(request.labels.is_empty());

    let on = update_fields(&["--deletion-protection"]).unwrap();
    assert!(
        keys::update_request(String::new(), &on)
            .unwrap()
            .deletion_protection
    );
    let off = update_fields(&["--no-deletion-protection"]).unwrap();
    assert!(
        !keys::update_request(String::new(), &off)
            .unwrap()
            .deletion_protection
    );
}

#[test]
fn update_without_flags_or_with_contradicting_flags_is_refused() {
    let none = update_fields(&[]).unwrap();
    assert!(matches!(
        keys::update_request("k".to_owned(), &none),
        Err(ClientError::NothingToUpdate)
    ));
    assert!(update_fields(&["--deletion-protection", "--no-deletion-protection"]).is_err());
    assert!(update_fields(&["--status", "creating"]).is_err());
}

#[test]
fn key_is_named_by_exactly_one_of_id_positional_or_name() {
    let get = |args: &[&str]| {
        let mut full = vec!["kms", "asymmetric-signature-key", "get"];
        full.extend_from_slice(args);
        parse(&full).map(|(_, cmd)| match cmd {
            KmsCommand::AsymmetricSignatureKey(KeyCommand::Get(g)) => g.key.key_ref(),
            other => panic!("parsed as {other:?}"),
        })
    };
    assert_eq!(get(&["abj1"]).unwrap(), KeyRef::Id("abj1".into()));
    assert_eq!(get(&["--id", "abj2"]).unwrap(), KeyRef::Id("abj2".into()));
    assert_eq!(get(&["--name", "k"]).unwrap(), KeyRef::Name("k".into()));
    assert!(get(&[]).is_err());
    assert!(get(&["abj1", "--name", "k"]).is_err());
    assert!(get(&["--id", "abj1", "--name", "k"]).is_err());
}

#[test]
fn delete_takes_several_ids() {
    let (_, cmd) = parse(&["kms", "asymmetric-signature-keys", "delete", "a", "b"]).unwrap();
    let KmsCommand::AsymmetricSignatureKey(KeyCommand::Delete(d)) = cmd else {
        panic!("not a delete");
    };
    assert_eq!(
        d.targets.key_refs(),
        [KeyRef::Id("a".into()), KeyRef::Id("b".into())]
    );
}

#[test]
fn crypto_flags_parse() {
    let (global, cmd) = parse(&[
        "--format",
        "json",
        "kms",
        "asymmetric-signature-crypto",
        "sign-hash",
        "--name",
        "k",
        "--message-hash-file",
        "d.hex",
        "--inform",
        "hex",
        "--outform",
        "base64",
    ])
    .unwrap();
    assert_eq!(global.format, OutputFormat::Json);
    let KmsCommand::AsymmetricSignatureCrypto(CryptoCommand::SignHash(s)) = cmd else {
        panic!("not sign-hash");
    };
    assert_eq!(s.inform, Encoding::Hex);
    assert_eq!(s.output.outform, Some(Encoding::Base64));
    assert!(s.output.signature_output_file.is_none());
    assert_eq!(s.key.key_ref(), KeyRef::Name("k".into()));
}

#[test]
fn inform_decodes_and_outform_encodes() {
    let bytes: Vec<u8> = (0u8..=255).collect();
    for enc in [Encoding::Raw, Encoding::Hex, Encoding::Base64] {
        assert_eq!(
            encoding::decode(enc, &encoding::encode(enc, &bytes)).unwrap(),
            bytes
        );
    }
    assert_eq!(encoding::encode(Encoding::Hex, b"\x01\xab"), b"01ab\n");
    assert_eq!(encoding::encode(Encoding::Base64, b"hi"), b"aGk=\n");
    assert_eq!(encoding::encode(Encoding::Raw, b"hi"), b"hi");
    // Whitespace, line breaks and upper-case hex, as from `sha256sum | cut` or `xxd -p`.
    assert_eq!(
        encoding::decode(Encoding::Hex, b" 01AB\ncd \n").unwrap(),
        [1, 0xab, 0xcd]
    );
    // Base64 with or without padding, wrapped.
    assert_eq!(
        encoding::decode(Encoding::Base64, b"aGk=\n").unwrap(),
        b"hi"
    );
    assert_eq!(encoding::decode(Encoding::Base64, b"aG\nk").unwrap(), b"hi");
    // Raw keeps everything, newline included.
    assert_eq!(encoding::decode(Encoding::Raw, b"a\n").unwrap(), b"a\n");
    assert!(matches!(
        encoding::decode(Encoding::Hex, b"abc"),
        Err(ClientError::InvalidInput {
            encoding: "hex",
            ..
        })
    ));
    assert!(matches!(
        encoding::decode(Encoding::Base64, b"a$b"),
        Err(ClientError::InvalidInput {
            encoding: "base64",
            ..
        })
    ));
}

#[test]
fn insecure_is_only_for_loopback() {
    for host in [
        "localhost",
        "LocalHost",
        "127.0.0.1",
        "127.1.2.3",
        "::1",
        "::ffff:127.0.0.1",
    ] {
        assert!(is_loopback_host(host), "{host}");
    }
    for host in [
        "10.0.0.1",
        "192.168.1.1",
        "0.0.0.0",
        "::",
        "128.0.0.1",
        "example.com",
        "localhost.example.com",
        "127.0.0.1.nip.io",
    ] {
        assert!(!is_loopback_host(host), "{host}");
    }
}

#[tokio::test]
async fn insecure_to_a_remote_host_is_refused_before_connecting() {
    let (global, _) = parse(&[
        "--insecure",
        "--endpoint",
        "kms.example.com:443",
        "kms",
        "asymmetric-signature-key",
        "list",
    ])
    .unwrap();
    let err = super::connect(&global).await.unwrap_err();
    assert!(
        matches!(&err, ClientError::InsecureNotLoopback { host } if host == "kms.example.com"),
        "{err:?}"
    );
    assert!(
        parse(&[
            "--insecure",
            "--ca",
            "ca.pem",
            "kms",
            "asymmetric-signature-key",
            "list"
        ])
        .is_err()
    );
}

#[test]
fn endpoints_parse() {
    let t = parse_endpoint("kms.example.com:8443").unwrap();
    assert_eq!(t.host, "kms.example.com");
    assert_eq!(t.authority, "kms.example.com:8443");
    let t = parse_endpoint("[::1]:8443").unwrap();
    assert_eq!(t.host, "::1");
    assert_eq!(t.authority, "[::1]:8443");
    for bad in [
        "kms.example.com",
        "https://kms.example.com:443",
        "::1:8443",
        ":8443",
        "host:0",
        "host:65536",
        "host:http",
        "[::1]8443",
        "[nope]:1",
        "a/b:1",
    ] {
        assert!(parse_endpoint(bad).is_err(), "{bad}");
    }
}

#[test]
fn token_is_never_shown() {
    let (global, _) = parse(&[
        "--token",
        "s3cret-token",
        "kms",
        "asymmetric-signature-key",
        "list",
    ])
    .unwrap();
    assert!(!format!("{global:?}").contains("s3cret"));
    let auth = Auth::new(global.token.as_ref()).unwrap();
    assert!(!format!("{auth:?}").contains("s3cret"));

    let err = Auth::new(Some(&Token::new("s3cret\nline"))).unwrap_err();
    assert!(!err.report().contains("s3cret"));
    assert!(parse(&["--token", " ", "kms", "asymmetric-signature-key", "list"]).is_err());
}

#[test]
fn auth_adds_the_bearer_header() {
    use tonic::service::Interceptor;
    let mut auth = Auth::new(Some(&Token::new("t0k"))).unwrap();
    let request = auth.call(tonic::Request::new(())).unwrap();
    assert_eq!(
        request.metadata().get("authorization").unwrap(),
        "Bearer t0k"
    );
    let mut none = Auth::new(None).unwrap();
    let request = none.call(tonic::Request::new(())).unwrap();
    assert!(request.metadata().get("authorization").is_none());
}

#[test]
fn token_file_is_read_and_trimmed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("admin-token");
    assert!(read_token_file(&path).unwrap().is_none());
    std::fs::write(&path, "abc.def\n").unwrap();
    assert_eq!(read_token_file(&path).unwrap().unwrap().expose(), "abc.def");
    std::fs::write(&path, "\n").unwrap();
    assert!(matches!(
        read_token_file(&path),
        Err(ClientError::InvalidToken(_))
    ));
}

#[test]
fn errors_are_reported_as_code_and_message() {
    let err = ClientError::from(tonic::Status::not_found("key abj1 not found"));
    assert_eq!(err.report(), "ERROR: NOT_FOUND: key abj1 not found");
    let err = ClientError::OperationFailed {
        operation_id: "op1".into(),
        code: 9,
        message: "deletion protection is on".into(),
    };
    assert_eq!(
        err.report(),
        "ERROR: FAILED_PRECONDITION: deletion protection is on (operation op1)"
    );
    let err = ClientError::ReadFile {
        path: "/nope".into(),
        source: std::io::Error::from(std::io::ErrorKind::NotFound),
    };
    assert!(
        err.report().starts_with("ERROR: cannot read /nope: "),
        "{}",
        err.report()
    );
}

fn key(id: &str, name: &str) -> AsymmetricSignatureKey {
    AsymmetricSignatureKey {
        id: id.into(),
        folder_id: "default".into(),
        name: name.into(),
        status: Status::Active as i32,
        signature_algorithm: 10,
        ..Default::default()
    }
}

#[test]
fn names_resolve_to_exactly_one_key() {
    let keys = [key("a", "one"), key("b", "two"), key("c", "two")];
    assert_eq!(keys::pick_by_name(&keys, "one", "f").unwrap(), "a");
    assert!(matches!(
        keys::pick_by_name(&keys, "three", "f"),
        Err(ClientError::KeyNameNotFound { .. })
    ));
    assert!(matches!(
        keys::pick_by_name(&keys, "two", "f"),
        Err(ClientError::KeyNameAmbiguous { count: 2, .. })
    ));
}

fn any_of<M: prost::Message + prost::Name>(m: &M) -> signet_proto::pbjson_types::Any {
    signet_proto::pbjson_types::Any {
        type_url: M::type_url(),
        value: m.encode_to_vec().into(),
    }
}

#[test]
fn operation_responses_are_checked_and_unpacked() {
    let k = key("abj1", "k");
    let mut op = Operation {
        id: "op1".into(),
        done: true,
        result: Some(operation::Result::Response(any_of(&k))),
        ..Default::default()
    };
    let got: AsymmetricSignatureKey = op_mod::response(&op).unwrap();
    assert_eq!(got, k);

    op.result = Some(operation::Result::Response(any_of(
        &signet_proto::yandex::cloud::operation::GetOperationRequest::default(),
    )));
    assert!(matches!(
        op_mod::response::<AsymmetricSignatureKey>(&op),
        Err(ClientError::UnexpectedResponseType { .. })
    ));

    op.result = Some(operation::Result::Error(
        signet_proto::google::rpc::Status {
            code: 9,
            message: "no".into(),
            details: vec![],
        },
    ));
    assert!(matches!(
        op_mod::response::<AsymmetricSignatureKey>(&op),
        Err(ClientError::OperationFailed { code: 9, .. })
    ));
    op.result = None;
    assert!(matches!(
        op_mod::response::<AsymmetricSignatureKey>(&op),
        Err(ClientError::EmptyOperationResult { .. })
    ));
}

fn render(format: OutputFormat, f: impl FnOnce(&mut output::Printer<'_>)) -> String {
    let mut out = Vec::new();
    f(&mut output::Printer::new(format, &mut out));
    String::from_utf8(out).unwrap()
}

#[test]
fn text_output_reads_like_yc() {
    let mut k = key("abj1", "my key");
    k.labels.insert("env".into(), "prod".into());
    k.deletion_protection = true;
    k.created_at = Some(signet_proto::pbjson_types::Timestamp {
        seconds: 1_700_000_000,
        nanos: 0,
    });
    let text = render(OutputFormat::Text, |p| p.key(&k).unwrap());
    assert_eq!(
        text,
        "id: abj1\nfolder_id: default\ncreated_at: \"2023-11-14T22:13:20Z\"\nname: my key\n\
         labels:\n  env: prod\nstatus: ACTIVE\nsignature_algorithm: ECDSA_NIST_P256_SHA_256\n\
         deletion_protection: true\n"
    );
    // The text form is also valid YAML.
    let yaml: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    assert_eq!(yaml["name"], "my key");

    let table = render(OutputFormat::Text, |p| p.keys(&[k.clone()]).unwrap());
    assert!(
        table
            .contains("| abj1 | my key | ECDSA_NIST_P256_SHA_256 | 2023-11-14 22:13:20 | ACTIVE |"),
        "{table}"
    );
}

#[test]
fn json_output_is_the_proto3_mapping() {
    let k = key("abj1", "k");
    let json = render(OutputFormat::Json, |p| p.key(&k).unwrap());
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(value["folderId"], "default");
    assert_eq!(value["signatureAlgorithm"], "ECDSA_NIST_P256_SHA_256");

    let op = Operation {
        id: "op1".into(),
        done: true,
        metadata: Some(any_of(
            &signet_proto::yandex::cloud::kms::v1::asymmetricsignature::CreateAsymmetricSignatureKeyMetadata {
                key_id: "abj1".into(),
            },
        )),
        result: Some(operation::Result::Response(any_of(&k))),
        ..Default::default()
    };
    let json = render(OutputFormat::Json, |p| p.operation(&op).unwrap());
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(value["metadata"]["keyId"], "abj1");
    assert!(
        value["metadata"]["@type"]
            .as_str()
            .unwrap()
            .ends_with("CreateAsymmetricSignatureKeyMetadata")
    );
    assert_eq!(value["response"]["name"], "k");
    let yaml = render(OutputFormat::Yaml, |p| p.operation(&op).unwrap());
    let back: serde_json::Value = serde_yaml::from_str(&yaml).unwrap();
    assert_eq!(back, value);
}

#[test]
fn scalars_are_quoted_when_yaml_would_misread_them() {
    assert_eq!(output::scalar("abj1"), "abj1");
    assert_eq!(output::scalar("true"), "\"true\"");
    assert_eq!(output::scalar("123"), "\"123\"");
    assert_eq!(output::scalar(""), "\"\"");
    assert_eq!(output::scalar("a: b"), "\"a: b\"");
    assert_eq!(output::scalar("first key"), "first key");
    assert_eq!(output::scalar("trailing "), "\"trailing \"");
    assert_eq!(output::scalar("a #b"), "\"a #b\"");
    assert_eq!(output::scalar("2024-01-01"), "\"2024-01-01\"");
    assert_eq!(output::scalar("line\nbreak"), "\"line\\nbreak\"");
}
