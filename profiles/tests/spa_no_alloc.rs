//! The server's packet path must not allocate: `spa::decode` of junk, of a
//! packet with a bad HMAC, and of a valid packet makes no heap allocation,
//! and neither does the replay check once its cache exists. Counted with a
//! global allocator that tallies the allocations of the current thread.
//!
//! `unsafe` is needed here only to implement `GlobalAlloc`, which forwards
//! to the system allocator unchanged.
#![allow(unsafe_code)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use knock_profiles::spa::{
    self, AllowIp, EncryptionKey, HmacKey, Message, PortList, SpaKeys, Username,
};
use knock_profiles::spa_replay::ReplayCache;

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: every call is forwarded to `System` with the same arguments; the
// counter is a const-initialised thread-local that never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: forwarded unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: forwarded unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations_in(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

#[test]
fn the_packet_path_does_not_allocate() {
    let keys = SpaKeys {
        encryption: EncryptionKey::new(vec![1; 32]).unwrap(),
        hmac: HmacKey::new(vec![2; 64]).unwrap(),
    };
    let msg = Message::new(
        Username::new("alice").unwrap(),
        AllowIp::Source,
        PortList::parse("tcp/22,udp/53").unwrap(),
        None,
        1_796_141_766,
    )
    .unwrap();
    let good = spa::encode(&msg, &keys).unwrap().into_bytes();
    let mut bad_hmac = good.clone();
    let last = bad_hmac.len() - 1;
    bad_hmac[last] = if bad_hmac[last] == b'A' { b'B' } else { b'A' };
    let junk = vec![b'x'; 700];
    let binary = vec![0xffu8; 300];
    let mut cache = ReplayCache::new(64, 120);
    let wrong_key = SpaKeys {
        encryption: EncryptionKey::new(vec![3; 32]).unwrap(),
        hmac: keys.hmac.clone(),
    };

    let n = allocations_in(|| {
        assert_eq!(spa::decode(&good, &keys), Ok(msg));
        assert!(spa::decode(&bad_hmac, &keys).is_err());
        assert!(spa::decode(&junk, &keys).is_err());
        assert!(spa::decode(&binary, &keys).is_err());
        assert_eq!(spa::decode(&good, &wrong_key), Err(spa::SpaError::Decrypt));
        let digest = spa::replay_digest(&good);
        assert!(
            cache
                .accept(&digest, msg.timestamp, msg.timestamp + 1)
                .is_ok()
        );
        assert!(
            cache
                .accept(&digest, msg.timestamp, msg.timestamp + 2)
                .is_err()
        );
    });
    assert_eq!(n, 0, "the packet path allocated {n} times");

    // The counter works: an allocation is seen.
    assert!(allocations_in(|| drop(std::hint::black_box(vec![0u8; 16]))) > 0);
}
