//! Password hashes: argon2id with its default parameters (19 MiB of memory
//! and two passes per hash).
//!
//! Each hash holds its 19 MiB while it runs, and hashing is all computing:
//! running more hashes at once than there are cores makes none of them
//! faster, only the memory larger (a hundred people signing in at the same
//! moment would take 1.9 GB). So at most one hash per core runs at a time;
//! the others wait their turn.

use std::sync::{Condvar, Mutex, OnceLock, PoisonError};

use argon2::password_hash::{PasswordHasher, PasswordVerifier};

/// Turns to hash, one per core.
struct Turns {
    running: Mutex<usize>,
    freed: Condvar,
    most: usize,
}

/// A turn taken; given back when dropped.
struct Turn<'a>(&'a Turns);

impl Turns {
    fn new(most: usize) -> Turns {
        Turns {
            running: Mutex::new(0),
            freed: Condvar::new(),
            most,
        }
    }

    /// The process's turns: one per core.
    fn get() -> &'static Turns {
        static TURNS: OnceLock<Turns> = OnceLock::new();
        TURNS.get_or_init(|| {
            Turns::new(std::thread::available_parallelism().map_or(2, |cores| cores.get()))
        })
    }

    /// Waits for a turn (a count cannot be left wrong by a panic: poisoning
    /// is ignored).
    fn take(&self) -> Turn<'_> {
        let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        while *running >= self.most {
            running = self
                .freed
                .wait(running)
                .unwrap_or_else(PoisonError::into_inner);
        }
        *running += 1;
        Turn(self)
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        let mut running = self
            .0
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *running = running.saturating_sub(1);
        self.0.freed.notify_one();
    }
}

/// The hash of `password` to keep (PHC string form). Blocking: call it off
/// the async threads.
pub fn hash(password: &str) -> Result<String, argon2::password_hash::Error> {
    let _turn = Turns::get().take();
    let hash = argon2::Argon2::default().hash_password(password.as_bytes())?;
    Ok(hash.to_string())
}

/// Whether `password` is the one `hash` was made from; `None` (no account)
/// is checked against a hash of a random password, which takes as long.
/// Blocking: call it off the async threads.
pub fn matches(password: &str, hash: Option<&str>) -> bool {
    static NOBODY: OnceLock<Option<String>> = OnceLock::new();
    let nobody = NOBODY.get_or_init(|| {
        let random = crate::account_store::random_token().ok()?;
        self::hash(&random).ok()
    });
    let (Some(stored), known) = (hash.or(nobody.as_deref()), hash.is_some()) else {
        return false;
    };
    let _turn = Turns::get().take();
    let verified = argon2::Argon2::default().verify_password(password.as_bytes(), stored);
    known && verified.is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_matches_its_hash_only_and_no_account_matches_nothing() {
        let hash = hash("Calanques-de-Sormiou-7").expect("hash");
        assert!(matches("Calanques-de-Sormiou-7", Some(&hash)));
        assert!(!matches("calanques-de-sormiou-7", Some(&hash)));
        assert!(!matches("Calanques-de-Sormiou-7", None));
        assert!(!matches("", None));
    }

    #[test]
    fn no_more_hashes_run_at_once_than_there_are_turns() {
        let turns = &Turns::new(2);
        let most_seen = std::sync::atomic::AtomicUsize::new(0);
        std::thread::scope(|scope| {
            for _ in 0..(turns.most * 3) {
                scope.spawn(|| {
                    let _turn = turns.take();
                    let running = *turns.running.lock().expect("count");
                    most_seen.fetch_max(running, std::sync::atomic::Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_millis(20));
                });
            }
        });
        let seen = most_seen.into_inner();
        assert!(seen >= 1 && seen <= turns.most, "{seen} at once");
        assert_eq!(*turns.running.lock().expect("count"), 0);
    }
}
