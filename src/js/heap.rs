//! The allocator of a scope's runtime: Rust's global allocator (so the memory a
//! function takes counts with the server's), with the scope's heap limit enforced
//! here, where a refused allocation is known for what it is (QuickJS may have no
//! memory left to describe it: its exception is then `null`).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use rquickjs::allocator::{Allocator, RustAllocator};

/// What a heap has allocated, and whether it refused an allocation.
#[derive(Default)]
pub(super) struct Usage {
    used: AtomicUsize,
    refused: AtomicBool,
}

impl Usage {
    /// Whether an allocation was refused since the last call (and forgets it).
    pub(super) fn take_refused(&self) -> bool {
        self.refused.swap(false, Ordering::Relaxed)
    }
}

pub(super) struct Heap {
    limit: usize,
    usage: Arc<Usage>,
}

impl Heap {
    pub(super) fn new(limit: usize) -> (Heap, Arc<Usage>) {
        let usage = Arc::new(Usage::default());
        (Heap { limit, usage: Arc::clone(&usage) }, usage)
    }

    /// Takes `grow` more bytes if the limit allows, else records the refusal.
    fn admit(&self, grow: usize) -> bool {
        let used = self.usage.used.load(Ordering::Relaxed);
        if used.saturating_add(grow) > self.limit {
            self.usage.refused.store(true, Ordering::Relaxed);
            return false;
        }
        self.usage.used.store(used + grow, Ordering::Relaxed);
        true
    }

    fn release(&self, bytes: usize) {
        let used = self.usage.used.load(Ordering::Relaxed);
        self.usage.used.store(used.saturating_sub(bytes), Ordering::Relaxed);
    }
}

// SAFETY: every pointer is allocated and freed by `RustAllocator`, whose contract
// this forwards unchanged; the accounting only decides whether to call it.
unsafe impl Allocator for Heap {
    fn alloc(&mut self, size: usize) -> *mut u8 {
        if !self.admit(size) {
            return std::ptr::null_mut();
        }
        let ptr = RustAllocator.alloc(size);
        // Account what the allocation really holds (the size rounded up).
        self.release(size);
        if !ptr.is_null() {
            self.usage.used.fetch_add(unsafe { RustAllocator::usable_size(ptr) }, Ordering::Relaxed);
        }
        ptr
    }

    fn calloc(&mut self, count: usize, size: usize) -> *mut u8 {
        let Some(total) = count.checked_mul(size) else { return std::ptr::null_mut() };
        if !self.admit(total) {
            return std::ptr::null_mut();
        }
        let ptr = RustAllocator.calloc(count, size);
        self.release(total);
        if !ptr.is_null() {
            self.usage.used.fetch_add(unsafe { RustAllocator::usable_size(ptr) }, Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn dealloc(&mut self, ptr: *mut u8) {
        if !ptr.is_null() {
            self.release(unsafe { RustAllocator::usable_size(ptr) });
        }
        unsafe { RustAllocator.dealloc(ptr) }
    }

    unsafe fn realloc(&mut self, ptr: *mut u8, new_size: usize) -> *mut u8 {
        if ptr.is_null() {
            return self.alloc(new_size);
        }
        if new_size == 0 {
            unsafe { self.dealloc(ptr) };
            return std::ptr::null_mut();
        }
        let old = unsafe { RustAllocator::usable_size(ptr) };
        let grow = new_size.saturating_sub(old);
        if !self.admit(grow) {
            return std::ptr::null_mut();
        }
        let moved = unsafe { RustAllocator.realloc(ptr, new_size) };
        self.release(grow);
        if !moved.is_null() {
            // The old block is gone and the new one holds its usable size.
            self.release(old);
            self.usage.used.fetch_add(unsafe { RustAllocator::usable_size(moved) }, Ordering::Relaxed);
        }
        moved
    }

    unsafe fn usable_size(ptr: *mut u8) -> usize {
        unsafe { RustAllocator::usable_size(ptr) }
    }
}
