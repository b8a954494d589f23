//! The clients of the HA run: workers spread over the accountd instances, each creating
//! accounts with an `Idempotency-Key` and reading back what was acknowledged. A create that
//! gets no 201 (an error status, a timeout, a dropped connection) is retried with the same
//! key and body until it is acknowledged, as a client following `Retry-After` would (sooner,
//! every 100 ms, so the figures resolve the window finely). Every answer is recorded.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// How long a client waits for one answer before giving up on it (and retrying a create).
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);
const RETRY_EVERY: Duration = Duration::from_millis(100);

/// One answer, or its absence.
#[derive(Debug, Clone)]
pub struct Answer {
    pub sent: Instant,
    pub took: Duration,
    pub write: bool,
    /// The HTTP status; 0 when no answer came (connection refused or reset, timeout).
    pub status: u16,
}

impl Answer {
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    pub fn done(&self) -> Instant {
        self.sent + self.took
    }
}

/// What happened to one idempotency key.
#[derive(Debug, Clone, Default)]
pub struct KeyOutcome {
    pub name: String,
    /// The ids of every 201 answered for this key (the first and any replays).
    pub acknowledged: Vec<String>,
    /// Attempts made before the first acknowledgement (or in all, when there was none).
    pub attempts: u32,
    /// Some attempt before the acknowledgement got no answer at all or a 5xx: the create may
    /// or may not have been applied then, so the retry tests at-most-once.
    pub ambiguous: bool,
}

#[derive(Debug, Default)]
pub struct Record {
    pub answers: Vec<Answer>,
    pub keys: HashMap<String, KeyOutcome>,
    /// Reads of an acknowledged account that answered 404: a lost write.
    pub lost_reads: Vec<String>,
}

/// Runs `workers` clients against `bases` (each `http://addr`) until `stop` is set.
pub async fn run(bases: Vec<String>, token: String, workers: usize, run_id: String, stop: Arc<AtomicBool>) -> Record {
    let record = Arc::new(Mutex::new(Record::default()));
    let http = reqwest::Client::builder()
        .timeout(CLIENT_TIMEOUT)
        .default_headers(
            [(reqwest::header::AUTHORIZATION, format!("Bearer {token}").parse().expect("token header"))]
                .into_iter()
                .collect(),
        )
        .build()
        .expect("http client");
    let mut tasks = Vec::new();
    for worker in 0..workers {
        let base = bases[worker % bases.len()].clone();
        let (http, record, stop, run_id) = (http.clone(), record.clone(), stop.clone(), run_id.clone());
        tasks.push(tokio::spawn(async move { work(worker, &base, &http, &record, &stop, &run_id).await }));
    }
    for task in tasks {
        let _ = task.await;
    }
    Arc::try_unwrap(record).map(|m| m.into_inner().unwrap_or_default()).unwrap_or_default()
}

async fn work(
    worker: usize,
    base: &str,
    http: &reqwest::Client,
    record: &Mutex<Record>,
    stop: &AtomicBool,
    run_id: &str,
) {
    let mut sequence = 0u64;
    while !stop.load(Ordering::Relaxed) {
        sequence += 1;
        let key = format!("{run_id}-{worker}-{sequence}");
        let name = format!("ha-{worker}-{sequence}");
        let mut outcome = KeyOutcome { name: name.clone(), ..KeyOutcome::default() };
        // Retry until acknowledged; a key whose create was never acknowledged when the run
        // ends is left as it is (at most one account may exist for it).
        let id = loop {
            outcome.attempts += 1;
            let (answer, id) = create(http, base, &key, &name).await;
            let status = answer.status;
            record.lock().expect("record").answers.push(answer);
            if let Some(id) = id {
                outcome.acknowledged.push(id.clone());
                break Some(id);
            }
            if status == 0 || status >= 500 {
                outcome.ambiguous = true;
            }
            if stop.load(Ordering::Relaxed) {
                break None;
            }
            tokio::time::sleep(RETRY_EVERY).await;
        };
        // After an ambiguous failure, one more replay: it must answer what the acknowledged
        // attempt answered.
        if id.is_some() && outcome.ambiguous {
            let (answer, again) = create(http, base, &key, &name).await;
            record.lock().expect("record").answers.push(answer);
            outcome.acknowledged.extend(again);
        }
        record.lock().expect("record").keys.insert(key, outcome);
        if let Some(id) = id {
            let sent = Instant::now();
            let status = match http.get(format!("{base}/v1/accounts/{id}")).send().await {
                Ok(reply) => reply.status().as_u16(),
                Err(_) => 0,
            };
            let mut record = record.lock().expect("record");
            record.answers.push(Answer { sent, took: sent.elapsed(), write: false, status });
            if status == 404 {
                record.lost_reads.push(id);
            }
        }
    }
}

/// One create attempt: its answer and, on 201, the account's id.
async fn create(http: &reqwest::Client, base: &str, key: &str, name: &str) -> (Answer, Option<String>) {
    let sent = Instant::now();
    let reply = http
        .post(format!("{base}/v1/accounts"))
        .header("idempotency-key", key)
        .json(&json!({ "name": name }))
        .send()
        .await;
    let (status, id) = match reply {
        Ok(reply) => {
            let status = reply.status().as_u16();
            let body: Value = reply.json().await.unwrap_or(Value::Null);
            let id = (status == 201).then(|| body["id"].as_str().map(str::to_owned)).flatten();
            (status, id)
        }
        Err(_) => (0, None),
    };
    (Answer { sent, took: sent.elapsed(), write: true, status }, id)
}

/// What the clients saw around one event (a failover) that happened at `at`, from the
/// answers that came between `at` and `until` (by when they were answered, so a request in
/// flight when the event happened counts for it).
#[derive(Debug, Clone)]
pub struct Window {
    /// The time during which some client was waiting on a request that then failed: the
    /// union of the failed answers' [sent, answered] intervals.
    pub unavailable: Duration,
    /// From the event to the end of the last failed answer.
    pub last_failure_after: Duration,
    /// From the event to the first write acknowledged after the last failure.
    pub recovered_after: Duration,
    /// Failed answers by status (0: no answer).
    pub statuses: Vec<(u16, usize)>,
    pub failed: usize,
    pub total: usize,
    /// The longest a failed request waited for its answer.
    pub longest_failure: Duration,
}

pub fn window(answers: &[Answer], at: Instant, until: Instant) -> Window {
    let during: Vec<&Answer> = answers.iter().filter(|a| a.done() >= at && a.done() < until).collect();
    let mut failed: Vec<&Answer> = during.iter().copied().filter(|a| !a.ok()).collect();
    failed.sort_by_key(|a| a.sent);
    let mut unavailable = Duration::ZERO;
    let mut open: Option<(Instant, Instant)> = None;
    for answer in &failed {
        open = match open {
            Some((start, end)) if answer.sent <= end => Some((start, end.max(answer.done()))),
            Some((start, end)) => {
                unavailable += end - start;
                Some((answer.sent, answer.done()))
            }
            None => Some((answer.sent, answer.done())),
        };
    }
    if let Some((start, end)) = open {
        unavailable += end - start;
    }
    let last_failure_end = failed.iter().map(|a| a.done()).max();
    let last_failure_sent = failed.iter().map(|a| a.sent).max().unwrap_or(at);
    let recovered = during.iter().filter(|a| a.write && a.ok() && a.sent >= last_failure_sent).map(|a| a.done()).min();
    let mut statuses: HashMap<u16, usize> = HashMap::new();
    for answer in &failed {
        *statuses.entry(answer.status).or_default() += 1;
    }
    let mut statuses: Vec<(u16, usize)> = statuses.into_iter().collect();
    statuses.sort_unstable();
    let since = |t: Option<Instant>| t.map_or(Duration::ZERO, |t| t.saturating_duration_since(at));
    Window {
        unavailable,
        last_failure_after: since(last_failure_end),
        recovered_after: since(recovered),
        statuses,
        failed: failed.len(),
        total: during.len(),
        longest_failure: failed.iter().map(|a| a.took).max().unwrap_or_default(),
    }
}

/// Every answer as CSV: milliseconds since `start` when sent, milliseconds taken, kind,
/// status (0: no answer).
pub fn csv(answers: &[Answer], start: Instant) -> String {
    let mut sorted: Vec<&Answer> = answers.iter().collect();
    sorted.sort_by_key(|a| a.sent);
    let mut text = String::from("sent_ms,took_ms,kind,status\n");
    for a in sorted {
        let kind = if a.write { "create" } else { "read" };
        text.push_str(&format!(
            "{},{},{kind},{}\n",
            a.sent.saturating_duration_since(start).as_millis(),
            a.took.as_millis(),
            a.status
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(start: Instant, sent_ms: u64, took_ms: u64, status: u16) -> Answer {
        Answer {
            sent: start + Duration::from_millis(sent_ms),
            took: Duration::from_millis(took_ms),
            write: true,
            status,
        }
    }

    #[test]
    fn the_window_is_the_union_of_failing_requests_counted_where_they_were_answered() {
        let start = Instant::now();
        let answers = [
            answer(start, 900, 50, 201),
            // In flight at the event (1000 ms), answered after it: counts for it.
            answer(start, 950, 300, 503),
            answer(start, 1100, 1000, 503),
            answer(start, 3000, 500, 503),
            answer(start, 3600, 20, 201),
            answer(start, 4000, 20, 201),
        ];
        let window = window(&answers, start + Duration::from_millis(1000), start + Duration::from_secs(10));
        assert_eq!(window.failed, 3);
        assert_eq!(window.total, 5);
        // 950–2100 and 3000–3500.
        assert_eq!(window.unavailable, Duration::from_millis(1650));
        assert_eq!(window.last_failure_after, Duration::from_millis(2500));
        assert_eq!(window.recovered_after, Duration::from_millis(2620));
        assert_eq!(window.statuses, [(503, 3)]);
        assert_eq!(window.longest_failure, Duration::from_millis(1000));
    }

    #[test]
    fn a_window_without_failures_is_empty() {
        let start = Instant::now();
        let window = window(&[answer(start, 10, 5, 201)], start, start + Duration::from_secs(1));
        assert_eq!((window.failed, window.unavailable), (0, Duration::ZERO));
        assert_eq!(window.recovered_after, Duration::from_millis(15), "the first acknowledged write after the event");
    }
}
