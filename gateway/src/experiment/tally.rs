//! Each gateway counts its experiments' traffic in memory and adds it to Redis every second,
//! where every gateway's counts meet: the users exposed and converted (so that a user is
//! counted once whichever gateway saw them), the calls and their failures, and the calls'
//! latencies (a histogram's buckets, summed). Signed-in users are kept in sets; anonymous
//! callers, who may be new on every request, only in HyperLogLogs (12 KB at most each) and,
//! for a conversion to find them, in a key per caller that expires.

use std::{
    collections::{HashMap, HashSet},
    time::Duration,
};

use hdrhistogram::Histogram;
use redis::Script;

use crate::store::Store;
use gateway_upstream::latency_histogram;

/// How long an anonymous caller's exposure is remembered for a conversion to count.
pub const ANONYMOUS_MEMORY: Duration = Duration::from_secs(7 * 24 * 3600);

/// Adds each subject (`ARGV[i]`) to the converted set if it is in the exposed one, else to
/// the anonymous converted count if its exposure (`KEYS[3 + i]`) is remembered.
const CONVERT: &str = r"
for i, subject in ipairs(ARGV) do
  if redis.call('SISMEMBER', KEYS[1], subject) == 1 then
    redis.call('SADD', KEYS[2], subject)
  elseif redis.call('EXISTS', KEYS[3 + i]) == 1 then
    redis.call('PFADD', KEYS[3], subject)
  end
end
return 1
";

/// The keys of one variant of experiment `id`'s counts: `exposed` and `converted` (sets),
/// `exposed-anonymous` and `converted-anonymous` (HyperLogLogs), `counts`, `latency`
/// (hashes), `seen:<subject>` (expiring).
pub fn key(store: &Store, id: &str, variant: usize, what: &str) -> String {
    store.key(&["experiment", id, &variant.to_string(), what])
}

/// One variant's traffic since the last flush.
#[derive(Debug)]
pub struct VariantCounts {
    exposed: HashSet<String>,
    anonymous: HashSet<String>,
    converted: HashSet<String>,
    requests: u64,
    errors: u64,
    latencies: Histogram<u64>,
}

impl Default for VariantCounts {
    fn default() -> Self {
        Self {
            exposed: HashSet::new(),
            anonymous: HashSet::new(),
            converted: HashSet::new(),
            requests: 0,
            errors: 0,
            latencies: latency_histogram(),
        }
    }
}

/// Every experiment's traffic since the last flush, by experiment id and variant.
#[derive(Debug, Default)]
pub struct Pending(HashMap<String, [VariantCounts; 2]>);

impl Pending {
    /// One call of the route, by `subject` (`anonymous` if a cookie's), in `variant`: a
    /// 5xx is an error, and only an answer that is not one exposes the user to the variant.
    pub fn call(
        &mut self,
        id: &str,
        variant: usize,
        (subject, anonymous): (&str, bool),
        status: u16,
        took: Duration,
    ) {
        let counts = &mut self.0.entry(id.to_owned()).or_default()[variant];
        counts.requests += 1;
        if status >= 500 {
            counts.errors += 1;
        } else if anonymous {
            counts.anonymous.insert(subject.to_owned());
        } else {
            counts.exposed.insert(subject.to_owned());
        }
        counts
            .latencies
            .saturating_record(u64::try_from(took.as_micros()).unwrap_or(u64::MAX));
    }

    /// A goal reached by `subject`, who falls in `variant`; it counts if they were exposed.
    pub fn convert(&mut self, id: &str, variant: usize, subject: &str) {
        self.0.entry(id.to_owned()).or_default()[variant]
            .converted
            .insert(subject.to_owned());
    }

    /// Whether nothing was counted.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Keeps the counts of the experiments whose id `keep` accepts.
    pub fn retain(&mut self, keep: impl Fn(&str) -> bool) {
        self.0.retain(|id, _| keep(id));
    }

    /// Adds everything to Redis; what could not be added is handed back.
    pub async fn flush(self, store: &Store) -> Result<(), Self> {
        let mut pipe = redis::pipe();
        let mut conversions = Vec::new();
        for (id, variants) in &self.0 {
            for (index, counts) in variants.iter().enumerate() {
                let key = |what: &str| key(store, id, index, what);
                if !counts.exposed.is_empty() {
                    pipe.sadd(key("exposed"), counts.exposed.iter().collect::<Vec<_>>())
                        .ignore();
                }
                if !counts.anonymous.is_empty() {
                    let subjects = counts.anonymous.iter().collect::<Vec<_>>();
                    pipe.pfadd(key("exposed-anonymous"), subjects).ignore();
                    for subject in &counts.anonymous {
                        pipe.set_ex(
                            key(&format!("seen:{subject}")),
                            1,
                            ANONYMOUS_MEMORY.as_secs(),
                        )
                        .ignore();
                    }
                }
                if counts.requests > 0 {
                    pipe.hincr(key("counts"), "requests", counts.requests)
                        .ignore();
                    pipe.hincr(key("counts"), "errors", counts.errors).ignore();
                    for value in counts.latencies.iter_recorded() {
                        pipe.hincr(
                            key("latency"),
                            value.value_iterated_to(),
                            value.count_at_value(),
                        )
                        .ignore();
                    }
                }
                if !counts.converted.is_empty() {
                    let subjects = counts.converted.iter().cloned().collect::<Vec<_>>();
                    let mut keys =
                        vec![key("exposed"), key("converted"), key("converted-anonymous")];
                    keys.extend(
                        subjects
                            .iter()
                            .map(|subject| key(&format!("seen:{subject}"))),
                    );
                    conversions.push((keys, subjects));
                }
            }
        }
        let written = store
            .run("experiment counts", |mut connection| async move {
                pipe.query_async::<()>(&mut connection).await?;
                // After the exposures: a view and an order in one second count together.
                for (keys, subjects) in conversions {
                    Script::new(CONVERT)
                        .key(keys)
                        .arg(subjects)
                        .invoke_async::<i64>(&mut connection)
                        .await?;
                }
                Ok(())
            })
            .await;
        written.ok_or(self)
    }

    /// Adds `other`'s counts to these (what a failed flush handed back).
    pub fn absorb(&mut self, other: Self) {
        for (id, variants) in other.0 {
            let mine = self.0.entry(id).or_default();
            for (mine, theirs) in mine.iter_mut().zip(variants) {
                mine.exposed.extend(theirs.exposed);
                mine.anonymous.extend(theirs.anonymous);
                mine.converted.extend(theirs.converted);
                mine.requests += theirs.requests;
                mine.errors += theirs.errors;
                let _ = mine.latencies.add(&theirs.latencies);
            }
        }
    }
}

/// What every gateway counted of one experiment.
#[derive(Debug)]
pub struct Totals {
    pub users: [u64; 2],
    pub converted: [u64; 2],
    pub requests: [u64; 2],
    pub errors: [u64; 2],
    /// Microseconds.
    pub latencies: [Histogram<u64>; 2],
}

type Counts = HashMap<String, u64>;

/// A variant's users, anonymous users, converted, anonymous converted, counts and latency.
type Read = (u64, u64, u64, u64, Counts, Counts);

/// The totals of experiment `id`; `None` when Redis does not answer.
pub async fn totals(store: &Store, id: &str) -> Option<Totals> {
    let mut pipes = [redis::pipe(), redis::pipe()];
    for (index, pipe) in pipes.iter_mut().enumerate() {
        let key = |what: &str| key(store, id, index, what);
        pipe.scard(key("exposed"))
            .pfcount(key("exposed-anonymous"))
            .scard(key("converted"))
            .pfcount(key("converted-anonymous"))
            .hgetall(key("counts"))
            .hgetall(key("latency"));
    }
    let [first, second] = pipes;
    let (first, second) = store
        .run("experiment totals", |mut connection| async move {
            let first: Read = first.query_async(&mut connection).await?;
            let second: Read = second.query_async(&mut connection).await?;
            Ok((first, second))
        })
        .await?;
    let first = (first.0 + first.1, first.2 + first.3, first.4, first.5);
    let second = (second.0 + second.1, second.2 + second.3, second.4, second.5);
    let latencies = |buckets: &Counts| {
        let mut all = latency_histogram();
        for (value, count) in buckets {
            if let Ok(value) = value.parse::<u64>() {
                let _ = all.record_n(value, *count);
            }
        }
        all
    };
    let count = |counts: &Counts, name: &str| counts.get(name).copied().unwrap_or(0);
    Some(Totals {
        users: [first.0, second.0],
        converted: [first.1, second.1],
        requests: [count(&first.2, "requests"), count(&second.2, "requests")],
        errors: [count(&first.2, "errors"), count(&second.2, "errors")],
        latencies: [latencies(&first.3), latencies(&second.3)],
    })
}
