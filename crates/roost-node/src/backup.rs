//! Online backups, and restoring one into the data dir of a node of a new cluster.
//!
//! A backup is a RocksDB checkpoint of one node: one instant of every group it holds. Two
//! things make that instant a consistent copy of the cluster. Each group's applied state must
//! include everything the cluster acknowledged before the backup began, so the node first
//! applies up to each group's commit index as its leader reports it. And groups must agree
//! with each other: the outboxes that carry work from one group to another (form mirroring,
//! releasing held publishes) record progress in their source group only after the target
//! applied the work, and a follower may have applied the one and not yet the other. So every
//! member pauses its outbox drivers (waiting for the steps under way) for the length of the
//! backup, and confirms afterwards that it did not restart meanwhile (a restart forgets the
//! pause). The copy goes into `db/` beside a manifest with each file's size and SHA-256.

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use roost_state::GroupId;
use roost_types::NodeId;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{Node, NodeError};

/// The file a backup describes itself in.
pub const MANIFEST: &str = "manifest.json";
/// The database copy inside a backup.
const DB: &str = "db";
/// The manifest layout this build writes and reads.
const MANIFEST_VERSION: u32 = 1;
/// The longest a backup keeps outboxes paused: one that died midway resumes them by itself.
const PAUSE: Duration = Duration::from_secs(120);
/// How long a backup waits for this node to apply what the leaders committed.
const CATCH_UP: Duration = Duration::from_secs(60);

/// What a backup holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// The layout of this manifest.
    pub version: u32,
    /// The data format of the copied database.
    pub format: u32,
    /// The cluster's shard count, which a restored cluster must be configured with.
    pub shards: u32,
    /// The node that took it.
    pub taken_by: NodeId,
    /// When, ms since the Unix epoch.
    pub taken_at_ms: u64,
    /// Each group's applied position and clock in the copy.
    pub groups: Vec<GroupCopy>,
    /// Every file of `db/`, with its size and SHA-256 (hex).
    pub files: Vec<FileSum>,
}

/// One group in a backup.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupCopy {
    /// The group.
    pub group: GroupId,
    /// The last log index applied in the copy.
    pub applied_index: Option<u64>,
    /// The group clock in the copy.
    pub clock_ms: u64,
}

/// One file of a backup.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileSum {
    /// Its name inside `db/`.
    pub name: String,
    /// Its size in bytes.
    pub bytes: u64,
    /// Its SHA-256, hex.
    pub sha256: String,
}

/// Lets the outbox drivers run, except while a backup has them paused.
#[derive(Default)]
pub(crate) struct Outboxes {
    paused_until: Mutex<Option<Instant>>,
    /// Each driver step holds a read guard; a pause takes the write lock once, so it returns
    /// only after the steps that began before it finished.
    turns: tokio::sync::RwLock<()>,
}

impl Outboxes {
    /// A turn for one driver step, unless the outboxes are paused.
    pub(crate) async fn turn(&self) -> Option<tokio::sync::RwLockReadGuard<'_, ()>> {
        let turn = self.turns.read().await;
        let paused = self
            .paused_until
            .lock()
            .map(|p| p.is_some_and(|until| Instant::now() < until))
            .unwrap_or(true);
        (!paused).then_some(turn)
    }

    /// Pauses the drivers for `span` (zero resumes them) and waits for the steps under way.
    pub(crate) async fn pause(&self, span: Duration) {
        if let Ok(mut until) = self.paused_until.lock() {
            *until = (!span.is_zero()).then(|| Instant::now() + span);
        }
        drop(self.turns.write().await);
    }
}

impl Node {
    /// Takes a backup of the cluster into `into` (which must not exist) and returns its
    /// manifest (see the module doc).
    pub async fn backup(&self, into: &Path) -> Result<Manifest, NodeError> {
        fs::create_dir(into)?;
        let boots = self.pause_every_outbox(PAUSE).await?;
        let copied = self.copy_when_caught_up(into).await;
        let confirmed = self.pause_every_outbox(PAUSE).await;
        // Resumed whatever happened; a member that does not answer resumes by itself.
        let _ = self.pause_every_outbox(Duration::ZERO).await;
        let groups = copied?;
        if confirmed? != boots {
            return Err(NodeError::Backup(
                "a member restarted during the backup (and forgot the pause); take it again".into(),
            ));
        }
        let db = into.join(DB);
        let files = tokio::task::spawn_blocking(move || sums(&db))
            .await
            .map_err(|e| NodeError::Backup(e.to_string()))??;
        let manifest = Manifest {
            version: MANIFEST_VERSION,
            format: roost_storage::format::CURRENT,
            shards: self.shards(),
            taken_by: self.id(),
            taken_at_ms: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or(0),
            groups,
            files,
        };
        let text =
            serde_json::to_vec_pretty(&manifest).map_err(|e| NodeError::Backup(e.to_string()))?;
        fs::write(into.join(MANIFEST), text)?;
        Ok(manifest)
    }

    /// Pauses (or resumes) every member's outboxes; each member's process number.
    async fn pause_every_outbox(&self, span: Duration) -> Result<BTreeMap<NodeId, u64>, NodeError> {
        let mut boots = BTreeMap::new();
        for (id, member) in self.members() {
            let boot = if id == self.id() {
                self.pause_outboxes_here(span).await
            } else {
                let ms = span.as_millis() as u64;
                let paused = self
                    .clients()
                    .pause_outboxes(id, &member.peer_addr, ms)
                    .await;
                paused.map_err(|e| {
                    NodeError::Backup(format!(
                        "member {id} did not pause its outboxes ({}); a backup needs every \
                         member to answer",
                        e.message()
                    ))
                })?
            };
            boots.insert(id, boot);
        }
        Ok(boots)
    }

    /// Applies up to each group's commit index (as its leader reports it), then checkpoints.
    async fn copy_when_caught_up(&self, into: &Path) -> Result<Vec<GroupCopy>, NodeError> {
        let survey = self.survey().await;
        let mut committed: BTreeMap<GroupId, u64> = BTreeMap::new();
        for (id, status) in &survey {
            for g in status.iter().flat_map(|s| &s.groups) {
                if g.leader == Some(*id) {
                    committed.insert(g.group, g.commit_index.unwrap_or(0));
                }
            }
        }
        let deadline = Instant::now() + CATCH_UP;
        for group in 0..=self.shards() {
            let Some(&commit) = committed.get(&group) else {
                return Err(NodeError::Backup(format!(
                    "group {group} has no leader that answers; take the backup when it has"
                )));
            };
            while self.applied_index(group).unwrap_or(0) < commit {
                if Instant::now() >= deadline {
                    return Err(NodeError::Backup(format!(
                        "this node did not apply group {group} up to {commit} in {CATCH_UP:?}"
                    )));
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        self.storage().checkpoint(&into.join(DB))?;
        Ok((0..=self.shards())
            .map(|group| GroupCopy {
                group,
                applied_index: self.applied_index(group),
                clock_ms: self.clock_ms(group),
            })
            .collect())
    }
}

/// Each file of `dir` with its size and SHA-256.
fn sums(dir: &Path) -> Result<Vec<FileSum>, NodeError> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let (bytes, sha256) = sum(&entry.path())?;
        files.push(FileSum {
            name,
            bytes,
            sha256,
        });
    }
    files.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(files)
}

/// The size and SHA-256 (hex) of the file at `path`.
pub fn sum(path: &Path) -> Result<(u64, String), NodeError> {
    let mut file = fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0; 1 << 16];
    let mut bytes = 0;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        bytes += n as u64;
    }
    let hex = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok((bytes, hex))
}

/// Reads the manifest of the backup in `dir` and checks every file against it.
pub fn verify(dir: &Path) -> Result<Manifest, NodeError> {
    let text = fs::read(dir.join(MANIFEST))
        .map_err(|e| NodeError::Backup(format!("{}: {e}", dir.join(MANIFEST).display())))?;
    let manifest: Manifest =
        serde_json::from_slice(&text).map_err(|e| NodeError::Backup(format!("{MANIFEST}: {e}")))?;
    if manifest.version != MANIFEST_VERSION {
        return Err(NodeError::Backup(format!(
            "{MANIFEST} has layout {}, this roost reads {MANIFEST_VERSION}",
            manifest.version
        )));
    }
    if manifest.format > roost_storage::format::CURRENT {
        return Err(NodeError::Backup(format!(
            "the backup holds data format {}, newer than this roost reads ({})",
            manifest.format,
            roost_storage::format::CURRENT
        )));
    }
    let db = dir.join(DB);
    let present = fs::read_dir(&db)
        .map_err(|e| NodeError::Backup(format!("{}: {e}", db.display())))?
        .count();
    if present != manifest.files.len() {
        return Err(NodeError::Backup(format!(
            "{} holds {present} files, the manifest lists {}",
            db.display(),
            manifest.files.len()
        )));
    }
    for file in &manifest.files {
        let safe = !file.name.is_empty()
            && !file.name.contains(['/', '\\'])
            && file.name != ".."
            && file.name != ".";
        if !safe {
            return Err(NodeError::Backup(format!("bad file name {:?}", file.name)));
        }
        let (bytes, sha256) = sum(&db.join(&file.name))
            .map_err(|e| NodeError::Backup(format!("{}: {e}", file.name)))?;
        if bytes != file.bytes || sha256 != file.sha256 {
            return Err(NodeError::Backup(format!(
                "{} does not match the manifest's checksum: the backup is damaged",
                file.name
            )));
        }
    }
    Ok(manifest)
}

/// Checks the backup in `from` and prepares `data_dir` (absent or empty) from it for a node of
/// a new cluster: the data and group clocks kept, the old cluster's logs, memberships, roster,
/// cluster id and data-dir identity not.
pub fn restore(from: &Path, data_dir: &Path) -> Result<Manifest, NodeError> {
    let in_use = fs::read_dir(data_dir).is_ok_and(|mut d| d.next().is_some());
    if in_use {
        return Err(NodeError::Backup(format!(
            "{} is not empty: a restore only prepares the data dir of a node of a new cluster \
             (it never writes into a node's data, running or not)",
            data_dir.display()
        )));
    }
    let manifest = verify(from)?;
    fs::create_dir_all(data_dir)?;
    for file in &manifest.files {
        fs::copy(from.join(DB).join(&file.name), data_dir.join(&file.name))?;
    }
    roost_storage::format::write(data_dir, manifest.format)?;
    roost_storage::backup::prepare_restore(data_dir)?;
    Ok(manifest)
}
