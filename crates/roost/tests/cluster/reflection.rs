//! gRPC server reflection on the client port: a tool without the proto files lists the client
//! services and reads their descriptors, never the peer protocol's, and calls still need keys.

use anyhow::Context;
use prost::Message;
use roost_grpc::pb;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
use tonic_reflection::pb::v1::ServerReflectionRequest;

use crate::harness::Cluster;

/// Asks one reflection question on a stream of its own and returns the answer.
async fn ask(
    client: &mut ServerReflectionClient<tonic::transport::Channel>,
    request: MessageRequest,
) -> anyhow::Result<MessageResponse> {
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(request),
    };
    let mut replies = client
        .server_reflection_info(futures::stream::iter([request]))
        .await?
        .into_inner();
    let reply = replies.message().await?.context("no reflection reply")?;
    reply.message_response.context("an empty reflection reply")
}

#[tokio::test]
async fn reflection_lists_and_describes_the_client_services_only() -> anyhow::Result<()> {
    let c = Cluster::start(1, 2, "").await?;
    let channel = tonic::transport::Endpoint::from_shared(c.node(1).grpc.clone())?
        .connect()
        .await?;
    let mut client = ServerReflectionClient::new(channel.clone());

    let MessageResponse::ListServicesResponse(list) =
        ask(&mut client, MessageRequest::ListServices(String::new())).await?
    else {
        anyhow::bail!("not a list of services");
    };
    let names: Vec<&str> = list.service.iter().map(|s| s.name.as_str()).collect();
    for service in [
        "roost.client.v1.Queues",
        "roost.client.v1.Jobs",
        "roost.client.v1.WorkQueues",
    ] {
        assert!(names.contains(&service), "{service} missing from {names:?}");
    }
    assert!(
        names.iter().all(|n| !n.starts_with("roost.peer")),
        "{names:?}"
    );

    let MessageResponse::FileDescriptorResponse(files) = ask(
        &mut client,
        MessageRequest::FileContainingSymbol("roost.client.v1.Queues".into()),
    )
    .await?
    else {
        anyhow::bail!("not a file descriptor");
    };
    let file = prost_types::FileDescriptorProto::decode(
        files
            .file_descriptor_proto
            .first()
            .context("no descriptor")?
            .as_slice(),
    )?;
    assert_eq!(file.package(), "roost.client.v1");
    let queues = file
        .service
        .iter()
        .find(|s| s.name() == "Queues")
        .context("no Queues service")?;
    let publish = queues
        .method
        .iter()
        .find(|m| m.name() == "Publish")
        .context("no Publish method")?;
    assert_eq!(publish.input_type(), ".roost.client.v1.PublishRequest");

    // The peer protocol is not described here.
    let peer = ask(
        &mut client,
        MessageRequest::FileContainingSymbol("roost.peer.v1.Peer".into()),
    )
    .await
    .expect_err("the peer protocol described");
    assert_eq!(
        peer.downcast_ref::<tonic::Status>().map(|s| s.code()),
        Some(tonic::Code::NotFound),
        "{peer:?}"
    );

    // Knowing the schema grants nothing: a call without the queue's key is refused.
    let mut queues = pb::queues_client::QueuesClient::new(channel);
    let created = queues
        .create_queue(pb::CreateQueueRequest::default())
        .await?
        .into_inner();
    let refused = queues
        .publish(pb::PublishRequest {
            queue_id: created.queue_id,
            payload: b"{}".to_vec(),
            ..Default::default()
        })
        .await
        .expect_err("a publish without the key");
    assert_eq!(refused.code(), tonic::Code::Unauthenticated);
    Ok(())
}
