//! Generates the client gRPC code from `proto/`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto = "../../proto/roost/client/v1/client.proto";
    println!("cargo:rerun-if-changed={proto}");
    tonic_prost_build::configure().compile_protos(&[proto], &["../../proto"])?;
    Ok(())
}
