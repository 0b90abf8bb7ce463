//! argon2id with bounded memory: a fixed number of hashing workers, each hashing into its own
//! memory block (argon2's ~19 MiB), allocated once on its first job and reused for every later
//! one, behind a bounded queue. A burst of sign-ups or logins therefore holds at most
//! `workers × 19 MiB` for hashing, whatever the concurrency; past the queue, [`HashError::Busy`]
//! (503 `OVERLOADED`) instead of waiting without limit. Hashing on tokio's blocking pool instead
//! let each of its (up to 512) threads allocate a block in its own malloc arena, which glibc keeps:
//! 1.4 GB after 1,000 registrations.

use std::sync::{Arc, Mutex};

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash as Phc, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use async_trait::async_trait;
use tokio::sync::{mpsc, oneshot, OnceCell};
use tollgate_domain::Password;
use tollgate_ports::{HashError, PasswordHash, PasswordHasher};

/// How many hashes may wait for a worker, and how many workers hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashingLimits {
    pub workers: usize,
    pub queue: usize,
}

/// A worker's job: run on its memory.
type Job = Box<dyn FnOnce(&mut Memory) + Send>;

/// One worker's argon2 memory for the default parameters, allocated on its first job and kept.
#[derive(Default)]
struct Memory(Vec<Block>);

/// The most a stored hash may ask for: 4× the default memory, 10 passes, 4 lanes. Only this
/// service writes the hashes, so anything beyond is broken data, refused before allocating.
const MAX_BLOCKS: u32 = 4 * Params::DEFAULT_M_COST;
const MAX_PASSES: u32 = 10;
const MAX_LANES: u32 = 4;

impl Memory {
    /// Runs `hash` on `params.block_count()` blocks: the kept block for the default size, a
    /// temporary one (freed after) for a stored hash made with other parameters.
    fn with_blocks<R>(
        &mut self,
        params: &Params,
        hash: impl FnOnce(&mut [Block]) -> R,
    ) -> Result<R, HashError> {
        let blocks = params.block_count();
        if blocks == Params::default().block_count() {
            if self.0.len() != blocks {
                self.0 = allocate(blocks)?;
            }
            return Ok(hash(&mut self.0));
        }
        Ok(hash(&mut allocate(blocks)?))
    }
}

/// `blocks` zeroed blocks, or an error instead of aborting when memory is short.
fn allocate(blocks: usize) -> Result<Vec<Block>, HashError> {
    let mut memory = Vec::new();
    memory.try_reserve_exact(blocks).map_err(HashError::failed)?;
    memory.resize(blocks, Block::new());
    Ok(memory)
}

/// argon2id with the crate's default (OWASP-recommended) parameters, on [`HashingLimits`]
/// workers.
#[derive(Clone)]
pub struct Argon2Hasher {
    jobs: mpsc::Sender<Job>,
    /// Hash of a random password, compared against when the email is unknown so both paths
    /// cost the same (made by a worker on first need).
    dummy: Arc<OnceCell<String>>,
}

impl Argon2Hasher {
    /// Starts `limits.workers` hashing threads (at least one). They hold no memory until they
    /// hash, and stop when the last clone of the hasher is dropped.
    pub fn new(limits: HashingLimits) -> Result<Self, HashError> {
        let (jobs, queue) = mpsc::channel::<Job>(limits.queue.max(1));
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..limits.workers.max(1) {
            let queue = Arc::clone(&queue);
            std::thread::Builder::new()
                .name(format!("tollgate-hash-{n}"))
                .spawn(move || {
                    let mut memory = Memory::default();
                    loop {
                        // One worker waits on the queue at a time; the others wait on the lock.
                        let job = match queue.lock() {
                            Ok(mut queue) => queue.blocking_recv(),
                            Err(_) => None,
                        };
                        let Some(job) = job else { break };
                        // A panicking job answers nothing (its caller gets an error) and never
                        // takes the worker with it.
                        let run = std::panic::AssertUnwindSafe(|| job(&mut memory));
                        if std::panic::catch_unwind(run).is_err() {
                            tracing::error!("a password-hashing job panicked; the worker goes on");
                            memory = Memory::default();
                        }
                    }
                })
                .map_err(HashError::failed)?;
        }
        Ok(Self { jobs, dummy: Arc::new(OnceCell::new()) })
    }

    /// Runs `work` on a worker's memory; [`HashError::Busy`] at once when the queue is full.
    async fn on_worker<R: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Memory) -> R + Send + 'static,
    ) -> Result<R, HashError> {
        let (answer, answered) = oneshot::channel();
        let job: Job = Box::new(move |memory| {
            // Nobody waits any more (the client left): the worker moves on to the next one.
            if !answer.is_closed() {
                let _ = answer.send(work(memory));
            }
        });
        self.jobs.try_send(job).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => HashError::Busy,
            mpsc::error::TrySendError::Closed(_) => HashError::failed("the hashing workers stopped"),
        })?;
        answered.await.map_err(|_| HashError::failed("a hashing worker stopped"))
    }

    async fn dummy(&self) -> Result<String, HashError> {
        let dummy = self
            .dummy
            .get_or_try_init(|| async {
                let mut seed = [0u8; 32];
                getrandom::fill(&mut seed).map_err(HashError::failed)?;
                self.on_worker(move |memory| hash_into(memory, &seed)).await?
            })
            .await?;
        Ok(dummy.clone())
    }
}

/// A PHC string (`$argon2id$v=19$m=19456,t=2,p=1$salt$hash`) of `password` with a random salt,
/// hashed into `memory`.
fn hash_into(memory: &mut Memory, password: &[u8]) -> Result<String, HashError> {
    let params = Params::default();
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(HashError::failed)?;
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    memory
        .with_blocks(&params, |blocks| {
            argon2.hash_password_into_with_memory(password, &salt, &mut out, blocks)
        })?
        .map_err(HashError::failed)?;
    let phc = Phc {
        algorithm: argon2::ARGON2ID_IDENT,
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(HashError::failed)?,
        salt: Some(Salt::new(&salt).map_err(HashError::failed)?),
        hash: Some(Output::new(&out).map_err(HashError::failed)?),
    };
    Ok(phc.to_string())
}

/// Whether `password` hashes, with the stored hash's own parameters and salt, to the stored
/// hash (compared in constant time).
fn verify_into(memory: &mut Memory, password: &[u8], stored: &str) -> Result<bool, HashError> {
    let parsed = Phc::new(stored).map_err(HashError::failed)?;
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
        return Err(HashError::failed("a stored hash without salt or output"));
    };
    let algorithm = Algorithm::try_from(parsed.algorithm.as_str()).map_err(HashError::failed)?;
    let version = parsed.version.map_or(Ok(Version::V0x13), Version::try_from).map_err(HashError::failed)?;
    let params = Params::try_from(&parsed).map_err(HashError::failed)?;
    if params.m_cost() > MAX_BLOCKS || params.t_cost() > MAX_PASSES || params.p_cost() > MAX_LANES {
        return Err(HashError::failed(
            "a stored hash asks for more memory or time than this service ever uses",
        ));
    }
    let mut out = vec![0u8; expected.len()];
    let argon2 = Argon2::new(algorithm, version, params.clone());
    memory
        .with_blocks(&params, |blocks| {
            argon2.hash_password_into_with_memory(password, salt, &mut out, blocks)
        })?
        .map_err(HashError::failed)?;
    // `Output`'s equality is constant-time.
    Ok(Output::new(&out).map_err(HashError::failed)? == *expected)
}

#[async_trait]
impl PasswordHasher for Argon2Hasher {
    async fn hash(&self, password: &Password) -> Result<PasswordHash, HashError> {
        let secret = password.expose().to_owned();
        self.on_worker(move |memory| hash_into(memory, secret.as_bytes())).await?.map(PasswordHash)
    }

    async fn verify(&self, password: &Password, hash: Option<PasswordHash>) -> Result<bool, HashError> {
        let secret = password.expose().to_owned();
        let (stored, real) = match hash {
            Some(h) => (h.0, true),
            None => (self.dummy().await?, false),
        };
        let matches = self.on_worker(move |memory| verify_into(memory, secret.as_bytes(), &stored)).await??;
        Ok(matches && real)
    }
}

#[cfg(test)]
mod tests {
    use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};

    use super::*;

    fn hasher() -> Argon2Hasher {
        Argon2Hasher::new(HashingLimits { workers: 2, queue: 8 }).expect("hasher")
    }

    #[tokio::test]
    async fn a_hash_verifies_its_password_and_nothing_else() {
        let hasher = hasher();
        let password = Password::parse("correct horse battery").expect("valid");
        let hash = hasher.hash(&password).await.expect("hashed");
        assert!(hash.0.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{}", hash.0);
        assert!(hasher.verify(&password, Some(hash.clone())).await.expect("verified"));
        let wrong = Password::parse("wrong horse battery").expect("valid");
        assert!(!hasher.verify(&wrong, Some(hash)).await.expect("verified"));
    }

    #[tokio::test]
    async fn hashes_agree_with_the_argon2_crates_own_hasher_both_ways() {
        let hasher = hasher();
        let password = Password::parse("correct horse battery").expect("valid");
        // Ours, checked by the crate's verifier.
        let ours = hasher.hash(&password).await.expect("hashed");
        let parsed = Phc::new(&ours.0).expect("a PHC string");
        assert!(Argon2::default().verify_password(b"correct horse battery", &parsed).is_ok());
        // The crate's (as stored before the workers), and one with other parameters, checked by ours.
        let theirs = Argon2::default().hash_password(b"correct horse battery").expect("hashed").to_string();
        assert!(hasher.verify(&password, Some(PasswordHash(theirs))).await.expect("verified"));
        let cheaper = Argon2::from(Params::new(8192, 3, 1, None).expect("params"))
            .hash_password(b"correct horse battery")
            .expect("hashed")
            .to_string();
        assert!(hasher.verify(&password, Some(PasswordHash(cheaper.clone()))).await.expect("verified"));
        let wrong = Password::parse("wrong horse battery").expect("valid");
        assert!(!hasher.verify(&wrong, Some(PasswordHash(cheaper))).await.expect("verified"));
    }

    #[tokio::test]
    async fn the_dummy_comparison_never_succeeds() {
        let hasher = hasher();
        let password = Password::parse("anything at all").expect("valid");
        assert!(!hasher.verify(&password, None).await.expect("verified"));
        assert!(!hasher.verify(&password, None).await.expect("verified again, with the same dummy"));
    }

    #[tokio::test]
    async fn two_hashes_of_one_password_differ_by_their_salt() {
        let hasher = hasher();
        let password = Password::parse("correct horse battery").expect("valid");
        assert_ne!(hasher.hash(&password).await.expect("a"), hasher.hash(&password).await.expect("b"));
    }

    #[tokio::test]
    async fn a_broken_stored_hash_is_an_error_not_a_match() {
        let hasher = hasher();
        let password = Password::parse("correct horse battery").expect("valid");
        let broken = PasswordHash("$argon2id$x".into());
        assert!(matches!(hasher.verify(&password, Some(broken)).await, Err(HashError::Failed(_))));
        // Parameters this service never writes are refused before any memory is allocated (4 TiB
        // here would abort the process).
        let ours = hasher.hash(&password).await.expect("hashed").0;
        for (from, to) in [("m=19456", "m=4294967295"), ("t=2", "t=4000"), ("p=1", "p=64")] {
            let huge = PasswordHash(ours.replace(from, to));
            assert!(matches!(hasher.verify(&password, Some(huge)).await, Err(HashError::Failed(_))), "{to}");
        }
        // The workers are all still there.
        assert!(hasher.verify(&password, Some(PasswordHash(ours))).await.expect("verified"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn past_the_queue_hashing_is_refused_at_once_and_nothing_waits_without_limit() {
        let hasher = Argon2Hasher::new(HashingLimits { workers: 1, queue: 2 }).expect("hasher");
        let password = Password::parse("correct horse battery").expect("valid");
        // One hashing, two waiting: the next ones are refused while they last.
        let calls: Vec<_> = (0..32)
            .map(|_| {
                let (hasher, password) = (hasher.clone(), password.clone());
                tokio::spawn(async move { hasher.hash(&password).await })
            })
            .collect();
        let mut hashed = 0;
        let mut busy = 0;
        for call in calls {
            match call.await.expect("joined") {
                Ok(_) => hashed += 1,
                Err(HashError::Busy) => busy += 1,
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(hashed + busy, 32);
        assert!(
            busy > 0 && hashed >= 2,
            "one hashing and two queued at a time: {hashed} hashed, {busy} refused"
        );
        // Once the burst has passed, hashing works again.
        assert!(hasher.hash(&password).await.is_ok());
    }
}
