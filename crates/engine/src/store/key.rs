//! The keyspace's key bytes in 17 bytes aligned to 1: inline up to [`INLINE`] bytes, else one heap
//! allocation.
//!
//! Why: memory per key. A keyspace [`Node`](super::Node) is one allocation, and glibc malloc (which
//! the counting allocator forwards to) serves a 72-byte request from an 80-byte chunk but an 80-byte
//! one from a 96-byte chunk. With the 24-byte [`Blob`](super::Blob) as its key the node was 80 bytes;
//! with this key it is 72, which saves 16 bytes per key (BENCHMARKS.md, "Memory"). A `SmallVec`
//! cannot do it: it keeps a word-sized capacity next to its 16 inline bytes, where this key keeps one
//! tag byte, and having alignment 1 the key fills the bytes the node's other fields leave over.
//!
//! Layout: 16 data bytes, then the tag. Inline, the tag is the length (0..=16) and the bytes come
//! first. On the heap, the tag is 0xFF, the data bytes hold the pointer of a `Box<[u8]>` and its
//! length (both unaligned). The data bytes are `MaybeUninit` so that moving a key keeps the pointer's
//! provenance. A key is immutable once made, so there is no capacity to keep.

use std::fmt;
use std::mem::MaybeUninit;
use std::ops::Deref;

/// Longest key stored inline.
pub const INLINE: usize = 16;
/// The tag of a heap key (any value above [`INLINE`] would do).
const HEAP: u8 = 0xFF;
const PTR: usize = std::mem::size_of::<*mut u8>();

/// A key's bytes (see the module's documentation).
#[repr(C)]
pub struct Key {
    data: [MaybeUninit<u8>; 16],
    tag: u8,
}

// SAFETY: a `Key` owns its bytes exclusively (like `Box<[u8]>`) and never mutates them after
// construction, so moving it to or sharing it with another thread is as safe as for `Box<[u8]>`.
unsafe impl Send for Key {}
// SAFETY: see above; `&Key` only gives out `&[u8]`.
unsafe impl Sync for Key {}

impl Key {
    /// A key holding a copy of `bytes`.
    pub fn from_slice(bytes: &[u8]) -> Key {
        let mut data = [MaybeUninit::new(0u8); 16];
        let len = bytes.len();
        if len <= INLINE {
            // SAFETY: `len` <= 16 bytes into the 16 data bytes; the two never overlap.
            unsafe {
                std::ptr::copy_nonoverlapping(bytes.as_ptr(), data.as_mut_ptr().cast::<u8>(), len);
            }
            return Key {
                data,
                tag: len as u8,
            };
        }
        let ptr = Box::into_raw(Box::<[u8]>::from(bytes)).cast::<u8>();
        let base = data.as_mut_ptr();
        // SAFETY: 16 bytes hold a pointer and a `usize` (64-bit and 32-bit targets alike); the
        // writes are unaligned because the key has alignment 1.
        unsafe {
            base.cast::<*mut u8>().write_unaligned(ptr);
            base.add(PTR).cast::<usize>().write_unaligned(len);
        }
        Key { data, tag: HEAP }
    }

    /// The pointer and length of a heap key.
    #[inline]
    fn heap(&self) -> (*mut u8, usize) {
        let base = self.data.as_ptr();
        // SAFETY: a heap key's data bytes were written by `from_slice` as a pointer and a length.
        unsafe {
            (
                base.cast::<*mut u8>().read_unaligned(),
                base.add(PTR).cast::<usize>().read_unaligned(),
            )
        }
    }

    /// The key's bytes.
    #[inline]
    pub fn as_slice(&self) -> &[u8] {
        if self.tag != HEAP {
            // SAFETY: an inline key's first `tag` (<= 16) data bytes are initialized: its bytes.
            unsafe {
                std::slice::from_raw_parts(self.data.as_ptr().cast::<u8>(), self.tag as usize)
            }
        } else {
            let (ptr, len) = self.heap();
            // SAFETY: the pointer and length of the `Box<[u8]>` this key still owns.
            unsafe { std::slice::from_raw_parts(ptr, len) }
        }
    }
}

impl Drop for Key {
    fn drop(&mut self) {
        if self.tag == HEAP {
            let (ptr, len) = self.heap();
            // SAFETY: the `Box<[u8]>` made in `from_slice`, dropped once (keys are never copied).
            unsafe { drop(Box::from_raw(std::ptr::slice_from_raw_parts_mut(ptr, len))) }
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
    fn is_seventeen_bytes_aligned_to_one() {
        assert_eq!(std::mem::size_of::<Key>(), 17);
        assert_eq!(std::mem::align_of::<Key>(), 1);
    }

    #[test]
    fn keeps_every_length_and_byte() {
        // Lengths around the inline limit, and every byte value (the tag is not data).
        for len in 0..=40usize {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + 255) as u8).collect();
            let k = Key::from_slice(&bytes);
            assert_eq!(k.as_slice(), &bytes[..], "length {len}");
            assert_eq!(&*k.clone(), &bytes[..]);
            assert_eq!(k, k.clone());
        }
        let ff = [0xFFu8; 16];
        assert_eq!(&*Key::from_slice(&ff), &ff[..]);
        let big = vec![7u8; 100_000];
        assert_eq!(&*Key::from_slice(&big), &big[..]);
    }

    #[test]
    fn moves_between_threads_and_unaligned_places() {
        let keys: Vec<Key> = (0..100)
            .map(|i| Key::from_slice(format!("key-{i:030}").as_bytes()))
            .collect();
        let back = std::thread::spawn(move || keys).join().expect("thread");
        assert_eq!(&*back[42], format!("key-{:030}", 42).as_bytes());
        // A key at an odd offset (as inside a node) still reads its heap pointer.
        let packed: Vec<(u8, Key)> = back.into_iter().map(|k| (1, k)).collect();
        assert_eq!(&*packed[7].1, format!("key-{:030}", 7).as_bytes());
    }
}
