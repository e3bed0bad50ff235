//! Fault injection: answers that replace routing for the next requests.

use crate::http::{Reply, Response};

/// Faults applied, in this order, to every request received after [`crate::FixtureHub::set_faults`]
/// (before routing, whatever the path). Counters go down by one per request they answer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Faults {
    /// Answer the next N requests with `fail_status` and a JSON error body.
    pub fail_next: usize,
    /// The status `fail_next` answers with (e.g. 500, 503); 0 means 500.
    pub fail_status: u16,
    /// Answer the next N requests with 429 and the Hub's rate-limit headers (checked before
    /// `fail_next`).
    pub rate_limit_next: usize,
    /// Seconds announced by `Retry-After` and `RateLimit: …;t=` on 429 answers.
    pub retry_after_secs: u64,
    /// Read and record each request, then never answer (the socket stays open until the hub
    /// is dropped). Checked first, and stays on until cleared.
    pub stall: bool,
    /// Flip one byte (the first) of every file body served (resolve and CDN, whole or range)
    /// while set: a corrupting server or proxy. Stays on until cleared.
    pub corrupt_body: bool,
    /// Cut the next N file bodies after `cut_body_after` bytes: the connection is closed
    /// (or, with `cut_body_stall`, held open without sending more), as a dropped or stalled
    /// transfer.
    pub cut_body_next: usize,
    /// Body bytes sent before a cut.
    pub cut_body_after: u64,
    /// Whether a cut stalls (holds the socket silently) instead of closing it.
    pub cut_body_stall: bool,
}

/// What happens to one file body as it is written (see [`Faults::take_body`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct BodyFault {
    /// Flip the first byte.
    pub corrupt: bool,
    /// Stop after this many bytes.
    pub cut_after: Option<u64>,
    /// After the cut, hold the connection instead of closing it.
    pub stall: bool,
}

impl Faults {
    /// Consumes the body fault for one file body, if any is armed.
    pub(crate) fn take_body(&mut self) -> BodyFault {
        let mut fault = BodyFault {
            corrupt: self.corrupt_body,
            ..BodyFault::default()
        };
        if self.cut_body_next > 0 {
            self.cut_body_next -= 1;
            fault.cut_after = Some(self.cut_body_after);
            fault.stall = self.cut_body_stall;
        }
        fault
    }

    /// Consumes the fault for one request, if any is armed.
    pub(crate) fn take(&mut self) -> Option<Reply> {
        if self.stall {
            return Some(Reply::Stall);
        }
        if self.rate_limit_next > 0 {
            self.rate_limit_next -= 1;
            let secs = self.retry_after_secs;
            return Some(Reply::Respond(
                Response::json_error(
                    429,
                    "You have exceeded the rate limit for repository API requests (500 per 5 minutes). \
                     Please retry later.",
                )
                .header("Retry-After", &secs.to_string())
                .header("RateLimit", &format!("\"api\";r=0;t={secs}"))
                .header("RateLimit-Policy", "\"fixed window\";\"api\";q=500;w=300"),
            ));
        }
        if self.fail_next > 0 {
            self.fail_next -= 1;
            let status = if self.fail_status == 0 {
                500
            } else {
                self.fail_status
            };
            return Some(Reply::Respond(Response::json_error(
                status,
                "Internal Error - We're working hard to fix this as soon as possible!",
            )));
        }
        None
    }
}
