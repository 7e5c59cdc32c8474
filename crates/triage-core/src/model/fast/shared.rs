//! A matrix that several pool threads write at once, each into its own part: column
//! panels of a matmul output, one head's slice of the attention context. Safe Rust cannot
//! express "thread 0 owns columns 0..192 of every row", so the type hands out raw writes
//! and the callers promise disjointness; the parts are fixed by the thread index alone
//! (see `forward.rs`), and a barrier separates writing from reading.

use std::marker::PhantomData;

/// A row-major `rows × cols` f32 matrix borrowed mutably for the duration of one pool job.
pub(crate) struct SharedMat<'a> {
    ptr: *mut f32,
    rows: usize,
    cols: usize,
    _borrow: PhantomData<&'a mut [f32]>,
}

// SAFETY: the matrix is only written through `write_row_range`/`row_mut`, whose callers
// guarantee that no two threads touch the same element between two barriers, and it is
// read (`row`) only after a barrier that orders every earlier write before the read.
unsafe impl Send for SharedMat<'_> {}
unsafe impl Sync for SharedMat<'_> {}

impl<'a> SharedMat<'a> {
    pub(crate) fn new(data: &'a mut [f32], rows: usize, cols: usize) -> Self {
        assert!(data.len() >= rows * cols, "buffer too small");
        Self {
            ptr: data.as_mut_ptr(),
            rows,
            cols,
            _borrow: PhantomData,
        }
    }

    pub(crate) fn rows(&self) -> usize {
        self.rows
    }

    pub(crate) fn cols(&self) -> usize {
        self.cols
    }

    /// Raw pointer to element `(row, col)` for a kernel that writes a block.
    ///
    /// # Safety
    /// The caller must be the only thread writing the elements it writes through this
    /// pointer until the next barrier, and must stay inside the matrix.
    pub(crate) unsafe fn ptr_at(&self, row: usize, col: usize) -> *mut f32 {
        debug_assert!(row <= self.rows && col <= self.cols);
        // SAFETY: in bounds of the allocation per the assertion in `new` (row ≤ rows).
        unsafe { self.ptr.add(row * self.cols + col) }
    }

    /// `cols` elements of one row starting at `col`, for writing.
    ///
    /// # Safety
    /// No other thread may read or write these elements until the next barrier.
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn slice_mut(&self, row: usize, col: usize, len: usize) -> &mut [f32] {
        assert!(row < self.rows && col + len <= self.cols, "out of bounds");
        // SAFETY: bounds checked above; exclusivity is the caller's promise.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(row * self.cols + col), len) }
    }

    /// The whole matrix for reading (call after the barrier that ends the phase writing
    /// it).
    ///
    /// # Safety
    /// No thread may write any part of the matrix concurrently.
    pub(crate) unsafe fn all(&self) -> &[f32] {
        // SAFETY: the allocation holds rows × cols elements (checked in `new`).
        unsafe { std::slice::from_raw_parts(self.ptr, self.rows * self.cols) }
    }
}
