//! Splitting a big answer into messages of at most [`MAX_MESSAGE`] bytes, as Tempo's query
//! frontend does (`max_grpc_streaming_packet_size`, 1 MiB by default): each segment carries a
//! run of the traces (or series) and the counters, so a client that appends the messages of a
//! stream, as Grafana does, gets the whole answer. gRPC clients refuse messages over 4 MiB unless
//! told otherwise, Grafana's Tempo data source included, and 50,000 search results are about
//! 10 MB.

use prost::Message;

use super::tempopb::{QueryRangeResponse, SearchResponse};

/// Most bytes of one message, Tempo's default.
pub(super) const MAX_MESSAGE: usize = 1 << 20;

/// A message that can be sent as several smaller ones.
pub(super) trait Segment: Message + Sized {
    /// `self` as messages of at most `max` bytes each (one item may be bigger alone).
    fn segment(self, max: usize) -> Vec<Self>;
}

impl Segment for SearchResponse {
    fn segment(self, max: usize) -> Vec<Self> {
        if self.encoded_len() <= max {
            return vec![self];
        }
        let metrics = self.metrics;
        runs(self.traces, max, |traces| SearchResponse {
            traces,
            metrics: metrics.clone(),
        })
    }
}

impl Segment for QueryRangeResponse {
    /// The status and message of a cut answer go with the last segment, as in Tempo.
    fn segment(self, max: usize) -> Vec<Self> {
        if self.encoded_len() <= max {
            return vec![self];
        }
        let metrics = self.metrics;
        let mut out = runs(self.series, max, |series| QueryRangeResponse {
            series,
            metrics: metrics.clone(),
            ..Default::default()
        });
        if let Some(last) = out.last_mut() {
            last.status = self.status;
            last.message = self.message;
        }
        out
    }
}

/// Splits `items` into runs whose messages, built by `make`, stay within `max` bytes.
fn runs<T: Message, M: Message>(items: Vec<T>, max: usize, make: impl Fn(Vec<T>) -> M) -> Vec<M> {
    let base = make(Vec::new()).encoded_len();
    let mut out = Vec::new();
    let (mut run, mut size) = (Vec::new(), base);
    for item in items {
        // A repeated field's entry: its tag byte, its length, then itself.
        let len = item.encoded_len();
        let len = 1 + prost::length_delimiter_len(len) + len;
        if !run.is_empty() && size + len > max {
            out.push(make(std::mem::take(&mut run)));
            size = base;
        }
        size += len;
        run.push(item);
    }
    out.push(make(run));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::grpc::tempopb::{SearchMetrics, TimeSeries, TraceSearchMetadata};

    fn search(traces: usize) -> SearchResponse {
        SearchResponse {
            traces: (0..traces)
                .map(|i| TraceSearchMetadata {
                    trace_id: format!("{i:032x}"),
                    root_service_name: "app-a".into(),
                    ..Default::default()
                })
                .collect(),
            metrics: Some(SearchMetrics {
                inspected_traces: 7,
                completed_jobs: 2,
                total_jobs: 2,
                ..Default::default()
            }),
        }
    }

    #[test]
    fn a_small_answer_is_one_message() {
        let answer = search(3);
        assert_eq!(answer.clone().segment(MAX_MESSAGE), vec![answer]);
    }

    #[test]
    fn a_big_search_answer_is_split_in_order_with_the_counters_in_each() {
        let answer = search(1000);
        let parts = answer.clone().segment(4096);
        assert!(parts.len() > 10, "{}", parts.len());
        assert!(parts.iter().all(|p| p.encoded_len() <= 4096));
        assert!(parts.iter().all(|p| p.metrics == answer.metrics));
        let joined: Vec<_> = parts.into_iter().flat_map(|p| p.traces).collect();
        assert_eq!(joined, answer.traces);
    }

    #[test]
    fn a_cut_metrics_answer_says_so_in_its_last_segment() {
        let answer = QueryRangeResponse {
            series: vec![TimeSeries::default(); 5000],
            status: 1,
            message: "cut".into(),
            ..Default::default()
        };
        let parts = answer.clone().segment(1000);
        assert!(parts.len() > 1);
        let (last, rest) = parts.split_last().unwrap();
        assert_eq!((last.status, last.message.as_str()), (1, "cut"));
        assert!(rest.iter().all(|p| p.status == 0 && p.message.is_empty()));
        assert_eq!(parts.iter().map(|p| p.series.len()).sum::<usize>(), 5000);
    }
}
