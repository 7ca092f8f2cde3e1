//! Compiles every `.proto` under the workspace's `proto/` directory with
//! protox (pure Rust, so no `protoc` is needed anywhere) and generates:
//! prost messages with tonic clients and servers, pbjson serde impls that
//! follow the proto3 JSON mapping, and the encoded `FileDescriptorSet`
//! (custom options and source info kept) behind `FILE_DESCRIPTOR_SET`.

use std::error::Error;
use std::path::{Path, PathBuf};
use std::{env, fs};

/// Output file (in `OUT_DIR`) holding the encoded descriptor set.
const DESCRIPTOR_FILE: &str = "signet_descriptor.bin";

/// Rust paths for `google.protobuf` types. pbjson-types carries
/// JSON-mapping-aware serde impls; FieldMask gets Signet's own type because
/// pbjson-types renders it as `{"paths": [...]}` instead of the mapped
/// comma-separated string. The most specific entry wins in both generators.
const EXTERN_PATHS: &[(&str, &str)] = &[
    (".google.protobuf.FieldMask", "crate::wkt::FieldMask"),
    (".google.protobuf", "::pbjson_types"),
];

/// Packages that get serde impls (everything we compile ourselves).
const JSON_PACKAGES: &[&str] = &[".yandex", ".google.api", ".google.rpc", ".signet"];

fn main() -> Result<(), Box<dyn Error>> {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?);
    let proto_root = manifest_dir.join("..").join("..").join("proto");
    let proto_root = proto_root.canonicalize().map_err(|e| {
        format!(
            "proto directory {} is not readable: {e}",
            proto_root.display()
        )
    })?;
    println!("cargo:rerun-if-changed={}", proto_root.display());

    let mut files = Vec::new();
    collect_protos(&proto_root, &proto_root, &mut files)?;
    files.sort();

    let mut compiler = protox::Compiler::new([&proto_root])?;
    compiler.include_imports(true).include_source_info(true);
    compiler.open_files(&files)?;

    // Encoded through protox's reflection pool so that extension options
    // (google.api.http, yandex.cloud.*) survive; prost-types would drop them.
    let encoded = compiler.encode_file_descriptor_set();
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    fs::write(out_dir.join(DESCRIPTOR_FILE), &encoded)?;

    let mut tonic = tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        // Stops prost from mapping google.protobuf to prost-types by itself, so
        // that the EXTERN_PATHS entries below are the only mapping.
        .compile_well_known_types(true)
        .emit_rerun_if_changed(false);
    for (proto, rust) in EXTERN_PATHS {
        tonic = tonic.extern_path(proto, rust);
    }
    // `prost::Name` on every message, with the type URL prefix SDKs expect in
    // Operation.metadata/response (`type.googleapis.com/<full name>`).
    let mut prost_config = prost_build::Config::new();
    prost_config
        .enable_type_names()
        .type_name_domain(["."], "type.googleapis.com");
    tonic.compile_fds_with_config(compiler.file_descriptor_set(), prost_config)?;

    let mut json = pbjson_build::Builder::new();
    json.register_descriptors(&encoded)?;
    for (proto, rust) in EXTERN_PATHS {
        json.extern_path(*proto, *rust);
    }
    json.build(JSON_PACKAGES)?;

    Ok(())
}

/// Collects every `.proto` below `dir` as a path relative to `root`, the form
/// protox expects for files inside an include directory.
fn collect_protos(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), Box<dyn Error>> {
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_protos(root, &path, out)?;
        } else if path.extension().is_some_and(|ext| ext == "proto") {
            out.push(path.strip_prefix(root)?.to_path_buf());
        }
    }
    Ok(())
}
