//! Generates the client gRPC code from `proto/`, and the file descriptor set that server
//! reflection serves (the client protocol only: the peer protocol is never described).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto = "../../proto/roost/client/v1/client.proto";
    println!("cargo:rerun-if-changed={proto}");
    let descriptors = std::path::PathBuf::from(std::env::var("OUT_DIR")?).join("client_v1.bin");
    tonic_prost_build::configure()
        .file_descriptor_set_path(descriptors)
        .compile_protos(&[proto], &["../../proto"])?;
    Ok(())
}
