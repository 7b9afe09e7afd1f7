//! TLS on the client listeners: the seed documents' curls over `https` against a cluster whose
//! peers speak mutual TLS too, the gRPC API over TLS, and a certificate replaced without a
//! restart while an open connection keeps working.

use std::time::Duration;

use anyhow::{ensure, Context};
use roost_grpc::pb;
use roost_grpc::pb::queues_client::QueuesClient;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint};

use crate::api::create;
use crate::harness::{make_certs, Cluster};

#[tokio::test]
async fn seed_flows_run_over_https_on_a_cluster_with_peer_mtls() -> anyhow::Result<()> {
    let c = Cluster::start_tls(3, 2).await?;
    ensure!(c.url(2).starts_with("https://"));
    let ca = c.certs.clone().context("certificates")?.join("ca.pem");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/cluster/seed_curls.sh");
    let out = std::process::Command::new("bash")
        .arg(script)
        .env("BASE", c.url(2))
        .env("CURL_CA_BUNDLE", &ca)
        .output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    ensure!(out.status.success(), "{stdout}\n{stderr}");
    ensure!(stdout.contains("seed curls: all passed"), "{stdout}");
    // Plain HTTP to the TLS port gets no answer.
    let plain = reqwest::Client::new()
        .get(c.url(1).replace("https://", "http://") + "/healthz")
        .timeout(Duration::from_secs(5))
        .send()
        .await;
    ensure!(plain.is_err(), "plaintext was answered");

    // Links handed out over TLS are https links.
    let v: serde_json::Value = c
        .http
        .post(format!("{}/q/create", c.url(1)))
        .json(&serde_json::json!({}))
        .send()
        .await?
        .json()
        .await?;
    let url = v["publish_url"].as_str().unwrap_or_default();
    ensure!(url.starts_with("https://127.0.0.1:"), "{v}");

    // The client gRPC API, over TLS with the same CA.
    let q = create(&c, 1, &["me"]).await?;
    let channel = Endpoint::from_shared(c.node(3).grpc.clone())?
        .tls_config(
            ClientTlsConfig::new().ca_certificate(Certificate::from_pem(std::fs::read(&ca)?)),
        )?
        .connect()
        .await?;
    let mut client = QueuesClient::new(channel);
    let mut req = tonic::Request::new(pb::PublishRequest {
        queue_id: q.id.clone(),
        payload: br#"{"over":"tls"}"#.to_vec(),
        ..Default::default()
    });
    req.metadata_mut()
        .insert("authorization", format!("Bearer {}", q.key).parse()?);
    let published = client.publish(req).await?.into_inner();
    ensure!(published.seq == 1, "{published:?}");
    Ok(())
}

/// The certificate a response came over.
fn served_cert(r: &reqwest::Response) -> anyhow::Result<Vec<u8>> {
    let info = r
        .extensions()
        .get::<reqwest::tls::TlsInfo>()
        .context("TLS info")?;
    Ok(info.peer_certificate().context("a certificate")?.to_vec())
}

fn pem_der(pem: &[u8]) -> anyhow::Result<Vec<u8>> {
    use rustls_pki_types::pem::PemObject;
    Ok(rustls_pki_types::CertificateDer::from_pem_slice(pem)?.to_vec())
}

#[tokio::test]
async fn a_replaced_certificate_is_served_without_a_restart() -> anyhow::Result<()> {
    let c = Cluster::start_tls(1, 1).await?;
    let certs = c.certs.clone().context("certificates")?;
    let url = format!("{}/healthz", c.url(1));
    let client = |ca: &std::path::Path| -> anyhow::Result<reqwest::Client> {
        Ok(reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(&std::fs::read(ca)?)?)
            .tls_info(true)
            .http1_only()
            .pool_idle_timeout(Duration::from_secs(300))
            .timeout(Duration::from_secs(5))
            .build()?)
    };
    // A connection opened before the change, trusting only the first CA.
    let before = client(&certs.join("ca.pem"))?;
    let r = before.get(&url).send().await?;
    ensure!(r.status() == 200);
    let old = served_cert(&r)?;
    ensure!(old == pem_der(&std::fs::read(certs.join("node1.pem"))?)?);

    // A new certificate from another CA, written over the files; SIGHUP reloads.
    let renewed = tempfile::tempdir()?;
    make_certs(renewed.path(), ["127.0.0.1"].into_iter())?;
    std::fs::copy(renewed.path().join("node1.key"), certs.join("node1.key"))?;
    std::fs::copy(renewed.path().join("node1.pem"), certs.join("node1.pem"))?;
    c.signal(1, "HUP")?;
    let new = pem_der(&std::fs::read(renewed.path().join("node1.pem"))?)?;
    let after = client(&renewed.path().join("ca.pem"))?;
    let mut seen = Vec::new();
    for _ in 0..50 {
        // A fresh client each time: a new connection, a new handshake.
        let fresh = client(&renewed.path().join("ca.pem"))?;
        if let Ok(r) = fresh.get(&url).send().await {
            seen = served_cert(&r)?;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    ensure!(
        seen == new,
        "the next connection did not get the new certificate"
    );
    ensure!(after.get(&url).send().await?.status() == 200);
    // The connection opened before still works: a new one would fail, since the first
    // client does not trust the new CA.
    let r = before.get(&url).send().await?;
    ensure!(r.status() == 200);
    ensure!(
        served_cert(&r)? == old,
        "the open connection kept its certificate"
    );
    let fresh_before = client(&certs.join("ca.pem"));
    let refused = fresh_before?.get(&url).send().await;
    ensure!(
        refused.is_err(),
        "an old-CA client must not verify the new certificate"
    );
    // SIGHUP did not stop the node.
    ensure!(c.running() == vec![1]);
    Ok(())
}
