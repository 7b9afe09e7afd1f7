//! Generates the peer gRPC code from `proto/`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto = "../../proto/roost/peer/v1/peer.proto";
    println!("cargo:rerun-if-changed={proto}");
    tonic_prost_build::configure().compile_protos(&[proto], &["../../proto"])?;
    Ok(())
}
