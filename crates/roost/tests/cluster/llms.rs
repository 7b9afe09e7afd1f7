//! `/llms.txt` and `/llms-full.txt` as a model reads them from a node: Markdown with absolute
//! links to that node, and no path that `/openapi.json` does not describe.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::harness::Cluster;

/// Every API path `text` names: after `{base}`-made URLs and in `METHOD /path` spans, with
/// the query string cut off and path parameters written `{}`.
fn named_paths(text: &str, base: &str) -> BTreeSet<String> {
    let text = text.replace(base, " ");
    let mut paths = BTreeSet::new();
    let mut rest = text.as_str();
    while let Some(at) = rest.find(" /") {
        let tail = &rest[at + 1..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || "/{}-_.$".contains(c)))
            .unwrap_or(tail.len());
        let path = tail[..end].trim_end_matches(['.', '/']);
        if path.len() > 1 {
            paths.insert(template(path));
        }
        rest = &tail[end..];
    }
    paths
}

/// `path` with each `{param}` (and each shell `$VARIABLE` of an example) written `{}`, so a
/// spec may name its parameters as it likes.
fn template(path: &str) -> String {
    let path = path
        .split('/')
        .map(|seg| if seg.starts_with('$') { "{}" } else { seg })
        .collect::<Vec<_>>()
        .join("/");
    let mut out = String::new();
    let mut in_param = false;
    for c in path.chars() {
        match c {
            '{' => {
                in_param = true;
                out.push('{');
            }
            '}' => {
                in_param = false;
                out.push('}');
            }
            _ if in_param => {}
            _ => out.push(c),
        }
    }
    out
}

#[tokio::test]
async fn every_path_the_llms_files_name_is_in_the_openapi_spec() -> anyhow::Result<()> {
    let c = Cluster::start(1, 1, "").await?;
    let base = c.url(1).trim_end_matches('/').to_owned();
    let spec: Value = c
        .http
        .get(format!("{base}/openapi.json"))
        .send()
        .await?
        .json()
        .await?;
    let documented: BTreeSet<String> = spec["paths"]
        .as_object()
        .map(|p| p.keys().map(|k| template(k)).collect())
        .unwrap_or_default();
    anyhow::ensure!(
        documented.len() > 20,
        "the spec names few paths: {documented:?}"
    );
    for file in ["llms.txt", "llms-full.txt"] {
        let resp = c.http.get(format!("{base}/{file}")).send().await?;
        anyhow::ensure!(resp.status() == 200, "{file}: {}", resp.status());
        let kind = resp.headers()["content-type"].to_str()?.to_owned();
        anyhow::ensure!(kind.starts_with("text/markdown"), "{file} is {kind}");
        let text = resp.text().await?;
        anyhow::ensure!(text.starts_with("# "), "{file} does not open with a title");
        anyhow::ensure!(!text.contains("{base}"), "{file} has a relative link left");
        anyhow::ensure!(text.contains(&format!("{base}/openapi.json")), "{file}");
        let named = named_paths(&text, &base);
        anyhow::ensure!(named.len() > 10, "{file} names few paths: {named:?}");
        // `/mcp` speaks MCP (JSON-RPC), which its own protocol describes, not OpenAPI.
        let missing: Vec<_> = named
            .iter()
            .filter(|p| p.as_str() != "/mcp" && !documented.contains(*p))
            .collect();
        anyhow::ensure!(
            missing.is_empty(),
            "{file} names paths the spec lacks: {missing:?}"
        );
    }
    Ok(())
}

#[test]
fn paths_are_found_in_urls_and_method_spans() {
    let text =
        "See [x](http://n:1/q/{id}/pull): `POST /jobs/{id}/fail {token}` and /openapi.json;\n\
                curl -s http://n:1/q/$QUEUE_ID/ack?x=1";
    let found = named_paths(text, "http://n:1");
    let want: BTreeSet<String> = ["/q/{}/pull", "/jobs/{}/fail", "/openapi.json", "/q/{}/ack"]
        .into_iter()
        .map(String::from)
        .collect();
    assert_eq!(found, want);
}
