//! Reads request bodies within the per-request size limit and the shared
//! bound on bytes held by requests in progress.
//!
//! The bound is a semaphore whose permits are bytes. A request takes
//! permits for its body as the body arrives, or all at once when it
//! declares its length. It keeps them until its response is ready, so the
//! bytes of every body buffered, decoded, queued or being exported count
//! against it. A request that finds too few permits left is rejected at
//! once rather than made to wait, because a waiting request would keep its
//! connection and the bytes it already read.
//!
//! NOTE: the bound counts bytes as received. The decoded messages take
//! more memory than their encoded form (about three times the admitted
//! bodies in `docs/benchmarks.md`), so memory in use is a multiple of the
//! bound.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The reason a body was not read.
#[derive(Debug)]
pub(crate) enum BodyError {
    /// The body is larger than the limit.
    TooLarge,
    /// Taking the body would pass the bound on bytes in flight.
    Busy,
    /// The connection failed while the body was read.
    Read(String),
}

/// Bytes of a body read within the bound, with the permits that count them.
pub(crate) struct BoundedBody {
    pub bytes: Bytes,
    pub permit: OwnedSemaphorePermit,
}

/// Reads `body` whole, failing when it is longer than `limit` bytes or
/// when the bound in `in_flight` has too few bytes left. `declared_length`
/// is the `content-length`, when the request gave one.
///
/// When the bound has too few bytes left, the rest of the body is read and
/// thrown away before [`BodyError::Busy`] is returned. An HTTP/1.1 client
/// that is still sending when the response comes may not read it, and would
/// then miss the `Retry-After` of a busy response.
pub(crate) async fn read_bounded<B>(
    body: B,
    declared_length: Option<u64>,
    limit: usize,
    in_flight: &Arc<Semaphore>,
) -> Result<BoundedBody, BodyError>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: std::fmt::Display,
{
    let body = std::pin::pin!(body);
    let permit = match declared_length {
        Some(length) if length > limit as u64 => return Err(BodyError::TooLarge),
        Some(length) => take_permits(in_flight, length as usize),
        None => take_permits(in_flight, 0),
    };
    let mut permit = match permit {
        Ok(permit) => permit,
        Err(err) => return discard_rest(body, 0, limit, err).await,
    };
    let mut held = permit.num_permits();

    let mut buffer = BytesMut::new();
    let mut body = body;
    while let Some(data) = next_data(&mut body).await? {
        if buffer.len() + data.len() > limit {
            return Err(BodyError::TooLarge);
        }
        buffer.extend_from_slice(&data);
        if buffer.len() > held {
            match take_permits(in_flight, buffer.len() - held) {
                Ok(more) => permit.merge(more),
                Err(err) => {
                    let read = buffer.len();
                    drop(buffer);
                    drop(permit);
                    return discard_rest(body, read, limit, err).await;
                }
            }
            held = buffer.len();
        }
    }

    Ok(BoundedBody {
        bytes: buffer.freeze(),
        permit,
    })
}

/// Returns the next data frame of `body`, skipping trailers, which carry
/// no body bytes.
async fn next_data<B>(body: &mut std::pin::Pin<&mut B>) -> Result<Option<Bytes>, BodyError>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: std::fmt::Display,
{
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|err| BodyError::Read(err.to_string()))?;
        if let Ok(data) = frame.into_data() {
            return Ok(Some(data));
        }
    }
    Ok(None)
}

/// Reads and drops the rest of a body of which `read` bytes were taken
/// already, then returns `err`. A body longer than `limit` is not read to
/// its end.
async fn discard_rest<B>(
    mut body: std::pin::Pin<&mut B>,
    read: usize,
    limit: usize,
    err: BodyError,
) -> Result<BoundedBody, BodyError>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: std::fmt::Display,
{
    let mut read = read;
    while let Some(data) = next_data(&mut body).await? {
        read += data.len();
        if read > limit {
            return Err(BodyError::TooLarge);
        }
    }
    Err(err)
}

/// Takes `bytes` more permits, for memory that the request holds besides
/// its body, such as the body decompressed.
pub(crate) fn take_permits(
    in_flight: &Arc<Semaphore>,
    bytes: usize,
) -> Result<OwnedSemaphorePermit, BodyError> {
    let count = u32::try_from(bytes).map_err(|_| BodyError::TooLarge)?;
    in_flight
        .clone()
        .try_acquire_many_owned(count)
        .map_err(|_| BodyError::Busy)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::Full;

    fn body(bytes: &'static [u8]) -> Full<Bytes> {
        Full::new(Bytes::from_static(bytes))
    }

    #[tokio::test]
    async fn body_within_limits_read_and_counted() {
        let in_flight = Arc::new(Semaphore::new(100));
        let read = read_bounded(body(b"0123456789"), None, 50, &in_flight)
            .await
            .unwrap();
        assert_eq!(&read.bytes[..], b"0123456789");
        assert_eq!(in_flight.available_permits(), 90);
        drop(read);
        assert_eq!(in_flight.available_permits(), 100);
    }

    #[tokio::test]
    async fn declared_length_over_limit_rejected() {
        let in_flight = Arc::new(Semaphore::new(100));
        let result = read_bounded(body(b"0123456789"), Some(60), 50, &in_flight).await;
        assert!(matches!(result, Err(BodyError::TooLarge)));
        assert_eq!(in_flight.available_permits(), 100);
    }

    #[tokio::test]
    async fn body_over_limit_rejected() {
        let in_flight = Arc::new(Semaphore::new(100));
        let result = read_bounded(body(b"0123456789"), None, 5, &in_flight).await;
        assert!(matches!(result, Err(BodyError::TooLarge)));
    }

    #[tokio::test]
    async fn exhausted_bound_answers_busy() {
        let in_flight = Arc::new(Semaphore::new(15));
        let first = read_bounded(body(b"0123456789"), Some(10), 50, &in_flight)
            .await
            .unwrap();
        let second = read_bounded(body(b"0123456789"), None, 50, &in_flight).await;
        assert!(matches!(second, Err(BodyError::Busy)));
        drop(first);
        assert!(
            read_bounded(body(b"0123456789"), None, 50, &in_flight)
                .await
                .is_ok()
        );
    }
}
