//! `roost certs`: a development CA and one certificate per node, enough to start a cluster
//! with peer mutual TLS in two commands. Production deployments use their own CA; the files
//! are ordinary PEM either way.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use time::{Duration, OffsetDateTime};

use crate::secrets;

/// Options of `roost certs`.
#[derive(clap::Args, Debug)]
pub struct CertsArgs {
    /// Directory to write `ca.pem`, `ca.key`, `node<ID>.pem` and `node<ID>.key` into (keys are
    /// `0600`, the directory `0700`).
    #[arg(long)]
    pub out: PathBuf,
    /// A node as `ID=NAME[,NAME…]`: the host names and IP addresses peers and clients dial it
    /// by (repeat for each node), e.g. `--node 1=roost1,10.0.0.1`.
    #[arg(long = "node", required = true)]
    pub nodes: Vec<String>,
    /// How many days the certificates are valid.
    #[arg(long, default_value_t = 365)]
    pub days: i64,
}

/// One `--node` argument.
fn parse_node(arg: &str) -> anyhow::Result<(u64, Vec<String>)> {
    let (id, names) = arg
        .split_once('=')
        .with_context(|| format!("--node {arg:?}: expected ID=NAME[,NAME…]"))?;
    let id = id
        .parse()
        .with_context(|| format!("--node {arg:?}: {id:?} is not a node id"))?;
    let names: Vec<String> = names
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
        .collect();
    if names.is_empty() {
        bail!("--node {arg:?}: name at least one host name or address");
    }
    Ok((id, names))
}

fn validity(params: &mut CertificateParams, days: i64) {
    let now = OffsetDateTime::now_utc();
    // A little slack for clocks that run behind.
    params.not_before = now - Duration::hours(1);
    params.not_after = now + Duration::days(days);
}

/// Writes the CA and every node's certificate into `args.out`.
pub fn create(args: CertsArgs) -> anyhow::Result<()> {
    if args.days <= 0 {
        bail!("--days must be positive");
    }
    let nodes = args
        .nodes
        .iter()
        .map(|n| parse_node(n))
        .collect::<anyhow::Result<Vec<_>>>()?;
    secrets::private_dir(&args.out)?;

    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "Roost development CA");
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    validity(&mut ca, args.days);
    let ca_key = KeyPair::generate()?;
    secrets::write(&args.out.join("ca.key"), &ca_key.serialize_pem())?;
    let ca = CertifiedIssuer::self_signed(ca, ca_key)?;
    write_public(&args.out.join("ca.pem"), &ca.pem())?;

    for (id, names) in nodes {
        let mut params = CertificateParams::new(names.clone())?;
        params
            .distinguished_name
            .push(DnType::CommonName, format!("roost node {id}"));
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        // One certificate serves both ends of a peer connection: the listener and the dialler.
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        validity(&mut params, args.days);
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &ca)?;
        secrets::write(
            &args.out.join(format!("node{id}.key")),
            &key.serialize_pem(),
        )?;
        write_public(&args.out.join(format!("node{id}.pem")), &cert.pem())?;
        println!("node {id}: {}", names.join(", "));
    }
    println!("wrote {}", args.out.display());
    Ok(())
}

fn write_public(path: &Path, pem: &str) -> anyhow::Result<()> {
    std::fs::write(path, pem).with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_arguments_are_parsed_or_refused() -> anyhow::Result<()> {
        assert_eq!(
            parse_node("2=roost2, 10.0.0.2")?,
            (2, vec!["roost2".to_owned(), "10.0.0.2".to_owned()])
        );
        for bad in ["roost2", "x=roost2", "2=", "2=,"] {
            assert!(parse_node(bad).is_err(), "{bad}");
        }
        Ok(())
    }

    #[test]
    fn certificates_chain_to_the_ca_and_keys_are_private() -> anyhow::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir()?;
        let out = dir.path().join("certs");
        create(CertsArgs {
            out: out.clone(),
            nodes: vec!["1=127.0.0.1,localhost".into(), "2=roost2".into()],
            days: 30,
        })?;
        for key in ["ca.key", "node1.key", "node2.key"] {
            let mode = std::fs::metadata(out.join(key))?.permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{key}");
        }
        // The files are what the peer listener accepts.
        let read = |f: &str| std::fs::read(out.join(f));
        roost_node::PeerTls::from_pem(read("node1.pem")?, read("node1.key")?, read("ca.pem")?)
            .map_err(anyhow::Error::msg)?;
        Ok(())
    }
}
