//! The hot path allocates nothing: decoding a 2100, and encoding its 2110
//! into a reused buffer, are counted by a wrapping global allocator.

// A global allocator must be an `unsafe impl GlobalAlloc`; this test file is
// the only place that needs one, to count allocations. It only forwards to
// `System`, so it adds no unsafety of its own.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::Path;

use antaca::iso8583::{Message, OutMessage, Spec};

struct Counting;

thread_local! {
    // Only the measuring thread counts, into its own counter: the test harness allocates on its
    // own threads meanwhile, and another test of this file may be measuring at the same moment (a
    // shared counter made `encoding_an_approval_into_a_reused_buffer_allocates_nothing` see the
    // allocation of `the_counter_sees_allocations` once in CI).
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn count() {
    // `try_with`: the allocator may run while this thread's locals are being torn down.
    if COUNTING.try_with(Cell::get).unwrap_or(false) {
        let _ = ALLOCATIONS.try_with(|allocations| allocations.set(allocations.get() + 1));
    }
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, which `System` shares.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: `ptr` was allocated by `System` through this wrapper with `layout`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` through this wrapper with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made by `work` on this thread.
fn allocations_in<T>(work: impl FnOnce() -> T) -> (usize, T) {
    ALLOCATIONS.with(|allocations| allocations.set(0));
    COUNTING.with(|counting| counting.set(true));
    let result = std::hint::black_box(work());
    COUNTING.with(|counting| counting.set(false));
    (ALLOCATIONS.with(Cell::get), result)
}

fn spec() -> Spec {
    Spec::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("specs/iso8583_2003_ascii.yaml")).unwrap()
}

fn fixture(name: &str) -> Vec<u8> {
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)).unwrap();
    let digits: String = text
        .lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .flat_map(|line| line.chars().filter(|c| !c.is_whitespace()))
        .collect();
    hex::decode(digits).unwrap()
}

#[test]
fn the_counter_sees_allocations() {
    let (count, vector) = allocations_in(|| vec![1u8; 64]);
    assert_eq!((count, vector.len()), (1, 64));
}

#[test]
fn decoding_an_authorization_allocates_nothing() {
    let spec = spec();
    let request = fixture("2100_authorization_pin_cvc2.hex");
    let (count, fields) = allocations_in(|| {
        let message = Message::decode(&spec, &request).unwrap();
        message.validate().unwrap();
        (
            message.positions().count(),
            message.u64(4),
            message.str(2).map(str::len),
        )
    });
    assert_eq!(fields, (18, Some(12_345), Some(16)));
    assert_eq!(count, 0, "Message::decode allocated");
}

#[test]
fn encoding_an_approval_into_a_reused_buffer_allocates_nothing() {
    const ECHOED: [usize; 12] = [2, 3, 4, 7, 11, 12, 24, 32, 37, 41, 42, 49];
    let spec = spec();
    let request_bytes = fixture("2100_authorization_pin_cvc2.hex");
    let expected = fixture("2110_approval.hex");
    let mut out = Vec::with_capacity(512);
    let (count, ()) = allocations_in(|| {
        for _ in 0..3 {
            let request = Message::decode(&spec, &request_bytes).unwrap();
            let mut balance = [0u8; 20];
            balance[..9].copy_from_slice(b"0002978C0");
            balance[9..].copy_from_slice(b"00000100000");
            let mut response = OutMessage::new(request.mti() + 10);
            response
                .echo(&request, &ECHOED)
                .set_text(38, b"A1B2C3")
                .set_number(39, 0)
                .set_text(54, &balance);
            response.encode_into(&spec, &mut out).unwrap();
        }
    });
    assert_eq!(out, expected);
    assert_eq!(count, 0, "encoding into a buffer with room allocated");
}
