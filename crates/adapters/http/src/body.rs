//! Request bodies: a deadline for arriving, and JSON bodies that may be absent.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::rt::time::{sleep, Sleep};
use actix_web::web::Bytes;
use actix_web::{web, Error, FromRequest, HttpMessage, HttpRequest};
use futures_core::Stream;
use serde::de::DeserializeOwned;

use crate::problem::ApiError;
use crate::state::AppState;

/// A body that has not fully arrived this long after the request started is cut: the request
/// is answered 408 and the connection closed, so a slow client cannot hold it for minutes. A
/// proxied body has the upstream's timeout instead (`TOLLGATE_UPSTREAM_TIMEOUT_SECS`).
pub async fn deadline(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    // A request no route of Tollgate's takes goes to the proxy, when there is one: its body
    // streams to the upstream and lives as long as the upstream may take (SPEC §12.1).
    // (Whether the router takes it is asked only when there is a proxy: it is a routing pass.)
    let limit = req.app_data::<web::Data<AppState>>().map_or(Duration::from_secs(30), |state| {
        match &state.config.proxy {
            Some(proxy) if req.match_pattern().is_none() => proxy.timeout,
            _ => state.config.body_timeout,
        }
    });
    let inner = req.take_payload();
    req.set_payload(Payload::Stream {
        payload: Box::pin(Deadline { inner, sleep: Box::pin(sleep(limit)), expired: false }),
    });
    next.call(req).await
}

struct Deadline {
    inner: Payload,
    sleep: Pin<Box<Sleep>>,
    expired: bool,
}

impl Stream for Deadline {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.expired {
            return Poll::Ready(None);
        }
        if let Poll::Ready(item) = Pin::new(&mut this.inner).poll_next(cx) {
            return Poll::Ready(item);
        }
        if this.sleep.as_mut().poll(cx).is_ready() {
            this.expired = true;
            // `ApiError::payload` answers this kind 408.
            let timeout = io::Error::new(io::ErrorKind::TimedOut, "the request body stalled");
            return Poll::Ready(Some(Err(PayloadError::Io(timeout))));
        }
        Poll::Pending
    }
}

/// The raw body, at most `limit` bytes (413), arrived in time (408).
pub async fn read_limited(payload: web::Payload, limit: usize) -> Result<Bytes, ApiError> {
    match payload.to_bytes_limited(limit).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(e)) => Err(match e.as_error::<PayloadError>() {
            Some(e) => ApiError::payload(e, limit),
            None => ApiError::malformed("The body could not be read."),
        }),
        Err(_) => Err(ApiError::payload_too_large(limit)),
    }
}

/// An optional JSON body. A request without one (no `Content-Length` and no
/// `Transfer-Encoding`, or `Content-Length: 0`) gives `None`; a body that is there must be
/// readable JSON of the right shape, or the request is refused (400/413/415/422), never treated
/// as absent.
#[derive(Debug)]
pub struct OptionalJson<T>(pub Option<T>);

impl<T> OptionalJson<T> {
    pub fn into_inner(self) -> Option<T> {
        self.0
    }
}

/// Whether the request carries no body at all.
pub(crate) fn has_no_body(req: &HttpRequest) -> bool {
    let headers = req.headers();
    match headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()) {
        Some(length) => length.trim() == "0",
        None => !headers.contains_key(header::TRANSFER_ENCODING),
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for OptionalJson<T> {
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        if has_no_body(req) {
            return Box::pin(async { Ok(OptionalJson(None)) });
        }
        let json = web::Json::<T>::from_request(req, payload);
        Box::pin(async move { Ok(OptionalJson(Some(json.await?.into_inner()))) })
    }
}
