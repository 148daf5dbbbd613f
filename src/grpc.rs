//! gRPC calls over a `tonic` channel with messages this crate defines itself (`prost`
//! derives in `cri::api` and `etcd::api`), so that building needs no protocol compiler:
//! the message layouts and method paths are facts of the CRI and etcd v3 APIs.

use http::uri::PathAndQuery;
use tonic::transport::Channel;
use tonic::{Request, Status, Streaming};

fn codec<Req, Resp>() -> tonic_prost::ProstCodec<Req, Resp>
where
    Req: prost::Message + Send + 'static,
    Resp: prost::Message + Default + Send + 'static,
{
    tonic_prost::ProstCodec::default()
}

async fn ready(channel: &Channel) -> Result<tonic::client::Grpc<Channel>, Status> {
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    grpc.ready()
        .await
        .map_err(|e| Status::unavailable(format!("the connection is not ready: {e}")))?;
    Ok(grpc)
}

/// One unary call of `path` (`/package.Service/Method`).
pub async fn unary<Req, Resp>(
    channel: &Channel,
    path: &'static str,
    req: Req,
) -> Result<Resp, Status>
where
    Req: prost::Message + Send + Sync + 'static,
    Resp: prost::Message + Default + Send + Sync + 'static,
{
    let mut grpc = ready(channel).await?;
    grpc.unary(Request::new(req), PathAndQuery::from_static(path), codec())
        .await
        .map(tonic::Response::into_inner)
}

/// One server-streaming call of `path`: the stream of answers.
pub async fn server_streaming<Req, Resp>(
    channel: &Channel,
    path: &'static str,
    req: Req,
) -> Result<Streaming<Resp>, Status>
where
    Req: prost::Message + Send + Sync + 'static,
    Resp: prost::Message + Default + Send + Sync + 'static,
{
    let mut grpc = ready(channel).await?;
    grpc.server_streaming(Request::new(req), PathAndQuery::from_static(path), codec())
        .await
        .map(tonic::Response::into_inner)
}

/// An error with its sources, each said once (tonic's transport errors repeat their
/// cause in their own message).
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cur = s.source();
    }
    out
}
