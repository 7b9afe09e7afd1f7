//! Forwarding through a real peer server: batched commands each get their own answer, in
//! spite of sharing RPCs, and a leader's refusal reaches exactly the command it refused.

use roost_state::command as cmd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use roost_network::{ClusterId, ForwardError, PeerClients, PeerHandler, PeerService};
use roost_state::{Command, GroupId, Query, QueryResult, QueueId, Response};
use roost_types::Raft;

/// How long the fake leader takes to "commit" each command.
const COMMIT: Duration = Duration::from_millis(50);
/// The cursor the fake leader refuses, as if leadership had moved to node 7.
const REFUSED: u64 = 13;

/// A leader that answers an ack with its own cursor after [`COMMIT`].
struct EchoLeader;

impl PeerHandler for EchoLeader {
    fn raft(&self, _group: GroupId) -> Option<Raft> {
        None
    }

    async fn forward_command(
        &self,
        _group: GroupId,
        command: Command,
    ) -> Result<Response, ForwardError> {
        tokio::time::sleep(COMMIT).await;
        match command {
            Command::Ack(cmd::Ack { cursor, .. }) if cursor == REFUSED => {
                Err(ForwardError::NotLeader { leader: Some(7) })
            }
            Command::Ack(cmd::Ack { cursor, .. }) => Ok(Response::Acked { cursor }),
            other => Err(ForwardError::Unavailable(format!("unexpected {other:?}"))),
        }
    }

    async fn forward_query(
        &self,
        _group: GroupId,
        _query: Query,
    ) -> Result<QueryResult, ForwardError> {
        Err(ForwardError::Unavailable("no queries here".into()))
    }

    async fn pause_outboxes(&self, for_ms: u64) -> u64 {
        BOOT + for_ms
    }
}

/// The process number the echo leader answers a pause with (plus the pause).
const BOOT: u64 = 4_000;

fn ack(cursor: u64) -> Command {
    Command::Ack(cmd::Ack {
        queue: QueueId::new(2, 1),
        auth: [0; 32],
        consumer: "c".into(),
        cursor,
    })
}

#[tokio::test]
async fn concurrent_forwards_share_batches_and_keep_their_own_answers() -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?.to_string();
    let incoming = tonic::transport::server::TcpIncoming::from(listener);
    let cluster = ClusterId::new(Some("test".into()), |_| Ok(())).map_err(anyhow::Error::msg)?;
    let server = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(PeerService::server(Arc::new(EchoLeader), cluster.clone()))
            .serve_with_incoming(incoming),
    );

    let clients = PeerClients::new(None, cluster);
    let count = 500u64;
    let started = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for cursor in 1..=count {
        let (clients, addr) = (clients.clone(), addr.clone());
        set.spawn(async move {
            let answer = clients.forward_command(1, &addr, 2, &ack(cursor)).await;
            (cursor, answer)
        });
    }
    let mut answered = 0;
    while let Some(joined) = set.join_next().await {
        let (cursor, answer) = joined?;
        match answer {
            Ok(Response::Acked { cursor: c }) => assert_eq!(c, cursor),
            Err(ForwardError::NotLeader { leader }) => {
                assert_eq!((cursor, leader), (REFUSED, Some(7)));
            }
            other => panic!("cursor {cursor}: {other:?}"),
        }
        answered += 1;
    }
    assert_eq!(answered, count);
    assert_eq!(clients.pause_outboxes(1, &addr, 7).await?, BOOT + 7);
    // One command per RPC, two RPCs at a time, would take count / 2 commits (12.5 s);
    // batches carry whatever queued meanwhile, so a few commits' time suffices.
    let took = started.elapsed();
    assert!(
        took < COMMIT * 100,
        "forwarding {count} commands took {took:?}"
    );
    server.abort();
    Ok(())
}
