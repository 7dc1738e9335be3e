//! The personalized page's body: the origin's stream through the rewriter, chunk by chunk,
//! telling at its end what the page showed. A body the origin cut is never delivered as a
//! complete page. In explain mode the page is rewritten whole first ([`rewritten_whole`]), so
//! that the report can say what the page got.

use std::cell::RefCell;
use std::rc::Rc;

use futures_util::StreamExt;
use worker::{console_error, Headers, Response, ResponseBody};

use crate::decide::OnPage;
use crate::rewrite::{rewrite_whole, Charset, RewritePlan, RewriteStats, Rewriter};

/// The origin's body rewritten by `plan`, as a 200 with `headers`; the origin response itself
/// when its body cannot be read as a stream. What the page showed goes to `shown` when the
/// body ends whole (never when it was cut, or the shopper left: `shown` is dropped then).
pub fn rewritten(
    origin: Response,
    plan: &RewritePlan<'static>,
    charset: Charset,
    headers: Headers,
    shown: super::shown::Sender,
) -> Response {
    let buffer = Rc::new(RefCell::new(Vec::<u8>::new()));
    let sink = buffer.clone();
    let rewriter = Rewriter::with_charset(plan, charset, move |c: &[u8]| {
        if let Ok(mut b) = sink.try_borrow_mut() {
            b.extend_from_slice(c);
        }
    });
    // NOTE: unsupported charsets pass through before this point (`origin::rewritable`).
    let Ok(rewriter) = rewriter else {
        return origin;
    };
    let expected_len = undecoded_length(&origin);
    // NOTE: the raw body stream, not `Response::stream()`: that one reports a body that failed
    // with "aborted" as a clean end, and a cut page would be delivered as complete.
    let source = match origin.body() {
        ResponseBody::Stream(raw) => wasm_streams::ReadableStream::from_raw(raw.clone())
            .into_stream()
            .map(|chunk| {
                chunk
                    .map(|c| worker::js_sys::Uint8Array::new(&c).to_vec())
                    .map_err(|e| worker::Error::from(e).to_string())
            }),
        _ => {
            console_error!("vitrine: origin body is not a stream; serving the origin page");
            return origin;
        }
    };
    let take = move |b: &Rc<RefCell<Vec<u8>>>| {
        b.try_borrow_mut()
            .map(|mut v| std::mem::take(&mut *v))
            .unwrap_or_default()
    };
    let body = futures_util::stream::unfold(
        (source, Some(rewriter), buffer, 0u64, Some(shown)),
        move |(mut src, mut rw, buf, mut read, shown)| async move {
            let done = shown.is_none();
            if done {
                return None;
            }
            loop {
                match src.next().await {
                    Some(Ok(chunk)) => {
                        read += chunk.len() as u64;
                        if let Some(r) = rw.as_mut() {
                            r.write(&chunk);
                        }
                        let out = take(&buf);
                        if !out.is_empty() {
                            return Some((Ok(out), (src, rw, buf, read, shown)));
                        }
                    }
                    end => {
                        // A broken origin body must not become a complete page: the response
                        // is errored, never ended cleanly.
                        let cut = match end {
                            Some(Err(e)) => Some(e),
                            _ => expected_len
                                .filter(|want| read < *want)
                                .map(|want| format!("{read} of {want} bytes")),
                        };
                        if let Some(why) = cut {
                            console_error!("vitrine: origin body failed mid-stream ({why}); aborting the response");
                            return Some((
                                Err(worker::Error::RustError(format!("origin body cut: {why}"))),
                                (src, None, buf, read, None),
                            ));
                        }
                        if let (Some(r), Some(shown)) = (rw.take(), shown) {
                            shown.send(ended(r.end()));
                        }
                        let out = take(&buf);
                        return if out.is_empty() {
                            None
                        } else {
                            Some((Ok(out), (src, rw, buf, read, None)))
                        };
                    }
                }
            }
        },
    );
    match Response::from_stream(body) {
        Ok(r) => r.with_status(200).with_headers(headers),
        Err(e) => {
            // NOTE: unreachable in practice (wrapping a Rust stream as a ReadableStream); the
            // origin body is already taken, so the best left is an empty page, not a 5xx.
            console_error!("vitrine: cannot build the response stream ({e})");
            Response::builder().with_status(200).empty()
        }
    }
}

/// The end of a rewrite: its bail-out logged, what the page showed.
fn ended(stats: RewriteStats) -> Vec<OnPage> {
    if let Some(b) = stats.bailed_out {
        console_error!("vitrine: rewrite bailed out ({b}); the rest passed through unchanged");
    }
    stats.slots
}

/// The origin's body, read whole (explain mode); `Err` when it cannot be, or was cut.
pub async fn read_whole(origin: &mut Response) -> Result<Vec<u8>, String> {
    let expected_len = undecoded_length(origin);
    let bytes = origin.bytes().await.map_err(|e| e.to_string())?;
    match expected_len {
        Some(want) if (bytes.len() as u64) < want => {
            Err(format!("{} of {want} bytes", bytes.len()))
        }
        _ => Ok(bytes),
    }
}

/// A page read whole, rewritten by `plan` (explain mode: the report then says what the page
/// got).
pub fn rewritten_whole(
    bytes: &[u8],
    plan: &RewritePlan<'static>,
    charset: Charset,
) -> Result<(Vec<u8>, Vec<OnPage>), String> {
    // NOTE: unsupported charsets pass through before this point (`origin::rewritable`).
    let (out, stats) =
        rewrite_whole(plan, charset, bytes).ok_or_else(|| "unsupported charset".to_string())?;
    Ok((out, ended(stats)))
}

/// Inserts `html` before the page's last `</body` (any case), or at its end without one: the
/// ASCII script of the debug overlay, after the rewrite (any ASCII-compatible charset).
pub fn insert_before_body_end(page: &mut Vec<u8>, html: &[u8]) {
    let at = page
        .windows(6)
        .rposition(|w| w.eq_ignore_ascii_case(b"</body"))
        .unwrap_or(page.len());
    page.splice(at..at, html.iter().copied());
}

/// The length a body the runtime did not decode must reach: a shorter one was cut.
fn undecoded_length(origin: &Response) -> Option<u64> {
    let header_of = |name: &str| origin.headers().get(name).ok().flatten();
    let identity = header_of("content-encoding")
        .is_none_or(|e| e.trim().is_empty() || e.trim().eq_ignore_ascii_case("identity"));
    header_of("content-length")
        .filter(|_| identity)
        .and_then(|l| l.trim().parse::<u64>().ok())
}
