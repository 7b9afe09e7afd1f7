//! Loading the configuration: defaults, files, `ROOST_*` variables and flags, and refusals.

use super::*;
use figment::Jail;
use serde_json::{json, Value};

/// Runs `f` in a jail: a process-wide lock, a temporary working directory and environment
/// variables that are removed afterwards, so tests that read the environment never see
/// each other's variables and nothing is written into the source tree.
// The closure's error type is figment's, as `Jail::expect_with` requires.
#[allow(clippy::result_large_err)]
fn jailed(f: impl FnOnce(&mut Jail) -> anyhow::Result<()>) {
    Jail::expect_with(|jail| {
        if let Err(e) = f(jail) {
            panic!("{e:#}");
        }
        Ok(())
    });
}

fn load_toml(text: &str) -> anyhow::Result<ServerConfig> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("c.toml");
    std::fs::write(&path, text)?;
    ServerConfig::load(&ServeArgs {
        config: Some(path),
        ..Default::default()
    })
}

fn load_env(jail: &mut Jail, vars: &[(&str, &str)]) -> anyhow::Result<ServerConfig> {
    jail.clear_env();
    for (k, v) in vars {
        jail.set_env(k, v);
    }
    ServerConfig::load(&ServeArgs::default())
}

#[test]
fn defaults_make_a_one_node_cluster() {
    jailed(|_| {
        let c = ServerConfig::load(&ServeArgs::default())?;
        let n = c.node_config()?;
        assert_eq!(n.members.len(), 1);
        assert_eq!(c.http_addr, "127.0.0.1:7070");
        Ok(())
    });
}

#[test]
fn invalid_fields_are_named() {
    jailed(|_| {
        for (text, field) in [
            ("shards = 0", "shards"),
            ("max_body_bytes = 1073741824", "max_body_bytes"),
            ("http_addr = \"nowhere\"", "http_addr"),
            ("node_id = \"x\"", "node_id"),
            ("bogus = 1", "bogus"),
            ("[raft]\nbogus = 1", "raft.bogus"),
            ("node_id = 9\n[[members]]\nid = 1\npeer_addr = \"127.0.0.1:1\"\nhttp_addr = \"127.0.0.1:2\"", "node_id"),
            ("[raft]\nheartbeat_ms = 500\nelection_min_ms = 100", "election_min_ms"),
        ] {
            let err = format!("{:#}", load_toml(text).expect_err(text));
            assert!(err.contains(field), "{text}: {err}");
            assert!(err.contains("c.toml"), "{text}: names no file: {err}");
        }
        Ok(())
    });
}

#[test]
fn environment_overrides_each_kind_of_field() {
    jailed(|jail| {
        let c = load_env(
            jail,
            &[
                ("ROOST_SHARDS", "2"),
                ("ROOST_GRPC_ADDR", "127.0.0.1:25002"),
                ("ROOST_DATA_DIR", "/var/lib/roost"),
                ("ROOST_NODE_ID", "2"),
                (
                    "ROOST_MEMBERS",
                    "[{id=1,peer_addr=\"roost1:7170\",http_addr=\"roost1:7070\"}, \
                      {id=2,peer_addr=\"roost2:7170\",http_addr=\"roost2:7070\"}]",
                ),
                ("ROOST_RAFT__HEARTBEAT_MS", "50"),
                ("ROOST_JOB_TTL_SECS", "{completed=5,failed=6,cancelled=7}"),
                ("ROOST_QUOTAS__ENABLED", "true"),
                ("ROOST_LOG_FORMAT", "json"),
                ("ROOST_ALLOW_INSECURE_PEERS", "true"),
            ],
        )?;
        assert_eq!(c.shards, 2);
        assert_eq!(c.grpc_addr, "127.0.0.1:25002");
        assert_eq!(c.data_dir, PathBuf::from("/var/lib/roost"));
        assert_eq!(c.node_id, 2);
        let members: Vec<_> = c.members.iter().map(|m| (m.id, &*m.peer_addr)).collect();
        assert_eq!(members, [(1, "roost1:7170"), (2, "roost2:7170")]);
        assert_eq!(c.members[1].http_addr, "roost2:7070");
        assert_eq!(c.raft.heartbeat_ms, 50);
        assert_eq!(
            c.raft.election_min_ms,
            RaftTuning::default().election_min_ms
        );
        assert_eq!(
            (
                c.job_ttl_secs.completed,
                c.job_ttl_secs.failed,
                c.job_ttl_secs.cancelled
            ),
            (5, 6, 7)
        );
        assert!(c.quotas.enabled);
        assert_eq!(c.log_format, "json");
        // A flag still wins over the environment.
        jail.set_env("ROOST_HTTP_ADDR", "127.0.0.1:1");
        let flagged = ServerConfig::load(&ServeArgs {
            http_addr: Some("127.0.0.1:2".into()),
            ..Default::default()
        })?;
        assert_eq!(flagged.http_addr, "127.0.0.1:2");
        Ok(())
    });
}

/// Every number and switch in the configuration, nested or not, changed through its
/// variable: none is silently dropped.
#[test]
fn environment_reaches_every_number_and_switch() {
    fn leaves(prefix: &str, v: &Value, out: &mut Vec<(String, Value)>) {
        match v {
            Value::Object(map) => {
                for (k, v) in map {
                    let path = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    leaves(&path, v, out);
                }
            }
            Value::Number(n) => out.push((prefix.to_owned(), json!(n.as_u64().unwrap_or(0) + 1))),
            Value::Bool(b) => out.push((prefix.to_owned(), json!(!b))),
            _ => {}
        }
    }
    jailed(|jail| {
        let mut changed = Vec::new();
        leaves(
            "",
            &serde_json::to_value(ServerConfig::default())?,
            &mut changed,
        );
        assert!(changed.len() >= 20, "only {} leaves", changed.len());
        for (path, value) in changed {
            let var = env_var(&path);
            let loaded = load_env(jail, &[(&var, &value.to_string())])
                .with_context(|| format!("{var}={value}"))?;
            let got = serde_json::to_value(loaded)?
                .pointer(&format!("/{}", path.replace('.', "/")))
                .cloned();
            assert_eq!(got, Some(value.clone()), "{var}={value} was not applied");
        }
        Ok(())
    });
}

#[test]
fn invalid_environment_values_are_refused_naming_the_variable() {
    jailed(|jail| {
        for (var, value) in [
            ("ROOST_SHARDS", "many"),
            ("ROOST_SHARDS", "0"),
            ("ROOST_GRPC_ADDR", "nowhere"),
            ("ROOST_RAFT__HEARTBEAT_MS", "soon"),
            ("ROOST_RAFT__SNAPSHOT_AFTER_ENTRIES", "0"),
            ("ROOST_MEMBERS", "[{id=1}]"),
            ("ROOST_RAFT__BOGUS", "1"),
        ] {
            let err = load_env(jail, &[(var, value)]).expect_err(var);
            let err = format!("{err:#}");
            assert!(err.contains(var), "{var}={value}: {err}");
        }
        Ok(())
    });
}

#[test]
fn peers_off_loopback_need_tls_or_an_explicit_allowance() {
    jailed(|jail| {
        let members = "[{id=1,peer_addr=\"10.0.0.1:7170\",http_addr=\"10.0.0.1:7070\"}, \
                        {id=2,peer_addr=\"127.0.0.1:7171\",http_addr=\"127.0.0.1:7071\"}]";
        let err = load_env(jail, &[("ROOST_MEMBERS", members)]).expect_err("plaintext");
        let err = format!("{err:#}");
        assert!(
            err.contains("peer_tls") && err.contains("10.0.0.1:7170"),
            "{err}"
        );
        assert!(!err.contains("127.0.0.1:7171"), "{err}");
        // The listener alone off loopback counts too.
        let err = load_env(jail, &[("ROOST_PEER_ADDR", "0.0.0.0:7170")]).expect_err("0.0.0.0");
        assert!(format!("{err:#}").contains("0.0.0.0:7170"));
        load_env(
            jail,
            &[
                ("ROOST_MEMBERS", members),
                ("ROOST_ALLOW_INSECURE_PEERS", "true"),
            ],
        )?;
        // With [peer_tls], the files must be there and be PEM.
        let err = load_env(
            jail,
            &[
                ("ROOST_MEMBERS", members),
                (
                    "ROOST_PEER_TLS",
                    "{cert_file=\"/nonexistent/n.pem\",key_file=\"k\",ca_file=\"c\"}",
                ),
            ],
        )
        .expect_err("missing files");
        assert!(format!("{err:#}").contains("peer_tls.cert_file"), "{err:#}");
        jail.create_file("n.pem", "not a certificate")?;
        let err = load_env(
            jail,
            &[(
                "ROOST_PEER_TLS",
                "{cert_file=\"n.pem\",key_file=\"n.pem\",ca_file=\"n.pem\"}",
            )],
        )
        .expect_err("not PEM");
        assert!(format!("{err:#}").contains("peer_tls.cert_file"), "{err:#}");
        Ok(())
    });
}

#[test]
fn loopback_addresses_are_recognised() {
    for (addr, loopback) in [
        ("127.0.0.1:7170", true),
        ("127.3.0.9:1", true),
        ("[::1]:7170", true),
        ("localhost:7170", true),
        ("0.0.0.0:7170", false),
        ("10.0.0.1:7170", false),
        ("roost1:7170", false),
        ("[::]:7170", false),
    ] {
        assert_eq!(on_loopback(addr), loopback, "{addr}");
    }
}

#[test]
fn unrelated_environment_variables_are_ignored() {
    jailed(|jail| {
        load_env(jail, &[("ROOST_NOT_A_FIELD", "1"), ("ROOST_BIN", "/x")])?;
        Ok(())
    });
}

#[test]
fn cluster_configs_in_the_repo_are_valid() {
    jailed(|_| {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../cluster-config");
        let mut checked = 0;
        for dir in ["single", "local-3", "five"] {
            for entry in std::fs::read_dir(root.join(dir))? {
                let path = entry?.path();
                if path.extension().is_some_and(|e| e == "toml") {
                    ServerConfig::load(&ServeArgs {
                        config: Some(path.clone()),
                        ..Default::default()
                    })
                    .with_context(|| path.display().to_string())?;
                    checked += 1;
                }
            }
        }
        assert!(checked >= 9, "only {checked} configs found");
        Ok(())
    });
}

#[test]
fn the_operator_key_is_read_under_admin_and_under_its_former_name() {
    jailed(|_| {
        let key = "0123456789abcdef";
        let digest = Some(roost_api::digest(key.as_bytes()));
        let new = load_toml(&format!("[admin]\noperator_key = \"{key}\""))?;
        assert_eq!(new.api_settings().operator_key_digest, digest);
        let old = load_toml(&format!("[quotas]\noperator_key = \"{key}\""))?;
        assert_eq!(old.api_settings().operator_key_digest, digest);
        let both = format!("[admin]\noperator_key = \"{key}\"\n[quotas]\noperator_key = \"{key}\"");
        assert_eq!(load_toml(&both)?.api_settings().operator_key_digest, digest);
        let differ =
            format!("[admin]\noperator_key = \"{key}\"\n[quotas]\noperator_key = \"{key}-other\"");
        let e = load_toml(&differ)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            e.contains("quotas.operator_key") && e.contains("admin.operator_key"),
            "{e}"
        );
        let short = load_toml("[admin]\noperator_key = \"short\"")
            .err()
            .map(|e| e.to_string());
        assert!(short.unwrap_or_default().contains("admin.operator_key"));
        Ok(())
    })
}

#[test]
fn the_access_log_is_off_unless_asked_for() {
    jailed(|jail| {
        assert!(
            !ServerConfig::load(&ServeArgs::default())?
                .limits()
                .access_log
        );
        assert!(
            load_toml("[http]\naccess_log = true\n")?
                .limits()
                .access_log
        );
        assert!(load_toml("[http]\naccess_log = \"loud\"\n").is_err());
        let c = load_env(jail, &[("ROOST_HTTP__ACCESS_LOG", "true")])?;
        assert!(c.limits().access_log);
        Ok(())
    });
}
