//! Accepting connections with limits: how long a client may take to send a
//! request's headers and the whole request, and how many connections are
//! open at once. A client that trickles bytes, or opens hundreds of
//! connections, holds no more than these allow; the reverse proxy in front
//! has limits of its own (see `docs/operations.md`).

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

/// The limits of the connection loop.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Time a client has to send a request's headers (also how long an idle
    /// connection stays open).
    pub header_timeout: Duration,
    /// Time a request has, body included, to be read and answered.
    pub request_timeout: Duration,
    /// Connections open at once; further ones are closed at once.
    pub max_connections: usize,
}

/// The most a connection's read buffer grows to (hyper's default is about
/// 400 KiB). A connection that once carried an upload kept a buffer that
/// large and filled it with the next upload's body while that upload waited
/// its turn: a heap profile of 500 candidates uploading at once showed 180
/// MB there. 64 KiB reads still fill a fast link, and bound a request's head.
const READ_BUFFER_MAX: usize = 64 * 1024;

/// Answers with 408 a request that takes longer than `limit`.
async fn request_timeout(limit: Duration, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => axum::http::StatusCode::REQUEST_TIMEOUT.into_response(),
    }
}

/// Serves `app` on `listener` within `limits` until `shutdown` resolves, then
/// lets the requests in flight finish (for at most `request_timeout`).
///
/// Each connection reads into a buffer of at most [`READ_BUFFER_MAX`].
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    let limit = limits.request_timeout;
    let app = app.layer(axum::middleware::from_fn(move |request, next| {
        request_timeout(limit, request, next)
    }));
    let open = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(READ_BUFFER_MAX);
    tokio::pin!(shutdown);
    loop {
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, most likely: wait, then go on.
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(permit) = Arc::clone(&open).try_acquire_owned() else {
            tracing::warn!(%remote, "too many connections: closed");
            continue;
        };
        let service = connection_service(app.clone(), remote);
        let connection = builder.serve_connection(TokioIo::new(stream), service);
        let watched = graceful.watch(connection);
        tokio::spawn(async move {
            let _ = watched.await;
            drop(permit);
        });
    }
    drop(listener);
    let _ = tokio::time::timeout(limits.request_timeout, graceful.shutdown()).await;
}

/// The router for one connection: each request knows the client's address.
fn connection_service(
    app: Router,
    remote: SocketAddr,
) -> impl hyper::service::Service<
    Request<Incoming>,
    Response = Response,
    Error = Infallible,
    Future = impl Future<Output = Result<Response, Infallible>> + Send,
> + Clone {
    hyper::service::service_fn(move |mut request: Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(remote));
        app.clone().oneshot(request.map(axum::body::Body::new))
    })
}

/// Resolves at Ctrl-C (SIGINT) or SIGTERM, the signals that stop a server.
///
/// The handlers are installed when this is called, not when the future is
/// first polled: a server answers its first requests before its accept
/// loop polls it, and a SIGTERM sent meanwhile (a service manager stopping
/// a server that just started) would end the process unhandled, its mails
/// not finished and its store not flushed.
pub fn shutdown_signal() -> impl Future<Output = ()> {
    #[cfg(unix)]
    let (interrupt, terminate) = {
        use tokio::signal::unix::{signal, SignalKind};
        (
            signal(SignalKind::interrupt()).ok(),
            signal(SignalKind::terminate()).ok(),
        )
    };
    async move {
        #[cfg(unix)]
        {
            // A handler that could not be installed never resolves.
            let received = |signal: Option<tokio::signal::unix::Signal>| async move {
                match signal {
                    Some(mut signal) => {
                        signal.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = received(interrupt) => {}
                () = received(terminate) => {}
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use std::time::Duration;

    /// A SIGTERM that comes once the handlers are asked for, before the
    /// future is first polled, still resolves it: it does not end the
    /// process (as it did when the handlers were installed at the first
    /// poll, and a server answering its first requests had not polled it).
    #[test]
    fn a_sigterm_before_the_first_poll_is_caught() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(async {
            let shutdown = super::shutdown_signal();
            nix::sys::signal::raise(nix::sys::signal::Signal::SIGTERM).expect("raised");
            tokio::time::timeout(Duration::from_secs(5), shutdown)
                .await
                .expect("the signal was caught");
        });
    }
}
