//! The errors hyper answers by itself, before any handler runs (a URL over 64 KB, too many
//! or too large headers, a request line or header it cannot read), given an OperationOutcome
//! body like every other error: hyper writes them with an empty body and closes the
//! connection, and nothing in hyper or axum lets a server change that answer.
//! Spec: https://hl7.org/fhir/R4/http.html ("errors … SHOULD include an OperationOutcome").
//!
//! Each accepted connection's writes pass through [`WithOutcomeBodies`], which recognises
//! hyper's answer by its shape: a 4xx status, `connection: close`, `content-length: 0`, and
//! nothing after the head. Ember's own 4xx answers always carry an OperationOutcome, so no
//! answer of Ember's has that shape.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::serve::Listener;
use engine::Issue;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::negotiation::FHIR_JSON;

/// A listener whose connections answer hyper's own errors with an OperationOutcome.
pub struct OutcomeListener<L>(pub L);

impl<L: Listener> Listener for OutcomeListener<L> {
    type Io = WithOutcomeBodies<L::Io>;
    type Addr = L::Addr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (io, address) = self.0.accept().await;
        (
            WithOutcomeBodies {
                inner: io,
                rewritten: None,
            },
            address,
        )
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.0.local_addr()
    }
}

/// A connection whose writes are passed on unchanged, except hyper's bodiless error answers.
pub struct WithOutcomeBodies<S> {
    inner: S,
    /// An answer written in place of hyper's, and how much of it is written so far.
    rewritten: Option<(Vec<u8>, usize)>,
}

impl<S: AsyncRead + Unpin> AsyncRead for WithOutcomeBodies<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffer: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(context, buffer)
    }
}

impl<S: AsyncWrite + Unpin> WithOutcomeBodies<S> {
    /// Writes the rewritten answer whole, then reports hyper's `reported` bytes written.
    fn poll_rewritten(
        &mut self,
        context: &mut Context<'_>,
        reported: usize,
    ) -> Poll<io::Result<usize>> {
        while let Some((bytes, written)) = &mut self.rewritten {
            if *written == bytes.len() {
                self.rewritten = None;
                return Poll::Ready(Ok(reported));
            }
            match Pin::new(&mut self.inner).poll_write(context, &bytes[*written..]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(count)) => *written += count,
                Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(reported))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for WithOutcomeBodies<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffer: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.rewritten.is_none() {
            match with_outcome(buffer) {
                Some(answer) => this.rewritten = Some((answer, 0)),
                None => return Pin::new(&mut this.inner).poll_write(context, buffer),
            }
        }
        this.poll_rewritten(context, buffer.len())
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffers: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.rewritten.is_none() {
            // hyper's answer is a head alone, in one buffer.
            let mut filled = buffers.iter().filter(|buffer| !buffer.is_empty());
            let answer = match (filled.next(), filled.next()) {
                (Some(only), None) => with_outcome(only),
                _ => None,
            };
            match answer {
                Some(answer) => this.rewritten = Some((answer, 0)),
                None => return Pin::new(&mut this.inner).poll_write_vectored(context, buffers),
            }
        }
        let reported = buffers.iter().map(|buffer| buffer.len()).sum();
        this.poll_rewritten(context, reported)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(context)
    }

    fn poll_shutdown(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(context)
    }
}

/// hyper's bodiless error answer in `written`, with an OperationOutcome body; `None` for
/// anything else.
fn with_outcome(written: &[u8]) -> Option<Vec<u8>> {
    // Every write passes here: most are told apart by their first and last bytes.
    if !written.starts_with(b"HTTP/1.1 4")
        || !written.ends_with(b"\r\n\r\n")
        || written.len() > 1024
    {
        return None;
    }
    let head = std::str::from_utf8(written).ok()?;
    let head = head.strip_suffix("\r\n\r\n")?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let status = status_line.strip_prefix("HTTP/1.1 4")?;
    let headers: Vec<&str> = lines.collect();
    if !headers.contains(&"connection: close") || !headers.contains(&"content-length: 0") {
        return None;
    }
    let (code, diagnostics) = match &status[..2] {
        "14" => (
            "too-long",
            "The request's URL is longer than this server reads (64 KB); send a long search as \
             POST [type]/_search with a form body",
        ),
        "31" => (
            "too-long",
            "The request's headers are too many or too large for this server",
        ),
        _ => (
            "structure",
            "The request is not valid HTTP/1.1: its request line or a header could not be read",
        ),
    };
    let body = engine::operation_outcome(&[Issue::error(code, diagnostics)]);
    let mut answer = format!("{status_line}\r\n");
    for header in headers
        .iter()
        .filter(|header| **header != "content-length: 0")
    {
        answer.push_str(header);
        answer.push_str("\r\n");
    }
    answer.push_str(&format!(
        "content-type: {FHIR_JSON}\r\ncontent-length: {}\r\n\r\n",
        body.len()
    ));
    let mut answer = answer.into_bytes();
    answer.extend_from_slice(&body);
    Some(answer)
}

#[cfg(test)]
mod tests {
    use super::with_outcome;

    #[test]
    fn hypers_bodiless_errors_get_an_operation_outcome_and_nothing_else_changes() {
        let canned = b"HTTP/1.1 414 URI Too Long\r\nconnection: close\r\ncontent-length: 0\r\ndate: Mon, 07 Dec 2026 16:56:26 GMT\r\n\r\n";
        let answer = String::from_utf8(with_outcome(canned).expect("rewritten")).unwrap();
        let (head, body) = answer.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 414 URI Too Long\r\nconnection: close\r\n"));
        assert!(head.contains("date: Mon, 07 Dec 2026"));
        assert!(head.contains(&format!("content-length: {}", body.len())));
        assert!(body.starts_with(r#"{"resourceType":"OperationOutcome""#));

        let ours = b"HTTP/1.1 404 Not Found\r\ncontent-type: application/fhir+json\r\ncontent-length: 120\r\n\r\n";
        assert!(with_outcome(ours).is_none());
        let ok = b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 0\r\n\r\n";
        assert!(with_outcome(ok).is_none());
    }
}
