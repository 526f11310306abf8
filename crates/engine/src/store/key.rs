//! The keyspace's key bytes in 16 bytes: inline up to [`INLINE`] bytes, else one heap allocation.
//!
//! Why: memory per key. A keyspace [`Node`](super::Node) is one allocation, and glibc malloc (which
//! the counting allocator forwards to) serves a 72-byte request from an 80-byte chunk but an 80-byte
//! one from a 96-byte chunk. With the 24-byte [`Blob`](super::Blob) as its key the node was 80 bytes;
//! with this 16-byte key it is 72, which saves 16 bytes per key (BENCHMARKS.md, "Memory"). A
//! `SmallVec` cannot be that small: it keeps a separate capacity word next to its 16 inline bytes.
//!
//! Layout (16 bytes, pointer-aligned): the last byte says which form the key has. Inline, it is the
//! length (0..=15) and the bytes come first. On the heap, it is [`HEAP`], the first 8 bytes are the
//! pointer of a `Box<[u8]>` and bytes 8..15 hold its length (56 bits: more than any address space).
//! A key is immutable once made, so there is no capacity to keep.

use std::fmt;
use std::ops::Deref;
use std::ptr::NonNull;

/// Longest key stored inline.
pub const INLINE: usize = 15;
/// The tag byte of a heap key (any value above [`INLINE`] would do).
const HEAP: u8 = 0xFF;

/// A key's bytes (see the module's documentation).
pub struct Key(Repr);

#[repr(C)]
union Repr {
    inline: [u8; 16],
    heap: Heap,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct Heap {
    ptr: NonNull<u8>,
    /// Length in bytes 0..7 (little-endian), [`HEAP`] in byte 7 (the key's last byte).
    meta: [u8; 8],
}

// SAFETY: a `Key` owns its bytes exclusively (like `Box<[u8]>`) and never mutates them after
// construction, so moving it to or sharing it with another thread is as safe as for `Box<[u8]>`.
unsafe impl Send for Key {}
// SAFETY: see above; `&Key` only gives out `&[u8]`.
unsafe impl Sync for Key {}

impl Key {
    /// A key holding a copy of `bytes`.
    pub fn from_slice(bytes: &[u8]) -> Key {
        let len = bytes.len();
        if len <= INLINE {
            let mut inline = [0u8; 16];
            inline[..len].copy_from_slice(bytes);
            inline[15] = len as u8;
            return Key(Repr { inline });
        }
        let boxed: Box<[u8]> = bytes.into();
        // A `Box<[u8]>` of length > 0 is never null; `NonNull::from` keeps that without a check.
        let ptr = NonNull::from(Box::leak(boxed)).cast::<u8>();
        let mut meta = (len as u64).to_le_bytes();
        // No allocation reaches 2^56 bytes (address spaces are at most 57 bits and half of that is
        // the kernel's), so the top byte of the length is free for the tag.
        meta[7] = HEAP;
        Key(Repr {
            heap: Heap { ptr, meta },
        })
    }

    #[inline]
    fn tag(&self) -> u8 {
        // SAFETY: every byte of the representation is initialized (inline keys are zero-filled; the
        // last byte of a heap key is `meta[7]`), and any byte is a valid `u8`.
        unsafe { self.0.inline[15] }
    }

    /// The key's bytes.
    #[inline]
    pub fn as_slice(&self) -> &[u8] {
        let tag = self.tag();
        if tag != HEAP {
            // SAFETY: an inline key's first `tag` (<= 15) bytes are its bytes.
            unsafe { self.0.inline.get_unchecked(..tag as usize) }
        } else {
            // SAFETY: a heap key's pointer and length are those of the `Box<[u8]>` it leaked and
            // still owns.
            unsafe { std::slice::from_raw_parts(self.0.heap.ptr.as_ptr(), self.heap_len()) }
        }
    }

    /// The length of a heap key.
    #[inline]
    fn heap_len(&self) -> usize {
        // SAFETY: only called on heap keys, whose `meta` is initialized.
        let mut meta = unsafe { self.0.heap.meta };
        meta[7] = 0;
        u64::from_le_bytes(meta) as usize
    }
}

impl Drop for Key {
    fn drop(&mut self) {
        if self.tag() == HEAP {
            let len = self.heap_len();
            // SAFETY: the pointer and length of the `Box<[u8]>` leaked in `from_slice`, dropped once.
            unsafe {
                let slice = std::ptr::slice_from_raw_parts_mut(self.0.heap.ptr.as_ptr(), len);
                drop(Box::from_raw(slice));
            }
        }
    }
}

impl Clone for Key {
    fn clone(&self) -> Key {
        Key::from_slice(self.as_slice())
    }
}

impl Deref for Key {
    type Target = [u8];

    #[inline]
    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl AsRef<[u8]> for Key {
    fn as_ref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Key) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for Key {}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key({:?})", String::from_utf8_lossy(self.as_slice()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_sixteen_bytes() {
        assert_eq!(std::mem::size_of::<Key>(), 16);
        assert_eq!(std::mem::align_of::<Key>(), std::mem::align_of::<usize>());
    }

    #[test]
    fn keeps_every_length_and_byte() {
        // Lengths around the inline limit, and every byte value (the tag byte is not data).
        for len in 0..=40usize {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + 255) as u8).collect();
            let k = Key::from_slice(&bytes);
            assert_eq!(k.as_slice(), &bytes[..], "length {len}");
            assert_eq!(&*k.clone(), &bytes[..]);
            assert_eq!(k, k.clone());
        }
        let ff = [0xFFu8; 15];
        assert_eq!(&*Key::from_slice(&ff), &ff[..]);
        let big = vec![7u8; 100_000];
        assert_eq!(&*Key::from_slice(&big), &big[..]);
    }

    #[test]
    fn moves_between_threads() {
        let keys: Vec<Key> = (0..100)
            .map(|i| Key::from_slice(format!("key-{i:030}").as_bytes()))
            .collect();
        let back = std::thread::spawn(move || keys).join().expect("thread");
        assert_eq!(&*back[42], format!("key-{:030}", 42).as_bytes());
    }
}
