//! Binary encodings pinned byte for byte, so a renumbered field fails here
//! even without the Python comparison.

use prost::Message;
use signet_proto::yandex::cloud::kms::v1::asymmetricsignature::{
    AsymmetricSignRequest, AsymmetricSignatureAlgorithm, CreateAsymmetricSignatureKeyRequest,
};

#[test]
fn sign_request_uses_fields_1_and_2() {
    let request = AsymmetricSignRequest {
        key_id: "k".into(),
        message: vec![0xAB, 0xCD],
    };
    let bytes = request.encode_to_vec();
    assert_eq!(bytes, [0x0A, 0x01, b'k', 0x12, 0x02, 0xAB, 0xCD]);
    assert_eq!(
        AsymmetricSignRequest::decode(bytes.as_slice()).unwrap(),
        request
    );
}

#[test]
fn create_request_algorithm_is_field_5_varint() {
    let request = CreateAsymmetricSignatureKeyRequest {
        signature_algorithm: AsymmetricSignatureAlgorithm::EcdsaSecp256K1Sha256.into(),
        deletion_protection: true,
        ..Default::default()
    };
    assert_eq!(request.encode_to_vec(), [0x28, 13, 0x30, 1]);
}

#[test]
fn type_urls_use_the_googleapis_domain() {
    use prost::Name;
    use signet_proto::yandex::cloud::kms::v1::asymmetricsignature::CreateAsymmetricSignatureKeyMetadata;

    assert_eq!(
        CreateAsymmetricSignatureKeyMetadata::type_url(),
        "type.googleapis.com/yandex.cloud.kms.v1.asymmetricsignature.CreateAsymmetricSignatureKeyMetadata"
    );
}
