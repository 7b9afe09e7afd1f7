//! Generates the gRPC client of Roost's client API from `proto/` (only the publish stream is
//! used; the client never depends on a server crate).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto = "../../proto/roost/client/v1/client.proto";
    println!("cargo:rerun-if-changed={proto}");
    tonic_prost_build::configure()
        .build_server(false)
        .compile_protos(&[proto], &["../../proto"])?;
    Ok(())
}
