//! Generates a gRPC client for Roost's client API from `proto/` (the bench speaks the wire
//! protocol itself, so it needs no server crate).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto = "../../proto/roost/client/v1/client.proto";
    println!("cargo:rerun-if-changed={proto}");
    tonic_prost_build::configure()
        .build_server(false)
        .compile_protos(&[proto], &["../../proto"])?;
    Ok(())
}
